// Liveness and timeouts: a worker that stops answering or a task that overruns breaks the pool
// with WorkerLost / TaskTimeout within the configured time, naming rank and host; long tasks with
// heartbeats and a master busy in its own code do not; after a loss nothing waits for the lost
// rank. Every test runs at 1, 2, 3 and 4 ranks (all on one host); what needs a remote worker is
// skipped on one rank. The tests end cleanly (the stopped rank is continued, the overrunning
// tasks are bounded), so the job still finalizes.

#include <gtest/gtest.h>
#include <mpi.h>
#include <signal.h>

#include <csignal>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "pool_tasks.hpp"

using namespace pool_tests;
using libpool::Executor;
using libpool::Options;
using namespace std::chrono_literals;

namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Short timeouts keep the tests fast; the heartbeat leaves a margin for a loaded machine.
Options quick() {
  Options opt;
  opt.heartbeat_interval = 100ms;
  opt.worker_timeout = 1s;
  return opt;
}

// Sends SIGCONT on scope exit, so that a stopped rank resumes even when an assertion fails.
struct Continue {
  std::int64_t pid = 0;
  ~Continue() {
    if (pid > 0) kill(static_cast<pid_t>(pid), SIGCONT);
  }
};

// The process id of `rank` (every rank is on this host), learnt from tasks; 0 if none ran there.
std::int64_t pid_of(Executor& ex, int rank) {
  std::map<int, std::int64_t> pids;
  for (int round = 0; round < 50 && !pids.count(rank); ++round) {
    std::vector<libpool::Future<std::int64_t>> fs;
    for (int i = 0; i < 4 * ex.size(); ++i) fs.push_back(ex.submit(process_id, i));
    for (auto& f : fs) {
      const std::int64_t pid = f.get();
      pids[f.info().rank] = pid;
    }
  }
  return pids.count(rank) ? pids[rank] : 0;
}

}  // namespace

TEST(Liveness, StoppedWorkerIsReportedAsLost) {
  if (world_size() == 1) GTEST_SKIP() << "needs a remote worker";
  Options opt = quick();
  opt.master_works = libpool::MasterWorks::No;  // raise(SIGSTOP) must not stop rank 0
  Executor ex(registry(), opt);
  if (!ex.is_master()) return;
  const int target = ex.size() - 1;

  // Learn the target's process id, to continue it afterwards.
  Continue resume{pid_of(ex, target)};
  ASSERT_GT(resume.pid, 0) << "no task ran on rank " << target;

  const auto t0 = std::chrono::steady_clock::now();
  std::vector<libpool::Future<int>> fs;
  for (int i = 0; i < 2 * ex.size(); ++i) fs.push_back(ex.submit(stop_on_rank, target, 1));
  std::optional<libpool::WorkerLost> lost;
  int failed = 0;
  for (auto& f : fs) {
    try {
      EXPECT_NE(f.get(), target);
    } catch (const libpool::WorkerLost& e) {
      ++failed;
      if (!lost) lost = e;
    }
  }
  const double took = seconds_since(t0);
  ASSERT_TRUE(lost) << "no WorkerLost after " << took << " s";
  EXPECT_LT(took, 1.0 + 2.0) << "worker_timeout 1 s plus margin";
  EXPECT_EQ(lost->rank(), target);
  EXPECT_EQ(lost->host(), libpool::processor_name());
  EXPECT_GT(lost->silent_seconds(), 1.0);
  const std::string what = lost->what();
  EXPECT_TRUE(contains(what, "rank " + std::to_string(target) + " on " + libpool::processor_name() +
                                 " stopped answering"))
      << what;
  EXPECT_TRUE(contains(what, "nothing received for")) << what;

  // The pool is broken: it says so, and refuses new work with the same error.
  ASSERT_TRUE(ex.broken().has_value());
  EXPECT_EQ(*ex.broken(), what);
  EXPECT_THROW(ex.submit(square, 2), libpool::WorkerLost);
  // Nothing waits for the lost rank.
  const auto t1 = std::chrono::steady_clock::now();
  ex.shutdown();
  EXPECT_LT(seconds_since(t1), 0.5);
}

TEST(Liveness, WorkerStoppedWhileSendingALargeResult) {
  // The stopped rank may be half-way through sending a 32 MiB result: the master must not wait
  // for the rest of it forever.
  if (world_size() == 1) GTEST_SKIP() << "needs a remote worker";
  Options opt = quick();
  opt.master_works = libpool::MasterWorks::No;
  Executor ex(registry(), opt);
  if (!ex.is_master()) return;
  const int target = 1;
  Continue resume{pid_of(ex, target)};
  ASSERT_GT(resume.pid, 0) << "no task ran on rank " << target;
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<libpool::Future<std::vector<double>>> big;
  std::vector<libpool::Future<int>> stops;
  for (int i = 0; i < 2 * ex.size(); ++i) {
    big.push_back(ex.submit(make_vector, std::uint64_t{1} << 22));
    stops.push_back(ex.submit(stop_on_rank, target, 2));
  }
  int lost = 0;
  for (auto& f : stops) {
    try {
      f.get();
    } catch (const libpool::WorkerLost& e) {
      EXPECT_EQ(e.rank(), target) << e.what();
      ++lost;
    }
  }
  const double took = seconds_since(t0);
  EXPECT_GE(lost, 1);
  EXPECT_LT(took, 1.0 + 0.4 + 2.5) << "worker_timeout, the time for 32 MiB, and margin";
  const auto t1 = std::chrono::steady_clock::now();
  ex.shutdown();
  EXPECT_LT(seconds_since(t1), 0.5);
}

TEST(Liveness, TaskTimeoutOnAWorker) {
  if (world_size() == 1) GTEST_SKIP() << "needs a remote worker";
  Options opt = quick();
  opt.master_works = libpool::MasterWorks::No;
  opt.task_timeout = 500ms;
  Executor ex(registry(), opt);
  if (!ex.is_master()) return;
  // Rank 1 sleeps 2 s (bounded, so that it then leaves and the job ends cleanly).
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<libpool::Future<int>> fs;
  for (int i = 0; i < 2 * ex.size(); ++i) fs.push_back(ex.submit(nap_on_rank, 1, 2000, 0));
  std::optional<libpool::TaskTimeout> timeout;
  for (auto& f : fs) {
    try {
      EXPECT_NE(f.get(), 1);
    } catch (const libpool::TaskTimeout& e) {
      if (!timeout) timeout = e;
    }
  }
  const double took = seconds_since(t0);
  ASSERT_TRUE(timeout) << "no TaskTimeout after " << took << " s";
  EXPECT_LT(took, 0.5 + 1.0);
  EXPECT_EQ(timeout->rank(), 1);
  EXPECT_EQ(timeout->host(), libpool::processor_name());
  EXPECT_EQ(timeout->task(), "test.nap_on_rank");
  EXPECT_DOUBLE_EQ(timeout->limit_seconds(), 0.5);
  EXPECT_GE(timeout->elapsed_seconds(), 0.5);
  const std::string what = timeout->what();
  EXPECT_TRUE(contains(what, "rank 1 on " + libpool::processor_name())) << what;
  EXPECT_TRUE(contains(what, "task test.nap_on_rank, submit #")) << what;
  EXPECT_TRUE(contains(what, "task timeout of 0.5 s")) << what;
  ASSERT_TRUE(ex.broken().has_value());
  EXPECT_THROW(ex.submit(square, 2), libpool::TaskTimeout);
  // The destructor does not wait for the 2 s task.
  const auto t1 = std::chrono::steady_clock::now();
  ex.shutdown();
  EXPECT_LT(seconds_since(t1), 0.5);
}

TEST(Liveness, TaskTimeoutOnRankZero) {
  // Rank 0's own task thread is watched by the master; on one rank the task runs inline, cannot
  // be interrupted, and the limit is checked when it returns.
  Options opt = quick();
  opt.master_works = libpool::MasterWorks::Yes;
  opt.task_timeout = 300ms;
  Executor ex(registry(), opt);
  if (!ex.is_master()) return;
  const std::int64_t nap_ms = ex.size() == 1 ? 600 : 2000;
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<libpool::Future<int>> fs;
  // Other ranks nap 20 ms: tasks long enough for rank 0's thread to get its share.
  for (int i = 0; i < 2 * ex.size(); ++i) fs.push_back(ex.submit(nap_on_rank, 0, nap_ms, 20));
  std::optional<libpool::TaskTimeout> timeout;
  for (auto& f : fs) {
    try {
      EXPECT_NE(f.get(), 0);
    } catch (const libpool::TaskTimeout& e) {
      if (!timeout) timeout = e;
    }
  }
  const double took = seconds_since(t0);
  ASSERT_TRUE(timeout) << "no TaskTimeout after " << took << " s";
  if (ex.size() == 1) {
    EXPECT_GE(took, 0.6) << "inline: noticed when the task returned";
  } else {
    EXPECT_LT(took, 0.3 + 1.0);
  }
  EXPECT_EQ(timeout->rank(), 0);
  EXPECT_EQ(timeout->task(), "test.nap_on_rank");
  EXPECT_TRUE(contains(timeout->what(), "rank 0 on " + libpool::processor_name()))
      << timeout->what();
  const auto t1 = std::chrono::steady_clock::now();
  ex.shutdown();
  EXPECT_LT(seconds_since(t1), 0.5) << "rank 0's thread is left to finish its task alone";
}

TEST(Liveness, MapRaisesTaskTimeoutAndTheDestructorReturnsPromptly) {
  const auto t0 = std::chrono::steady_clock::now();
  {
    Options opt = quick();
    opt.task_timeout = 300ms;
    Executor ex(registry(), opt);
    if (!ex.is_master()) return;
    // One chunk naps 1.2 s on the last rank (rank 0 on one rank); the others 10 ms.
    const int slow = ex.size() - 1;
    std::vector<int> ranks(static_cast<std::size_t>(8 * ex.size()), slow);
    std::vector<std::int64_t> ms(ranks.size(), 1200), other(ranks.size(), 10);
    std::size_t seen = 0;
    try {
      for (int r : ex.map(nap_on_rank, {.chunksize = 1}, ranks, ms, other)) {
        EXPECT_NE(r, slow);
        ++seen;
      }
      ADD_FAILURE() << "the map finished without a TaskTimeout";
    } catch (const libpool::TaskTimeout& e) {
      EXPECT_EQ(e.rank(), slow);
      EXPECT_TRUE(contains(e.what(), "chunk ")) << e.what();
      EXPECT_TRUE(contains(e.what(), "(items ")) << e.what();
    }
    EXPECT_LT(seen, ranks.size());
    EXPECT_THROW(ex.map(square, libpool::iota<std::int64_t>(0, 10)).to_vector(),
                 libpool::TaskTimeout);
  }
  // On one rank the 1.2 s task runs to its end first; otherwise nothing waits for it.
  EXPECT_LT(seconds_since(t0), world_size() == 1 ? 4.0 : 2.5);
}

TEST(Liveness, LongTasksAndABusyMasterDoNotBreakThePool) {
  // Heartbeats keep a worker alive through tasks far longer than worker_timeout, sleeping or
  // busy; a master that spends longer than worker_timeout in its own code takes in what arrived
  // meanwhile before it judges anyone.
  Options opt = quick();
  Executor ex(registry(), opt);
  if (!ex.is_master()) return;
  // Tiny tasks first: workers run those on their MPI thread; the long ones must not.
  std::vector<libpool::Future<std::int64_t>> tiny;
  for (int i = 0; i < 2000; ++i) tiny.push_back(ex.submit(square, i));
  for (int i = 0; i < 2000; ++i) ASSERT_EQ(tiny[static_cast<std::size_t>(i)].get(), i * i);

  std::vector<libpool::Future<std::int64_t>> fs;
  for (int i = 0; i < ex.size(); ++i) {
    fs.push_back(i % 2 == 0 ? ex.submit(sleep_then, 1800) : ex.submit(spin_for, 1500));
  }
  std::this_thread::sleep_for(1500ms);  // the master is busy elsewhere, longer than worker_timeout
  for (auto& f : fs) EXPECT_GE(f.get(), 1500);
  EXPECT_FALSE(ex.broken().has_value()) << *ex.broken();
  EXPECT_EQ(ex.submit(square, 12).get(), 144);
}

TEST(Liveness, LargeMessagesInFlightWhileTheMasterIsBusy) {
  // A task message too large to be sent eagerly may need the master's own MPI progress to
  // arrive; the worker keeps answering meanwhile, so a master busy in its own code for longer
  // than worker_timeout finds it alive when it comes back.
  Options opt = quick();
  opt.master_works = libpool::MasterWorks::No;
  Executor ex(registry(), opt);
  if (!ex.is_master()) return;
  const std::vector<double> big(std::size_t{1} << 21, 1.0);  // 16 MiB
  std::vector<libpool::Future<double>> fs;
  for (int i = 0; i < 2 * ex.size(); ++i) fs.push_back(ex.submit(sum_vector, big));
  std::this_thread::sleep_for(1500ms);
  for (auto& f : fs) EXPECT_EQ(f.get(), static_cast<double>(big.size()));
  EXPECT_FALSE(ex.broken().has_value()) << *ex.broken();
}

TEST(Liveness, WithAnInitializerLongTasksStillKeepTheRankAlive) {
  // With an initializer every task runs on the task thread: the same liveness.
  Options opt = quick();
  opt.initializer(set_global, std::int64_t{5});
  Executor ex(registry(), opt);
  if (!ex.is_master()) return;
  std::vector<libpool::Future<std::int64_t>> fs;
  for (int i = 0; i < ex.size(); ++i) fs.push_back(ex.submit(sleep_then, 1500));
  for (auto& f : fs) EXPECT_EQ(f.get(), 1500);
  EXPECT_EQ(ex.submit(get_global, 0).get(), 5);
  EXPECT_FALSE(ex.broken().has_value());
}

TEST(Liveness, HealthyPoolIsNotBroken) {
  Options opt;
  opt.task_timeout = 5s;
  Executor ex(registry(), opt);
  if (!ex.is_master()) return;
  auto r = ex.map(square, {.chunksize = 7}, libpool::iota<std::int64_t>(0, 1000)).to_vector();
  EXPECT_EQ(r[999], 999 * 999);
  EXPECT_FALSE(ex.broken().has_value());
}

TEST(Liveness, InvalidSettingsAreRefusedOnEveryRank) {
  Options opt;
  opt.heartbeat_interval = 1s;
  opt.worker_timeout = 1500ms;  // less than two heartbeats
  try {
    Executor ex(registry(), opt);
    ADD_FAILURE() << "pool started with worker_timeout < 2 x heartbeat_interval";
  } catch (const libpool::Error& e) {
    EXPECT_TRUE(contains(e.what(), "libpool::Options")) << e.what();
  }
  Executor ex(registry());
  if (ex.is_master()) {
    EXPECT_EQ(ex.submit(square, 3).get(), 9);
  }
}

TEST(Liveness, AWorkersStopFlagReachesTheMaster) {
  // Options::stop_flag: a worker whose flag its signal handler set (here: set by hand on rank 1)
  // tells the master once, which names the rank and the signal; the pool goes on working.
  if (world_size() == 1) GTEST_SKIP() << "needs a remote worker";
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  g_stop_flag = rank == 1 ? SIGTERM : 0;
  Options opt = quick();
  opt.stop_flag = &g_stop_flag;
  Executor ex(registry(), opt);
  g_stop_flag = 0;
  if (!ex.is_master()) return;
  const auto t0 = std::chrono::steady_clock::now();
  while (!ex.worker_signal() && seconds_since(t0) < 5) EXPECT_EQ(ex.submit(square, 3).get(), 9);
  const auto s = ex.worker_signal();
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->rank, 1);
  EXPECT_EQ(s->signal, SIGTERM);
  EXPECT_FALSE(ex.broken().has_value());
  EXPECT_EQ(ex.submit(square, 4).get(), 16);
}

TEST(Liveness, NoStopFlagNoWorkerSignal) {
  Executor ex(registry(), quick());
  if (!ex.is_master()) return;
  for (int i = 0; i < 20; ++i) EXPECT_EQ(ex.submit(square, i).get(), i * i);
  EXPECT_FALSE(ex.worker_signal().has_value());
}

TEST(Liveness, SignalWorkersSetsTheirStopFlag) {
  // Executor::signal_workers: every worker's Options::stop_flag takes the signal (tasks there
  // see it), and no worker reports it back as its own.
  if (world_size() == 1) GTEST_SKIP() << "needs a remote worker";
  g_stop_flag = 0;
  Options opt = quick();
  opt.stop_flag = &g_stop_flag;
  opt.master_works = libpool::MasterWorks::No;
  Executor ex(registry(), opt);
  g_stop_flag = 0;
  if (!ex.is_master()) return;
  for (int i = 0; i < 4 * ex.size(); ++i) EXPECT_EQ(ex.submit(stop_flag_seen, 0).get().second, 0);
  ex.signal_workers(SIGUSR1);
  std::map<int, int> seen;  // rank -> flag seen by a task submitted after the signal
  for (int i = 0; i < 20 * ex.size() && seen.size() + 1 < static_cast<std::size_t>(ex.size());
       ++i) {
    const auto [rank, flag] = ex.submit(stop_flag_seen, 0).get();
    seen[rank] = flag;
  }
  ASSERT_EQ(seen.size() + 1, static_cast<std::size_t>(ex.size()));
  for (const auto& [rank, flag] : seen) EXPECT_EQ(flag, SIGUSR1) << "rank " << rank;
  EXPECT_FALSE(ex.worker_signal().has_value());
}
