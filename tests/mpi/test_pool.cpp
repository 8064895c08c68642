// The pool's behaviour, ported from CPython's test_concurrent_futures and mpi4py's
// test_futures: submit, futures, map (ordered, unordered, chunked, guided, bounded), wait,
// as_completed, initializer, max_tasks_per_worker, shutdown and cancel. Every test runs at 1, 2,
// 3 and 4 ranks; worker ranks serve inside the Executor constructor and skip the body.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <numeric>
#include <set>
#include <stdexcept>

#include "pool_tasks.hpp"

using namespace pool_tests;
using libpool::Executor;
using libpool::MapOptions;
using libpool::Options;
using namespace std::chrono_literals;

// ---------------------------------------------------------------------------------------------
// submit and futures

TEST(Submit, ReturnsTheResult) {
  Executor ex(registry());
  if (!ex.is_master()) return;
  auto f1 = ex.submit(square, 10);
  auto f2 = ex.submit(square, 20);
  auto f3 = ex.submit(power, 2, 10);
  EXPECT_EQ(f1.get(), 100);
  EXPECT_EQ(f2.get(), 400);
  EXPECT_EQ(f3.get(), 1024);
  EXPECT_TRUE(f1.done());
  EXPECT_FALSE(f1.cancelled());
  EXPECT_EQ(f1.get(), 100) << "get() may be called again";
  EXPECT_EQ(f1.exception(), nullptr);
}

TEST(Submit, ArgumentsOfEveryKindRoundTrip) {
  Executor ex(registry());
  if (!ex.is_master()) return;
  EXPECT_EQ(ex.submit(greet, std::string("pool"), 2).get(), "hello pool;hello pool;");
  EXPECT_EQ(ex.submit(greet, "literal", 1).get(), "hello literal;");
  std::vector<double> v(1000);
  std::iota(v.begin(), v.end(), 0.5);
  EXPECT_EQ(ex.submit(sum_vector, v).get(), std::accumulate(v.begin(), v.end(), 0.0));
  Particle p{"p", {1.0, 2.0, 3.0}, 41};
  Particle q = ex.submit(move_particle, p, 0.5).get();
  EXPECT_EQ(q.name, "p'");
  EXPECT_EQ(q.position, (std::vector<double>{1.5, 2.5, 3.5}));
  EXPECT_EQ(q.id, 42);
  ex.submit(touch, 1).get();  // a void task
}

TEST(Submit, LargeResultsCrossRanks) {
  Executor ex(registry());
  if (!ex.is_master()) return;
  // 8 MB each way: well past the eager limit, so the rendezvous path is exercised.
  std::vector<libpool::Future<std::vector<double>>> fs;
  for (int i = 0; i < 6; ++i) fs.push_back(ex.submit(make_vector, std::uint64_t{1} << 20));
  for (auto& f : fs) {
    const auto& v = f.get();
    ASSERT_EQ(v.size(), std::size_t{1} << 20);
    EXPECT_EQ(v[12345], 12345.0);
  }
  std::vector<double> big(1 << 20, 1.0);
  EXPECT_EQ(ex.submit(sum_vector, big).get(), static_cast<double>(1 << 20));
}

TEST(Submit, ManyTasks) {
  Executor ex(registry());
  if (!ex.is_master()) return;
  std::vector<libpool::Future<std::int64_t>> fs;
  for (std::int64_t i = 0; i < 20000; ++i) fs.push_back(ex.submit(square, i));
  std::int64_t sum = 0;
  for (auto& f : fs) sum += f.get();
  std::int64_t expect = 0;
  for (std::int64_t i = 0; i < 20000; ++i) expect += i * i;
  EXPECT_EQ(sum, expect);
}

TEST(Submit, ResultTimeout) {
  Executor ex(registry());
  if (!ex.is_master()) return;
  auto f = ex.submit(sleep_then, 400);
  // On one rank tasks run inline: a timeout is checked between tasks, it cannot cut one short.
  if (ex.size() > 1) {
    EXPECT_THROW(f.get(10ms), libpool::TimeoutError);
    EXPECT_FALSE(f.wait(1ms));
  }
  EXPECT_EQ(f.get(), 400);
  EXPECT_TRUE(f.wait(0s));
}

TEST(Submit, ExceptionCarriesWhereItHappened) {
  Executor ex(registry());
  if (!ex.is_master()) return;
  auto f = ex.submit(risky, 5);
  try {
    f.get();
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    // The task's own standard type, carrying where it happened.
    const libpool::RemoteInfo* r = libpool::remote_info(e);
    ASSERT_NE(r, nullptr) << e.what();
    EXPECT_EQ(r->type(), "std::invalid_argument");
    EXPECT_EQ(r->message(), "Cannot process 5");
    EXPECT_EQ(r->task(), "test.risky");
    EXPECT_GE(r->rank(), 0);
    EXPECT_LT(r->rank(), ex.size());
    EXPECT_FALSE(r->host().empty());
    const std::string what = e.what();
    EXPECT_NE(what.find("task test.risky"), std::string::npos) << what;
    EXPECT_NE(what.find("std::invalid_argument: Cannot process 5"), std::string::npos) << what;
    EXPECT_NE(what.find(" of " + std::to_string(ex.size()) + " on "), std::string::npos) << what;
  }
  EXPECT_NE(f.exception(), nullptr);
  // The worker survives: everything after still runs, on every rank.
  std::vector<libpool::Future<std::int64_t>> fs;
  for (int i = 0; i < 50; ++i) fs.push_back(ex.submit(risky, i == 5 ? 6 : i));
  for (int i = 0; i < 50; ++i) EXPECT_EQ(fs[i].get(), (i == 5 ? 36 : i * i));
}

TEST(Submit, NonStandardExceptionIsReported) {
  Executor ex(registry());
  if (!ex.is_master()) return;
  try {
    ex.submit(throw_non_std, 3).get();
    FAIL();
  } catch (const libpool::RemoteError& e) {
    EXPECT_EQ(e.type(), "int");
  }
}

TEST(Submit, DoneCallbacks) {
  Executor ex(registry());
  if (!ex.is_master()) return;
  int called = 0;
  std::int64_t seen = 0;
  auto f = ex.submit(sleep_then, 50);
  f.add_done_callback([&](const libpool::Future<std::int64_t>& g) {
    ++called;
    seen = g.get();
  });
  EXPECT_EQ(f.get(), 50);
  EXPECT_EQ(called, 1);
  EXPECT_EQ(seen, 50);
  // On a finished future the callback runs at once.
  f.add_done_callback([&](const libpool::Future<std::int64_t>&) { ++called; });
  EXPECT_EQ(called, 2);
  // A failed future also calls back, and the callback sees the exception.
  bool saw_error = false;
  auto g = ex.submit(risky, 5);
  g.add_done_callback([&](const auto& h) { saw_error = h.exception() != nullptr; });
  g.wait();
  EXPECT_TRUE(saw_error);
}

TEST(Submit, CallbacksThatThrowOrWaitDoNotDerailThePool) {
  Options opt;
  opt.prefetch = 15;  // many tiny tasks per message: callbacks fire in the middle of a batch
  Executor ex(registry(), opt);
  if (!ex.is_master()) return;
  std::vector<libpool::Future<std::int64_t>> fs;
  for (int i = 0; i < 64; ++i) fs.push_back(ex.submit(square, i));
  std::int64_t seen_inside = -1;
  fs[1].add_done_callback([&](const auto&) { seen_inside = fs[40].get(); });
  fs[2].add_done_callback([](const auto&) { throw std::runtime_error("callback failed"); });
  for (int i = 0; i < 64; ++i) EXPECT_EQ(fs[i].get(), i * i);
  EXPECT_EQ(seen_inside, 1600);
  // A callback that throws is reported and skipped; the pool goes on as before.
  EXPECT_EQ(ex.submit(square, 12).get(), 144);
}

TEST(Submit, GetOnATemporaryFutureReturnsAValue) {
  Executor ex(registry());
  if (!ex.is_master()) return;
  double total = 0;
  for (double x : ex.submit(make_vector, std::uint64_t{1000}).get()) total += x;
  EXPECT_EQ(total, 999.0 * 1000 / 2);
}

TEST(Submit, CancelQueuedButNotRunning) {
  Options opt;
  opt.prefetch = 0;  // one task per worker at a time: the rest stays cancellable
  Executor ex(registry(), opt);
  if (!ex.is_master()) return;
  std::vector<libpool::Future<std::int64_t>> running;
  for (std::size_t i = 0; i < ex.workers(); ++i) running.push_back(ex.submit(sleep_then, 300));
  auto queued = ex.submit(sleep_then, 300);
  EXPECT_TRUE(queued.cancel());
  EXPECT_TRUE(queued.cancelled());
  EXPECT_TRUE(queued.done());
  EXPECT_TRUE(queued.cancel()) << "cancelling twice still says cancelled";
  EXPECT_THROW(queued.get(), libpool::CancelledError);
  EXPECT_THROW(queued.exception(), libpool::CancelledError);
  if (ex.size() > 1) {
    for (auto& f : running) {
      EXPECT_TRUE(f.running());
      EXPECT_FALSE(f.cancel()) << "a running task cannot be cancelled";
    }
  }
  for (auto& f : running) {
    EXPECT_EQ(f.get(), 300);
    EXPECT_FALSE(f.cancel()) << "a finished task cannot be cancelled";
  }
}

TEST(Submit, TaskInfoSaysWhereAndWhen) {
  Executor ex(registry());
  if (!ex.is_master()) return;
  std::set<int> ranks;
  std::vector<libpool::Future<std::int64_t>> fs;
  for (int i = 0; i < 4 * ex.size(); ++i) fs.push_back(ex.submit(sleep_then, 20));
  for (auto& f : fs) {
    f.get();
    EXPECT_GE(f.info().rank, 0);
    EXPECT_LT(f.info().rank, ex.size());
    EXPECT_LE(f.info().start_s, f.info().end_s);
    EXPECT_GE(f.info().end_s - f.info().start_s, 0.015);
    ranks.insert(f.info().rank);
  }
  // Every rank that works got some of the work.
  EXPECT_EQ(ranks.size(), ex.workers());
}

TEST(Submit, MasterWorksOnSmallPools) {
  Executor ex(registry());
  if (!ex.is_master()) return;
  // Up to 8 ranks, rank 0 runs tasks too, so `mpirun -n 2` computes on two cores.
  EXPECT_EQ(ex.workers(), static_cast<std::size_t>(ex.size()));
}

TEST(Submit, DedicatedMasterDoesNotRunTasks) {
  Options opt;
  opt.master_works = libpool::MasterWorks::No;
  Executor ex(registry(), opt);
  if (!ex.is_master()) return;
  EXPECT_EQ(ex.workers(), ex.size() == 1 ? 1u : static_cast<std::size_t>(ex.size() - 1));
  std::vector<libpool::Future<int>> fs;
  for (int i = 0; i < 40; ++i) fs.push_back(ex.submit(my_rank, i));
  for (auto& f : fs) {
    if (ex.size() > 1) {
      EXPECT_NE(f.get(), 0);
    }
  }
}

TEST(Submit, OnlyTheMasterSubmits) {
  Executor ex(registry());
  if (ex.is_master()) return;
  EXPECT_THROW(ex.submit(square, 2), libpool::Error);
}

TEST(Submit, UnregisteredFunctionIsRefused) {
  Executor ex(registry());
  if (!ex.is_master()) return;
  static auto unregistered = +[](std::int64_t x) { return x; };
  EXPECT_THROW(ex.submit(unregistered, 1), libpool::RegistryError);
}

// ---------------------------------------------------------------------------------------------
// map

TEST(Map, OrderedResultsAtEveryChunkSize) {
  Executor ex(registry());
  if (!ex.is_master()) return;
  std::vector<std::int64_t> xs(1000);
  std::iota(xs.begin(), xs.end(), -500);
  std::vector<std::int64_t> expect;
  for (auto x : xs) expect.push_back(x * x);
  for (std::size_t cs : {0u, 1u, 3u, 7u, 100u, 999u, 1000u, 5000u}) {
    for (auto sched : {libpool::Schedule::Dynamic, libpool::Schedule::Guided}) {
      auto got = ex.map(square, MapOptions{.chunksize = cs, .schedule = sched}, xs).to_vector();
      EXPECT_EQ(got, expect) << "chunksize " << cs;
    }
  }
}

TEST(Map, IndexRange) {
  Executor ex(registry());
  if (!ex.is_master()) return;
  std::int64_t sum = 0, n = 0;
  for (std::int64_t v : ex.map(square, {.chunksize = 97}, libpool::iota<std::int64_t>(-3, 10000))) {
    sum += v;
    ++n;
  }
  std::int64_t expect = 0;
  for (std::int64_t i = -3; i < 10000; ++i) expect += i * i;
  EXPECT_EQ(n, 10003);
  EXPECT_EQ(sum, expect);
  EXPECT_TRUE(ex.map(square, libpool::iota<std::int64_t>(5, 5)).to_vector().empty());
  EXPECT_TRUE(ex.map(square, libpool::iota<std::int64_t>(5, 2)).to_vector().empty());
}

TEST(Map, SeveralSequencesAsInTheTutorial) {
  Executor ex(registry());
  if (!ex.is_master()) return;
  std::vector<std::int64_t> bases = {2, 3, 4, 5};
  std::vector<int> exps = {10, 10, 10, 10};
  EXPECT_EQ(ex.map(power, bases, exps).to_vector(),
            (std::vector<std::int64_t>{1024, 59049, 1048576, 9765625}));
  // Stops at the shortest input, as Python's map does.
  std::vector<int> short_exps = {1, 2};
  EXPECT_EQ(ex.map(power, bases, short_exps).to_vector(), (std::vector<std::int64_t>{2, 9}));
  // Strings and structs go through the same path.
  std::vector<std::string> names = {"a", "b", "c"};
  std::vector<int> times = {1, 2, 0};
  EXPECT_EQ(ex.map(greet, {.chunksize = 2}, names, times).to_vector(),
            (std::vector<std::string>{"hello a;", "hello b;hello b;", ""}));
}

TEST(Map, ExceptionRaisedAtTheFailingItem) {
  Executor ex(registry());
  if (!ex.is_master()) return;
  // CPython test_map_exception: divmod over [1,1,1,1] and [2,3,0,5].
  std::vector<std::int64_t> a = {1, 1, 1, 1}, b = {2, 3, 0, 5};
  auto results = ex.map(divide, {.chunksize = 1}, a, b);
  auto it = results.begin();
  EXPECT_EQ(*it, 0);
  ++it;
  EXPECT_EQ(*it, 0);
  try {
    ++it;
    FAIL() << "expected the exception at item 2";
  } catch (const std::domain_error& e) {
    const libpool::RemoteInfo* r = libpool::remote_info(e);
    ASSERT_NE(r, nullptr) << e.what();
    EXPECT_EQ(r->type(), "std::domain_error");
    EXPECT_EQ(r->info().chunk, 2u);
    EXPECT_EQ(r->info().item_begin, 2u);
    EXPECT_EQ(r->info().item_count, 1u);
  }
  // With chunks, the exception comes at the failing chunk's first item.
  std::vector<std::int64_t> xs(20);
  std::iota(xs.begin(), xs.end(), 0);
  std::vector<std::int64_t> seen;
  auto chunked = ex.map(risky, {.chunksize = 4}, xs);
  EXPECT_THROW(
      {
        for (auto v : chunked) seen.push_back(v);
      },
      std::invalid_argument);
  EXPECT_EQ(seen, (std::vector<std::int64_t>{0, 1, 4, 9}));
  // The pool is fine afterwards.
  EXPECT_EQ(ex.map(square, xs).to_vector().size(), 20u);
}

TEST(Map, UnorderedGivesEveryResultOnce) {
  Executor ex(registry());
  if (!ex.is_master()) return;
  std::multiset<std::int64_t> got;
  for (auto v : ex.map_unordered(square, {.chunksize = 7}, libpool::iota<std::int64_t>(0, 1000))) {
    got.insert(v);
  }
  std::multiset<std::int64_t> expect;
  for (std::int64_t i = 0; i < 1000; ++i) expect.insert(i * i);
  EXPECT_EQ(got, expect);
  std::vector<std::int64_t> xs = {1, 5, 2};
  EXPECT_THROW(ex.map_unordered(risky, xs).to_vector(), std::invalid_argument);
}

TEST(Map, UnorderedYieldsInCompletionOrder) {
  Options opt;
  opt.prefetch = 0;  // one task per worker: the quick items cannot queue behind the slow one
  Executor ex(registry(), opt);
  if (!ex.is_master() || ex.workers() < 2) return;
  std::vector<std::int64_t> ms = {600, 1, 1, 1};
  auto order = ex.map_unordered(sleep_then, {.chunksize = 1}, ms).to_vector();
  EXPECT_EQ(order.front(), 1);
  EXPECT_EQ(order.back(), 600);
}

TEST(Map, BoundedInFlightNeverMaterialisesTheInput) {
  Executor ex(registry());
  if (!ex.is_master()) return;
  // 10^15 indices: reading them all would never finish; the map only reads ahead buffersize
  // chunks of what the consumer has taken.
  auto results = ex.map(square, {.chunksize = 100, .buffersize = 8},
                        libpool::iota<std::int64_t>(0, 1'000'000'000'000'000));
  std::int64_t k = 0;
  for (auto v : results) {
    ASSERT_EQ(v, k * k);
    if (++k == 5000) break;
  }
  EXPECT_LE(results.items_submitted(), 5000u + 8 * 100);
  EXPECT_GE(results.items_submitted(), 5000u);
}

TEST(Map, GuidedChunksShrink) {
  Executor ex(registry());
  if (!ex.is_master()) return;
  // Guided: the first chunk is about len / (2 * workers), the last ones are small.
  auto r = ex.map(square, {.schedule = libpool::Schedule::Guided, .buffersize = 1},
                  libpool::iota<std::int64_t>(0, 10000));
  auto it = r.begin();
  const auto first = r.items_submitted();
  EXPECT_EQ(first, (10000 + 2 * ex.workers() - 1) / (2 * ex.workers()));
  std::int64_t n = 0;
  for (; it != r.end(); ++it) ++n;
  EXPECT_EQ(n, 10000);
}

TEST(Map, AutoChunkSizeCoversSmallAndLargeInputs) {
  Executor ex(registry());
  if (!ex.is_master()) return;
  std::vector<std::int64_t> one = {7};
  EXPECT_EQ(ex.map(square, one).to_vector(), (std::vector<std::int64_t>{49}));
  // An input without a size (a filtered view) still maps, one item per chunk.
  auto odd = std::views::iota(0, 50) | std::views::filter([](int i) { return i % 2 == 1; });
  std::vector<std::int64_t> got;
  for (auto v : ex.map(square, odd)) got.push_back(v);
  ASSERT_EQ(got.size(), 25u);
  EXPECT_EQ(got[3], 49);
}

TEST(Map, DroppingAMapCancelsItsQueuedChunks) {
  Options opt;
  opt.prefetch = 0;
  Executor ex(registry(), opt);
  if (!ex.is_master()) return;
  const auto t0 = std::chrono::steady_clock::now();
  {
    std::vector<std::int64_t> ms(64, 100);
    auto r = ex.map(sleep_then, {.chunksize = 1, .buffersize = 64}, ms);
    auto it = r.begin();
    EXPECT_EQ(*it, 100);
  }
  ex.shutdown();
  // 64 x 100 ms on at most 4 workers would take >= 1.6 s; dropping the map cancels the rest.
  const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(dt, 1.5);
}

// ---------------------------------------------------------------------------------------------
// wait and as_completed

TEST(Wait, FirstCompleted) {
  Executor ex(registry());
  if (!ex.is_master()) return;
  std::vector<libpool::Future<std::int64_t>> fs = {ex.submit(square, 21),
                                                   ex.submit(sleep_then, 500)};
  auto r = libpool::wait(fs, libpool::ReturnWhen::FirstCompleted);
  ASSERT_EQ(r.done.size(), 1u);
  EXPECT_TRUE(r.done[0] == fs[0]);
  ASSERT_EQ(r.not_done.size(), 1u);
  EXPECT_TRUE(r.not_done[0] == fs[1]);
}

TEST(Wait, FirstException) {
  Executor ex(registry());
  if (!ex.is_master()) return;
  std::vector<libpool::Future<std::int64_t>> fs = {ex.submit(square, 21), ex.submit(risky, 5),
                                                   ex.submit(sleep_then, 2000)};
  auto r = libpool::wait(fs, libpool::ReturnWhen::FirstException);
  EXPECT_TRUE(fs[1].done());
  EXPECT_NE(fs[1].exception(), nullptr);
  EXPECT_FALSE(fs[2].done());
  EXPECT_EQ(r.done.size() + r.not_done.size(), 3u);
  fs[2].cancel();
}

TEST(Wait, AllCompletedAndTimeout) {
  Executor ex(registry());
  if (!ex.is_master()) return;
  std::vector<libpool::Future<std::int64_t>> fs;
  for (int i = 0; i < 10; ++i) fs.push_back(ex.submit(square, i));
  auto all = libpool::wait(fs);
  EXPECT_EQ(all.done.size(), 10u);
  EXPECT_TRUE(all.not_done.empty());

  std::vector<libpool::Future<std::int64_t>> slow = {ex.submit(square, 2),
                                                     ex.submit(sleep_then, 800)};
  const auto t0 = std::chrono::steady_clock::now();
  auto part = libpool::wait(slow, libpool::ReturnWhen::AllCompleted, 100ms);
  const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (ex.size() > 1) {  // inline on one rank: the timeout cannot interrupt the running task
    EXPECT_EQ(part.done.size(), 1u);
    EXPECT_EQ(part.not_done.size(), 1u);
    EXPECT_LT(dt, 0.7);
  }
  EXPECT_TRUE(libpool::wait(std::vector<libpool::Future<std::int64_t>>{}).done.empty());
}

TEST(AsCompleted, YieldsEveryFutureOnce) {
  Executor ex(registry());
  if (!ex.is_master()) return;
  std::vector<libpool::Future<std::int64_t>> fs;
  for (int i = 0; i < 30; ++i) fs.push_back(ex.submit(risky, i));
  fs[3].wait();
  std::map<std::int64_t, int> got;
  int errors = 0, n = 0;
  for (const auto& f : libpool::as_completed(fs)) {
    ++n;
    try {
      got[f.get()]++;
    } catch (const std::invalid_argument&) {
      ++errors;
    }
  }
  EXPECT_EQ(n, 30);
  EXPECT_EQ(errors, 1);
  EXPECT_EQ(got.size(), 29u);
}

TEST(AsCompleted, CompletionOrder) {
  Executor ex(registry());
  if (!ex.is_master() || ex.workers() < 2) return;
  std::vector<libpool::Future<std::int64_t>> fs = {ex.submit(sleep_then, 500),
                                                   ex.submit(sleep_then, 1)};
  std::vector<std::int64_t> order;
  for (const auto& f : libpool::as_completed(fs)) order.push_back(f.get());
  EXPECT_EQ(order, (std::vector<std::int64_t>{1, 500}));
}

TEST(Wait, RepeatedWaitsLeaveNoCallbacksBehind) {
  Executor ex(registry());
  if (!ex.is_master() || ex.size() == 1) return;  // needs a task that is still running
  std::vector<libpool::Future<std::int64_t>> fs = {ex.submit(sleep_then, 300)};
  for (int i = 0; i < 1000; ++i) libpool::wait(fs, libpool::ReturnWhen::FirstCompleted, 0ms);
  EXPECT_TRUE(fs[0].work().callbacks.empty());
  EXPECT_EQ(fs[0].get(), 300);
}

TEST(AsCompleted, Timeout) {
  Executor ex(registry());
  if (!ex.is_master() || ex.size() == 1) return;  // inline tasks cannot be interrupted
  std::vector<libpool::Future<std::int64_t>> fs = {ex.submit(square, 3),
                                                   ex.submit(sleep_then, 1500)};
  fs[0].wait();
  int yielded = 0;
  EXPECT_THROW(
      {
        for (const auto& f : libpool::as_completed(fs, 100ms)) {
          (void)f;
          ++yielded;
        }
      },
      libpool::TimeoutError);
  EXPECT_EQ(yielded, 1);
  fs[1].cancel();
}

// ---------------------------------------------------------------------------------------------
// initializer, max_tasks_per_worker

TEST(Initializer, RunsOnEveryWorkerWithTheMastersArguments) {
  Options opt;
  // Workers pass other arguments: the master's are the ones that count.
  opt.initializer(set_global, std::int64_t{42});
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank != 0) opt.initializer(set_global, std::int64_t{-7});
  Executor ex(registry(), opt);
  if (!ex.is_master()) return;
  std::set<int> ranks;
  std::vector<libpool::Future<std::int64_t>> fs;
  for (int i = 0; i < 8 * ex.size(); ++i) fs.push_back(ex.submit(get_global, i));
  for (auto& f : fs) {
    EXPECT_EQ(f.get(), 42);
    ranks.insert(f.info().rank);
  }
  EXPECT_EQ(ranks.size(), ex.workers());
}

TEST(Initializer, RunsOnTheThreadThatRunsTheTasks) {
  // Thread-local state set up by the initializer reaches every task, rank 0's included.
  Options opt;
  opt.initializer(set_thread_value, std::int64_t{7});
  Executor ex(registry(), opt);
  if (!ex.is_master()) return;
  std::vector<libpool::Future<std::int64_t>> fs;
  for (int i = 0; i < 8 * ex.size(); ++i) fs.push_back(ex.submit(get_thread_value, i));
  std::set<int> ranks;
  for (auto& f : fs) {
    EXPECT_EQ(f.get(), 7) << "rank " << f.info().rank;
    ranks.insert(f.info().rank);
  }
  EXPECT_EQ(ranks.size(), ex.workers());
}

TEST(Initializer, FailureAnywhereBreaksThePoolOnEveryRank) {
  for (int bad = 0; bad < world_size(); ++bad) {
    Options opt;
    opt.initializer(fail_on_rank, bad);
    try {
      Executor ex(registry(), opt);
      if (ex.is_master()) ex.submit(square, 1).get();
      ADD_FAILURE() << "pool started although rank " << bad << "'s initializer failed";
    } catch (const libpool::BrokenPool& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("initializer failed on rank " + std::to_string(bad)), std::string::npos)
          << what;
      EXPECT_NE(what.find("cannot open model.pkl"), std::string::npos) << what;
    }
  }
}

TEST(Initializer, MaxTasksPerWorkerRunsItAgain) {
  Options opt;
  opt.initializer(count_init);
  opt.max_tasks_per_worker = 3;
  Executor ex(registry(), opt);
  if (!ex.is_master()) return;
  std::int64_t most_inits = 0;
  std::vector<libpool::Future<std::pair<std::int64_t, std::int64_t>>> fs;
  for (int i = 0; i < 60; ++i) fs.push_back(ex.submit(init_and_calls, i));
  for (auto& f : fs) {
    const auto [inits, calls] = f.get();
    EXPECT_GE(calls, 1);
    EXPECT_LE(calls, 3) << "a worker ran more than max_tasks_per_worker tasks per initializer";
    most_inits = std::max(most_inits, inits);
  }
  EXPECT_GE(most_inits, 60 / (3 * static_cast<std::int64_t>(ex.workers())));
}

// ---------------------------------------------------------------------------------------------
// shutdown

TEST(Shutdown, WaitsForWorkThenRefusesMore) {
  Executor ex(registry());
  if (!ex.is_master()) return;
  std::vector<libpool::Future<std::int64_t>> fs;
  for (int i = 0; i < 20; ++i) fs.push_back(ex.submit(sleep_then, 10));
  ex.shutdown();
  for (auto& f : fs) {
    EXPECT_TRUE(f.done());
    EXPECT_EQ(f.get(), 10);
  }
  EXPECT_THROW(ex.submit(square, 1), libpool::Error);
  ex.shutdown();  // again: nothing happens
}

TEST(Shutdown, AMapContinuedAfterShutdownFailsInsteadOfHanging) {
  Executor ex(registry());
  if (!ex.is_master()) return;
  auto m = ex.map(square, {.chunksize = 1, .buffersize = 4}, libpool::iota<std::int64_t>(0, 100));
  ex.shutdown();
  std::int64_t n = 0;
  EXPECT_THROW(
      {
        for (auto v : m) {
          EXPECT_EQ(v, n * n);
          ++n;
        }
      },
      libpool::Error);
  EXPECT_EQ(n, 4) << "the chunks submitted before shutdown are still delivered";
}

TEST(Shutdown, CancelFutures) {
  Options opt;
  opt.prefetch = 0;
  Executor ex(registry(), opt);
  if (!ex.is_master()) return;
  std::vector<libpool::Future<std::int64_t>> fs;
  for (int i = 0; i < 40; ++i) fs.push_back(ex.submit(sleep_then, 50));
  ex.shutdown(true, true);
  std::size_t cancelled = 0, finished = 0;
  for (auto& f : fs) {
    ASSERT_TRUE(f.done());
    if (f.cancelled()) {
      ++cancelled;
    } else {
      EXPECT_EQ(f.get(), 50);
      ++finished;
    }
  }
  EXPECT_GE(cancelled, 40 - 2 * ex.workers());
  EXPECT_EQ(cancelled + finished, 40u);
}

TEST(Shutdown, WithoutWaitTheDestructorDrains) {
  std::vector<libpool::Future<std::int64_t>> fs;
  {
    Executor ex(registry());
    if (!ex.is_master()) return;
    for (int i = 0; i < 10; ++i) fs.push_back(ex.submit(sleep_then, 20));
    ex.shutdown(false);
    EXPECT_THROW(ex.submit(square, 1), libpool::Error);
  }
  for (auto& f : fs) EXPECT_EQ(f.get(), 20);
}

TEST(Shutdown, AnExceptionOnTheMasterLeavesNoRankWaiting) {
  // The master throws with work queued and running; the destructor must drain it (Python's
  // `with` exit is shutdown(wait=True)) and release the workers, or this test hangs until its
  // timeout.
  try {
    Executor ex(registry());
    if (ex.is_master()) {
      std::vector<libpool::Future<std::int64_t>> fs;
      for (int i = 0; i < 50; ++i) fs.push_back(ex.submit(sleep_then, 20));
      throw std::runtime_error("master gave up");
    }
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "master gave up");
  }
  // And the ranks can build the next pool.
  Executor ex(registry());
  if (ex.is_master()) {
    EXPECT_EQ(ex.submit(square, 9).get(), 81);
  }
}

TEST(Shutdown, ManyPoolsInARow) {
  for (int i = 0; i < 20; ++i) {
    Executor ex(registry());
    if (ex.is_master()) {
      EXPECT_EQ(ex.submit(square, i).get(), i * i);
    }
  }
}
