#pragma once
// The settings of a pool (Options) and of a map (MapOptions).

#include <algorithm>
#include <concepts>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <ranges>
#include <type_traits>
#include <utility>

#include "libpool/codec.hpp"
#include "libpool/future.hpp"
#include "libpool/registry.hpp"

namespace libpool {

// How map() cuts its input into chunks.
enum class Schedule {
  Dynamic,  // every chunk `chunksize` items, handed to whichever worker is free
  Guided,   // chunks of remaining / (2 * workers), never below `chunksize`: large first, small last
};

struct MapOptions {
  std::size_t chunksize = 0;  // items per chunk; 0 = auto (about len / (workers * 4))
  Schedule schedule = Schedule::Dynamic;
  // Chunks submitted ahead of the consumer (Python 3.14's buffersize); 0 = auto. Bounds the
  // master's memory, so a map over 10^9 items never materialises them.
  std::size_t buffersize = 0;
  // Python's map(timeout=): iteration raises TimeoutError if a result is not there this long
  // after the call to map(); the map then ends and its queued chunks are cancelled.
  Seconds timeout = kForever;
};

// Whether rank 0 also runs tasks (on a thread of its own) besides dispatching.
enum class MasterWorks { Auto, Yes, No };

class Executor;

namespace detail {
// Type-erased initializer: a registered function and its encoded arguments.
struct InitializerSpec {
  ErasedFn fn = nullptr;
  Writer args;
};
}  // namespace detail

struct Options {
  // Tasks each worker holds beyond the one it runs; -1 = adaptive (more for tiny tasks).
  int prefetch = -1;
  // Auto: rank 0 works when the pool has at most 8 ranks (so `mpirun -n 2` uses two cores), and
  // only dispatches in larger pools, where dispatch needs it.
  MasterWorks master_works = MasterWorks::Auto;
  // After this many tasks a worker runs the initializer again (0 = never); like Python's
  // max_tasks_per_child, without restarting the process.
  std::uint64_t max_tasks_per_worker = 0;

  // Liveness. A worker rank runs its tasks on a task thread while its MPI thread keeps answering,
  // and sends the master a heartbeat whenever it has sent nothing for heartbeat_interval.
  Seconds heartbeat_interval{0.5};
  // A worker the master has heard nothing from (no result, no heartbeat) for this long is lost:
  // the pool breaks with WorkerLost on every pending future. 0 = never. At least twice
  // heartbeat_interval. Rank 0's own task thread and inline execution need no heartbeat.
  Seconds worker_timeout{5.0};
  // A task running longer than this, on any rank, breaks the pool with TaskTimeout (0 = no limit).
  // On one rank tasks run inline and cannot be interrupted: the limit is checked when one returns.
  Seconds task_timeout{0.0};
  // A worker runs a task on its MPI thread (saving the hand-off to its task thread, which bounds
  // the rate of tiny tasks) while tasks of that kind (task function) have averaged below this,
  // none took ten times as long lately and none ever a quarter of heartbeat_interval; a kind
  // never seen, and any that may run long, go to the task thread, so that the rank keeps
  // answering. 0 = always on the task thread. With an initializer every task runs on the task
  // thread (where the initializer ran), so thread-local set-up reaches all of them.
  Seconds inline_below{100e-6};

  // A flag that this rank's signal handler sets to the signal's number (a program that stops
  // on SIGTERM, say). A worker that sees it set tells the master, once; the master's
  // Executor::worker_signal() then names the rank and the signal, so that the program can stop
  // the whole run as if rank 0 had received it (a signal sent to one worker alone, by an
  // administrator or a node's shutdown, would otherwise go unnoticed). The other way round,
  // Executor::signal_workers(sig) sets it on every worker, as if each had received sig (tasks
  // that watch it stop early). Null: not watched.
  volatile std::sig_atomic_t* stop_flag = nullptr;

  // Runs once on every rank that executes tasks, before any task; must be registered. Arguments
  // are taken from the master and broadcast. A failure anywhere breaks the pool on every rank.
  template <class... A, class... Args>
  Options& initializer(void (*fn)(A...), Args&&... args) {
    static_assert(sizeof...(A) == sizeof...(Args), "initializer: wrong number of arguments");
    auto spec = std::make_shared<detail::InitializerSpec>();
    spec->fn = reinterpret_cast<detail::ErasedFn>(fn);
    (spec->args.put(std::decay_t<A>(std::forward<Args>(args))), ...);
    init_ = std::move(spec);
    return *this;
  }

 private:
  friend class Executor;
  std::shared_ptr<const detail::InitializerSpec> init_;
};

// A half-open range of integers [first, last) that map() sends as (first, count) per chunk.
template <std::integral I>
auto iota(I first, I last) {
  return std::views::iota(first, std::max(first, last));
}

}  // namespace libpool
