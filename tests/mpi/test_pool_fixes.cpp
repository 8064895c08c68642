// Fixes found while reorganising libpool (the pool refuses a thread that may not call MPI, a
// finished result does not wait behind a long later task of its batch), Python parity (futures as
// keys, errors naming the submit position) and keeping tasks off rank 0.

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

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

TEST(Parity, FutureIsAKey) {
  Executor ex(registry());
  if (!ex.is_master()) return;
  // The tutorial's pattern: futures = {executor.submit(f, x): x for x in xs}; futures[future].
  std::unordered_map<libpool::Future<std::int64_t>, std::int64_t> futures;
  std::vector<libpool::Future<std::int64_t>> fs;
  for (std::int64_t x = 0; x < 20; ++x) {
    auto f = ex.submit(square, x);
    futures[f] = x;
    fs.push_back(f);
  }
  EXPECT_EQ(futures.size(), 20u);
  std::size_t seen = 0;
  for (const auto& done : libpool::as_completed(fs)) {
    const std::int64_t x = futures.at(done);
    EXPECT_EQ(done.get(), x * x);
    ++seen;
  }
  EXPECT_EQ(seen, 20u);
  // A copy is the same key; another future is another key.
  const auto copy = fs[7];
  EXPECT_EQ(futures.at(copy), 7);
  EXPECT_EQ(std::hash<libpool::Future<std::int64_t>>{}(copy),
            std::hash<libpool::Future<std::int64_t>>{}(fs[7]));
  EXPECT_FALSE(copy == fs[8]);
}

TEST(Parity, ErrorNamesTheSubmitPosition) {
  Executor ex(registry());
  if (!ex.is_master()) return;
  // A map before it numbers its chunks on its own: the submit count is the caller's.
  EXPECT_EQ(
      ex.map(square, {.chunksize = 3}, libpool::iota<std::int64_t>(0, 100)).to_vector().size(),
      100u);
  std::vector<libpool::Future<std::int64_t>> fs;
  for (std::int64_t x : {1, 2, 3, 5, 6}) fs.push_back(ex.submit(risky, x));  // risky(5) throws
  try {
    fs[3].get();
    FAIL() << "risky(5) did not throw";
  } catch (const libpool::RemoteInfo& e) {
    EXPECT_EQ(e.chunk(), 3u);
    EXPECT_NE(e.description().find("task test.risky, submit #3:"), std::string::npos)
        << e.description();
  }
  EXPECT_EQ(fs[4].get(), 36);
}

TEST(MasterWorks, NoKeepsMapsOffRankZero) {
  // Rank 0 only dispatches; on one rank there is no other, so it runs the tasks itself.
  Options opt;
  opt.master_works = libpool::MasterWorks::No;
  Executor ex(registry(), opt);
  if (!ex.is_master()) return;
  const auto ranks = ex.map(my_rank, {.chunksize = 7}, libpool::iota(0, 200)).to_vector();
  ASSERT_EQ(ranks.size(), 200u);
  for (int r : ranks) {
    if (ex.size() == 1) {
      EXPECT_EQ(r, 0);
    } else {
      EXPECT_NE(r, 0);
    }
  }
  auto chunks = ex.map_spans(span_count, libpool::Span{0, 1000}, {.chunksize = 50});
  for (auto& c : chunks) EXPECT_EQ(c.info.rank == 0, ex.size() == 1);
}
