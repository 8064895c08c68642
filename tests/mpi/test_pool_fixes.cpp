// Fixes found while reorganising libpool: the pool refuses a thread that may not call MPI, and a
// finished result does not wait behind a long later task of its batch.

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "pool_tasks.hpp"

using namespace pool_tests;
using libpool::Executor;
using libpool::Options;

TEST(ThreadMain, ExecutorOnAnotherThreadIsRefused) {
  // Every rank tries on a thread of its own: each refuses before any collective, so all agree.
  std::string error;
  std::thread other([&] {
    try {
      Executor ex(registry());
      error = "no error";
    } catch (const libpool::Error& e) {
      error = e.what();
    }
  });
  other.join();
  EXPECT_NE(error.find("create the Executor on the thread that initialised MPI"), std::string::npos)
      << error;
  // The main thread still makes a working pool.
  Executor ex(registry());
  if (ex.is_master()) {
    EXPECT_EQ(ex.submit(square, 9).get(), 81);
  }
}

TEST(Batching, ShortResultIsNotHeldBehindALongTaskOfItsBatch) {
  if (world_size() != 2) GTEST_SKIP() << "needs exactly one worker rank to build one batch";
  Options opt;
  opt.master_works = libpool::MasterWorks::No;
  opt.prefetch = 4;
  Executor ex(registry(), opt);
  if (!ex.is_master()) return;
  const auto t0 = std::chrono::steady_clock::now();
  // The first task goes out alone and keeps the worker's task thread busy, so the next two
  // queue up and travel together in one batch message, which the task thread runs in order.
  auto busy = ex.submit(sleep_then, 300);
  auto tiny = ex.submit(square, 3);
  auto slow = ex.submit(sleep_then, 3000);
  EXPECT_EQ(tiny.get(), 9);
  // Its result came back while the long task of its batch still runs (before the fix it
  // travelled with that task's result, 3 s later).
  EXPECT_FALSE(slow.done());
  EXPECT_LT(seconds_since(t0), 2.5);
  EXPECT_EQ(busy.get(), 300);
  EXPECT_EQ(slow.get(), 3000);
  EXPECT_EQ(tiny.info().rank, 1);
  EXPECT_EQ(slow.info().rank, 1);
}
