#pragma once
// The worker loop (ranks >= 1). See the protocol diagram on top of master.cpp.

#include <mpi.h>

#include <csignal>

#include "runner.hpp"
#include "task_thread.hpp"

namespace libpool::detail {

// The master's settings, broadcast at start-up.
struct WorkerConfig {
  double heartbeat_interval_s = 0.5;  // send something at least this often
  double task_timeout_s = 0;          // 0: no limit
  double inline_below_s = 0;          // 0: every task goes to the task thread
};

// Serves tasks on the calling (MPI) thread until the master says stop. With a task thread, tasks
// run there (tiny ones may run inline, see WorkerLoop in worker.cpp) while this thread keeps
// receiving, sending results and heartbeats, and watching the running task's time. Without one
// (MPI without thread support) every task runs here and the rank answers only between tasks.
// runner is thread->runner() when there is a thread.
// stop_flag (may be null): Options::stop_flag, reported to the master once it is set.
void serve(MPI_Comm comm, TaskRunner& runner, TaskThread* thread, const WorkerConfig& config,
           volatile std::sig_atomic_t* stop_flag);

}  // namespace libpool::detail
