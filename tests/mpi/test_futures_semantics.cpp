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

// One task per worker at a time: everything else stays queued on the master.
Options one_task_per_worker() {
  Options opt;
  opt.prefetch = 0;
  return opt;
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

// ---------------------------------------------------------------------------------------------
// add_done_callback on a finished future: called at once; an exception is logged and ignored.

TEST(FuturesSemantics, CallbackOnAFinishedFutureThatThrowsIsLoggedAndIgnored) {
  Executor ex(registry());
  if (!ex.is_master()) return;
  auto f = ex.submit(square, 6);
  EXPECT_EQ(f.get(), 36);
  int called = 0;
  testing::internal::CaptureStderr();
  EXPECT_NO_THROW(f.add_done_callback([&](const Future<std::int64_t>&) {
    ++called;
    throw std::runtime_error("callback failed on a finished future");
  }));
  EXPECT_NO_THROW(f.add_done_callback([&](const Future<std::int64_t>& g) {
    ++called;
    throw g.get();  // not even a std::exception
  }));
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(called, 2) << "both callbacks ran at once";
  EXPECT_NE(err.find("callback failed on a finished future"), std::string::npos) << err;
  // A cancelled future is finished too (at most two tasks per worker leave the queue at first).
  std::vector<Future<std::int64_t>> busy;
  for (std::size_t i = 0; i < 4 * ex.workers(); ++i) busy.push_back(ex.submit(sleep_then, 20));
  auto queued = ex.submit(sleep_then, 20);
  if (queued.cancel()) {
    testing::internal::CaptureStderr();
    EXPECT_NO_THROW(queued.add_done_callback([&](const auto& g) {
      ++called;
      if (g.cancelled()) throw std::logic_error("cancelled, and the callback threw");
    }));
    EXPECT_NE(testing::internal::GetCapturedStderr().find("cancelled, and the callback threw"),
              std::string::npos);
    EXPECT_EQ(called, 3);
  }
  for (auto& g : busy) EXPECT_EQ(g.get(), 20);
  EXPECT_EQ(ex.submit(square, 7).get(), 49) << "the pool is unaffected";
}

TEST(FuturesSemantics, CallbacksRunInTheOrderTheyWereAdded) {
  Executor ex(registry());
  if (!ex.is_master()) return;
  std::vector<int> order;
  auto f = ex.submit(sleep_then, 20);
  f.add_done_callback([&](const auto&) { order.push_back(1); });
  f.add_done_callback([&](const auto&) { order.push_back(2); });
  f.wait();
  f.add_done_callback([&](const auto&) { order.push_back(3); });
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

TEST(FuturesSemantics, ACallbackAddedDuringNotificationRunsAfterTheEarlierOnes) {
  // Results often arrive several in one message: the master records them all, then runs their
  // callbacks. A callback that adds one to another future of the same batch (done, its own
  // callbacks not run yet) must see it run after those, in the order added.
  Options opt;
  opt.prefetch = 15;
  Executor ex(registry(), opt);
  if (!ex.is_master()) return;
  constexpr int kN = 256;
  std::vector<Future<std::int64_t>> fs;
  for (int i = 0; i < kN; ++i) fs.push_back(ex.submit(square, i));
  std::vector<std::vector<int>> calls(kN);  // per future: 1 = added first, 2 = added later
  std::vector<bool> added_later(kN, false);
  for (int i = 0; i < kN; ++i) {
    fs[i].add_done_callback([&, i](const auto&) {
      calls[i].push_back(1);
      for (int j = 0; j < kN; ++j) {
        if (j == i || added_later[j] || !fs[j].done()) continue;
        added_later[j] = true;
        fs[j].add_done_callback([&, j](const auto&) { calls[j].push_back(2); });
      }
    });
  }
  for (auto& f : fs) f.wait();
  for (int j = 0; j < kN; ++j) {
    if (added_later[j]) {
      EXPECT_EQ(calls[j], (std::vector<int>{1, 2})) << "future " << j;
    } else {
      EXPECT_EQ(calls[j], (std::vector<int>{1})) << "future " << j;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// map over an item that cannot be encoded: the items before it are yielded, the error is raised
// when iteration reaches it (the error is stored like submit's), and map() itself does not throw.

TEST(FuturesSemantics, MapYieldsTheItemsBeforeOneThatCannotBeEncoded) {
  Executor ex(registry());
  if (!ex.is_master()) return;
  const Boom ok{}, bad{Where::Encode};
  for (std::size_t chunksize : {1u, 2u}) {
    // chunks of 2: [ok ok] [ok bad] [ok]: raised at the failing chunk's first item.
    std::vector<Boom> args = {ok, ok, ok, bad, ok};
    const std::size_t before = chunksize == 1 ? 3 : 2;
    std::vector<Boom> seen;
    try {
      auto results = ex.map(echo_boom, {.chunksize = chunksize}, args);
      for (const auto& b : results) seen.push_back(b);
      ADD_FAILURE() << "the unencodable item raised nothing (chunksize " << chunksize << ")";
    } catch (const libpool::RemoteInfo& e) {
      ADD_FAILURE() << "the item fails on the master, not on a worker: " << e.description();
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "boom while encoding");
    }
    EXPECT_EQ(seen.size(), before) << "chunksize " << chunksize;
  }
  // The very first item: map() returns, iterating raises. The same for the unordered map.
  std::vector<Boom> first_bad = {bad, ok};
  auto where_it_throws = [](auto make) -> std::string {
    try {
      auto results = make();
      try {
        results.to_vector();
      } catch (const std::runtime_error&) {
        return "iteration";
      }
      return "nowhere";
    } catch (const std::runtime_error&) {
      return "map()";
    }
  };
  EXPECT_EQ(where_it_throws([&] { return ex.map(echo_boom, {.chunksize = 1}, first_bad); }),
            "iteration");
  EXPECT_EQ(
      where_it_throws([&] { return ex.map_unordered(echo_boom, {.chunksize = 1}, first_bad); }),
      "iteration");
  // The pool goes on.
  std::vector<Boom> fine = {ok, ok, ok};
  EXPECT_EQ(ex.map(echo_boom, fine).to_vector().size(), 3u);
}

// ---------------------------------------------------------------------------------------------
// Leaving the executor's scope by an exception is shutdown(wait=True): queued work completes,
// as Python's `with` does; and no rank is left waiting.

TEST(FuturesSemantics, LeavingTheScopeByAnExceptionDrainsQueuedWork) {
  std::vector<Future<std::int64_t>> fs;
  bool master = false;
  try {
    Executor ex(registry(), one_task_per_worker());
    master = ex.is_master();
    if (master) {
      for (std::size_t i = 0; i < 6 * ex.workers(); ++i) fs.push_back(ex.submit(sleep_then, 20));
      throw std::runtime_error("master gave up");
    }
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "master gave up");
  }
  if (master) {
    ASSERT_FALSE(fs.empty());
    for (auto& f : fs) {
      ASSERT_TRUE(f.done());
      EXPECT_FALSE(f.cancelled()) << "queued work was cancelled instead of completed";
      if (!f.cancelled()) {
        EXPECT_EQ(f.get(), 20);
      }
    }
  }
  // Every rank is out of the old pool and builds the next one.
  Executor ex(registry());
  if (ex.is_master()) {
    EXPECT_EQ(ex.submit(square, 11).get(), 121);
  }
}

TEST(FuturesSemantics, LeavingTheScopeOfABrokenPoolIsPrompt) {
  // The last rank's initializer fails when it runs again after 2 tasks: the pool breaks, the
  // master unwinds with BrokenPool. Queued work is failed, not run: the exit takes about one
  // task, not the whole queue (12 tasks of 100 ms per worker).
  Options opt = one_task_per_worker();
  opt.initializer(fail_second_time_on, world_size() - 1, 2);
  opt.max_tasks_per_worker = 2;
  std::vector<Future<std::int64_t>> fs;
  double unwind_s = -1;
  std::chrono::steady_clock::time_point t0;
  bool master = false;
  try {
    Executor ex(registry(), opt);
    master = ex.is_master();
    if (master) {
      for (std::size_t i = 0; i < 12 * ex.workers(); ++i) {
        fs.push_back(ex.submit(sleep_then, 100));
      }
      for (auto& f : fs) {
        try {
          f.get();
        } catch (const libpool::BrokenPool&) {
          t0 = std::chrono::steady_clock::now();
          throw;
        }
      }
    }
  } catch (const libpool::BrokenPool& e) {
    unwind_s = seconds_since(t0);
    EXPECT_NE(std::string(e.what()).find("disk went away"), std::string::npos) << e.what();
  }
  if (master) {
    ASSERT_GE(unwind_s, 0) << "the pool did not break";
    EXPECT_LT(unwind_s, 0.6) << "the broken pool's exit waited for queued work";
    for (auto& f : fs) EXPECT_TRUE(f.done());
  }
  Executor ex(registry());
  if (ex.is_master()) {
    EXPECT_EQ(ex.submit(square, 12).get(), 144);
  }
}

// ---------------------------------------------------------------------------------------------
// Timeouts expire while tasks are still queued, at every rank count. On one rank tasks run
// inline, so a timeout is checked between tasks (it cannot cut a running task short).

TEST(FuturesSemantics, TimeoutsExpireWhileTasksAreQueued) {
  Executor ex(registry(), one_task_per_worker());
  if (!ex.is_master()) return;
  const std::size_t n = 10 * ex.workers();  // 1 s of 100 ms tasks on every worker
  auto submit_all = [&] {
    std::vector<Future<std::int64_t>> fs;
    for (std::size_t i = 0; i < n; ++i) fs.push_back(ex.submit(sleep_then, 100));
    return fs;
  };
  auto cancel_all = [](std::vector<Future<std::int64_t>>& fs) {
    for (auto& f : fs) f.cancel();
    for (auto& f : fs) f.wait();
  };

  auto fs = submit_all();
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(fs.back().get(100ms), libpool::TimeoutError);
  EXPECT_LT(seconds_since(t0), 0.5) << "get(0.1 s)";
  cancel_all(fs);

  fs = submit_all();
  t0 = std::chrono::steady_clock::now();
  auto r = libpool::wait(fs, libpool::ReturnWhen::AllCompleted, 150ms);
  EXPECT_LT(seconds_since(t0), 0.55) << "wait(0.15 s)";
  EXPECT_FALSE(r.not_done.empty());
  EXPECT_EQ(r.done.size() + r.not_done.size(), n);
  cancel_all(fs);

  fs = submit_all();
  t0 = std::chrono::steady_clock::now();
  std::size_t yielded = 0;
  EXPECT_THROW(
      {
        for (const auto& f : libpool::as_completed(fs, 200ms)) {
          (void)f;
          ++yielded;
        }
      },
      libpool::TimeoutError);
  EXPECT_LT(seconds_since(t0), 0.6) << "as_completed(0.2 s)";
  EXPECT_LT(yielded, n);
  cancel_all(fs);

  // A zero timeout still lets queued work advance: polling finishes eventually.
  auto f = ex.submit(square, 8);
  int polls = 0;
  while (!f.wait(0s)) ++polls;
  EXPECT_EQ(f.get(0s), 64);
}

TEST(FuturesSemantics, MapTimeoutCountsFromTheCall) {
  Executor ex(registry(), one_task_per_worker());
  if (!ex.is_master()) return;
  std::vector<std::int64_t> ms(10 * ex.workers(), 100);
  const auto t0 = std::chrono::steady_clock::now();
  auto results = ex.map(sleep_then, {.chunksize = 1, .timeout = 250ms}, ms);
  std::size_t got = 0;
  EXPECT_THROW(
      {
        for (auto v : results) {
          EXPECT_EQ(v, 100);
          ++got;
        }
      },
      libpool::TimeoutError);
  EXPECT_LT(seconds_since(t0), 0.65);
  EXPECT_GE(got, 1u);
  EXPECT_LT(got, ms.size());
  // Nothing more after the timeout, as a Python generator that raised.
  std::size_t more = 0;
  for (auto v : results) more += static_cast<std::size_t>(v);
  EXPECT_EQ(more, 0u);
  // Unordered too.
  auto unordered = ex.map_unordered(sleep_then, {.chunksize = 1, .timeout = 150ms}, ms);
  EXPECT_THROW(unordered.to_vector(), libpool::TimeoutError);
  // Without a timeout everything arrives.
  std::vector<std::int64_t> quick(20, 1);
  EXPECT_EQ(ex.map(sleep_then, {.chunksize = 1, .timeout = 10s}, quick).to_vector(), quick);
}
