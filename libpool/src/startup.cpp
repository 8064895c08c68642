// The start-up handshake: every rank agrees on the registry, the initializer and the liveness
// settings, runs the initializer, then rank 0 becomes the master and the others serve tasks.
// (The messages are drawn on top of master.cpp.)

#include <algorithm>
#include <cmath>
#include <cstring>

#include "libpool/environment.hpp"
#include "libpool/executor.hpp"
#include "master.hpp"
#include "mpi_check.hpp"
#include "worker.hpp"

namespace libpool {
namespace detail {

// ---------------------------------------------------------------------------------------------
// Start-up

namespace {

// Start-up agreement: registries, initializer, liveness settings, and the outcome on every rank.
struct Setup {
  std::shared_ptr<const InitializerSpec> init;
  std::uint64_t max_tasks = 0;
  bool all_threads = false;        // every rank may run a task thread
  WorkerConfig worker;             // the master's settings for the workers
  std::vector<std::string> hosts;  // every rank's processor name (rank 0 only)
};

std::uint64_t bits_of(double x) {
  std::uint64_t b = 0;
  std::memcpy(&b, &x, sizeof b);
  return b;
}
double double_of(std::uint64_t b) {
  double x = 0;
  std::memcpy(&x, &b, sizeof x);
  return x;
}

// The liveness options, checked on rank 0: "" if valid, else what is wrong.
std::string check_liveness_options(const Options& o) {
  const double hb = o.heartbeat_interval.count();
  const double wt = o.worker_timeout.count();
  if (!(hb > 0) || !std::isfinite(hb)) return "heartbeat_interval must be positive and finite";
  if (!(wt >= 0)) return "worker_timeout must be 0 (never) or positive";
  if (wt > 0 && wt < 2 * hb) return "worker_timeout must be at least twice heartbeat_interval";
  if (!(o.task_timeout.count() >= 0)) return "task_timeout must be 0 (none) or positive";
  if (!(o.inline_below.count() >= 0)) return "inline_below must be 0 (never) or positive";
  return "";
}

Setup agree_on_setup(MPI_Comm comm, int rank, int size, const Registry& registry,
                     const Options& options, std::shared_ptr<const InitializerSpec> init,
                     bool threads) {
  // 1. Registries, and whether every rank can run a task thread.
  const std::uint64_t mine[2] = {registry.fingerprint(), threads ? 1u : 0u};
  std::vector<std::uint64_t> all(2 * static_cast<std::size_t>(size));
  LIBPOOL_MPI(MPI_Allgather(mine, 2, MPI_UINT64_T, all.data(), 2, MPI_UINT64_T, comm));
  std::string differ;
  Setup setup;
  setup.all_threads = true;
  for (int r = 0; r < size; ++r) {
    const auto i = 2 * static_cast<std::size_t>(r);
    if (all[i] != all[0]) differ += (differ.empty() ? "" : ", ") + std::to_string(r);
    if (all[i + 1] == 0) setup.all_threads = false;
  }
  if (!differ.empty()) {
    throw BrokenPool("task registries differ between ranks: rank(s) " + differ +
                     " registered other tasks than rank 0; register the same names everywhere");
  }
  // Every rank's host, for the master's messages about a lost rank.
  char name[MPI_MAX_PROCESSOR_NAME] = {};
  const std::string host = processor_name();
  std::memcpy(name, host.data(), std::min(host.size(), sizeof name - 1));
  std::vector<char> names(rank == 0 ? sizeof name * static_cast<std::size_t>(size) : 1);
  LIBPOOL_MPI(
      MPI_Gather(name, sizeof name, MPI_CHAR, names.data(), sizeof name, MPI_CHAR, 0, comm));
  if (rank == 0) {
    for (int r = 0; r < size; ++r) setup.hosts.emplace_back(names.data() + r * sizeof name);
  }

  // 2. The master's initializer, limits and liveness settings, broadcast. status: 0 none,
  // 1 given, 2 unregistered, 3 arguments too large; options: 0 valid, 1 not.
  std::uint64_t head[8] = {0, 0, options.max_tasks_per_worker, 0, 0, 0, 0, 0};
  std::string invalid;
  if (rank == 0) {
    invalid = check_liveness_options(options);
    head[4] = bits_of(options.heartbeat_interval.count());
    const double tt = options.task_timeout.count();
    head[5] = bits_of(std::isfinite(tt) ? tt : 0.0);
    head[6] = bits_of(options.inline_below.count());
    head[7] = invalid.empty() ? 0 : 1;
  }
  if (rank == 0 && init && init->fn) {
    if (const auto* e = registry.find(init->fn)) {
      head[0] = init->args.size() > kMaxMessageBytes ? 3 : 1;
      head[1] = e->hash;
      head[3] = init->args.size();
    } else {
      head[0] = 2;
    }
  }
  LIBPOOL_MPI(MPI_Bcast(head, 8, MPI_UINT64_T, 0, comm));
  if (head[7] != 0) {
    throw Error("libpool::Options: " +
                (rank == 0 ? invalid : std::string("invalid liveness settings on rank 0")));
  }
  if (head[0] == 2) {
    throw BrokenPool("the initializer is not registered: call registry.add(\"name\", fn) for it");
  }
  if (head[0] == 3) throw BrokenPool("the initializer's arguments exceed 2 GiB");
  setup.max_tasks = head[2];
  setup.worker.heartbeat_interval_s = double_of(head[4]);
  setup.worker.task_timeout_s = double_of(head[5]);
  // With an initializer every task runs on the thread the initializer ran on.
  setup.worker.inline_below_s = head[0] == 1 ? 0.0 : double_of(head[6]);
  if (head[0] == 1) {
    auto spec = std::make_shared<InitializerSpec>();
    spec->args.grow(head[3]);
    if (rank == 0 && head[3] > 0) std::memcpy(spec->args.data(), init->args.data(), head[3]);
    LIBPOOL_MPI(MPI_Bcast(spec->args.data(), static_cast<int>(head[3]), MPI_BYTE, 0, comm));
    spec->fn = registry.find(head[1])->fn;
    setup.init = std::move(spec);
  }
  return setup;
}

// Every rank reports whether its initializer ran; the first failure is told to all.
void agree_on_init(MPI_Comm comm, int rank, int size, const std::optional<std::string>& failure) {
  int mine = failure ? rank : size;
  int first = size;
  LIBPOOL_MPI(MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm));
  if (first == size) return;
  std::string text;
  std::uint64_t len = 0;
  if (rank == first) {
    text = "initializer failed on rank " + std::to_string(rank) + " (" + processor_name() +
           "): " + *failure;
    len = text.size();
  }
  LIBPOOL_MPI(MPI_Bcast(&len, 1, MPI_UINT64_T, first, comm));
  text.resize(len);
  LIBPOOL_MPI(MPI_Bcast(text.data(), static_cast<int>(len), MPI_CHAR, first, comm));
  throw BrokenPool(text);
}

}  // namespace
}  // namespace detail

Executor::Executor(const Registry& registry, const Options& options, MPI_Comm comm)
    : registry_(registry) {
  int initialised = 0;
  detail::mpi_check(MPI_Initialized(&initialised), "MPI_Initialized");
  if (!initialised) throw Error("MPI is not initialised: create a libpool::Environment first");
  int level = MPI_THREAD_SINGLE;
  LIBPOOL_MPI(MPI_Query_thread(&level));
  // Below MPI_THREAD_MULTIPLE only the thread that initialised MPI may call it, and the pool
  // calls MPI from the thread that creates it: refuse before any collective.
  if (level < MPI_THREAD_MULTIPLE) {
    int is_main = 0;
    LIBPOOL_MPI(MPI_Is_thread_main(&is_main));
    if (!is_main) {
      throw Error(
          "libpool: create the Executor on the thread that initialised MPI (the one that made "
          "the libpool::Environment): MPI runs MPI_THREAD_FUNNELED, no other thread may call it");
    }
  }
  auto c = std::make_unique<detail::Comm>(comm);
  LIBPOOL_MPI(MPI_Comm_rank(c->get(), &rank_));
  LIBPOOL_MPI(MPI_Comm_size(c->get(), &size_));

  // Does rank 0 run tasks? Always on one rank; otherwise per options, and only if MPI lets a
  // second thread exist (it never calls MPI, but MPI_THREAD_SINGLE forbids threads at all).
  bool master_works = size_ == 1;
  if (size_ > 1 && level >= MPI_THREAD_FUNNELED) {
    master_works = options.master_works == MasterWorks::Yes ||
                   (options.master_works == MasterWorks::Auto && size_ <= 8);
  }
  const bool runs_tasks = rank_ != 0 || master_works;
  const bool threads = level >= MPI_THREAD_FUNNELED;

  auto setup = detail::agree_on_setup(c->get(), rank_, size_, registry, options,
                                      rank_ == 0 ? options.init_ : nullptr, threads);
  detail::TaskRunner runner(registry, setup.init, setup.max_tasks,
                            {rank_, size_, processor_name(), std::chrono::steady_clock::now()});
  std::optional<std::string> failure;
  // Rank 0 (when it works) and every worker run tasks on a task thread, which runs the
  // initializer first; without thread support a worker runs them on its only thread.
  std::unique_ptr<detail::TaskThread> thread;
  if (runs_tasks && size_ > 1 && threads) {
    thread = std::make_unique<detail::TaskThread>(std::move(runner));
    failure = thread->initialized();
  } else if (runs_tasks) {
    failure = runner.initialize();
  }
  detail::agree_on_init(c->get(), rank_, size_, failure);
  // The last collective is a common instant: each rank's clock for TaskInfo starts here.
  const auto epoch = std::chrono::steady_clock::now();

  if (rank_ != 0) {
    if (thread) {
      thread->set_epoch(epoch);
      detail::serve(c->get(), thread->runner(), thread.get(), setup.worker, options.stop_flag);
    } else {
      runner.set_epoch(epoch);
      detail::serve(c->get(), runner, nullptr, setup.worker, options.stop_flag);
    }
    return;  // the thread's destructor waits for a task it may still run (after an abandon)
  }
  std::optional<detail::TaskRunner> inline_runner;
  if (thread) {
    thread->set_epoch(epoch);
  } else if (size_ == 1) {
    runner.set_epoch(epoch);
    inline_runner.emplace(std::move(runner));
  }
  detail::Liveness liveness;
  // Workers without a task thread cannot answer while they run a task: no verdicts on them.
  liveness.worker_timeout_s = setup.all_threads ? options.worker_timeout.count() : 0.0;
  liveness.task_timeout_s = setup.worker.task_timeout_s;
  liveness.hosts = std::move(setup.hosts);
  master_ =
      std::make_unique<detail::Master>(registry, std::move(c), size_, options, std::move(liveness),
                                       std::move(inline_runner), std::move(thread));
}

}  // namespace libpool
