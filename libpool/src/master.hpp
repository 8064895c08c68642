#pragma once
// The master side of the pool (rank 0). See the protocol diagram on top of master.cpp.

#include <mpi.h>

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "libpool/executor.hpp"
#include "runner.hpp"
#include "task_thread.hpp"

namespace libpool::detail {

// RAII for a private duplicate of the user's communicator, with errors returned, not fatal.
class Comm {
 public:
  explicit Comm(MPI_Comm parent);
  ~Comm();
  Comm(const Comm&) = delete;
  Comm& operator=(const Comm&) = delete;
  MPI_Comm get() const noexcept { return comm_; }
  // Never frees the communicator: a rank the master gave up on may still send on it, and a freed
  // context id would be reused by a later communicator, which would then receive those messages.
  void leak() noexcept { comm_ = MPI_COMM_NULL; }

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
};

// What the master needs to know about liveness, agreed at start-up.
struct Liveness {
  double worker_timeout_s = 0;     // 0: never give up on a worker
  double task_timeout_s = 0;       // 0: no limit
  std::vector<std::string> hosts;  // every rank's processor name, for messages
};

class Master final : public MasterCore {
 public:
  Master(const Registry& registry, std::unique_ptr<Comm> comm, int size, const Options& options,
         Liveness liveness, std::optional<TaskRunner> inline_runner,
         std::unique_ptr<TaskThread> local);
  ~Master() override;

  void enqueue(std::shared_ptr<WorkBase> work, TaskKind kind) override;
  void fail(std::shared_ptr<WorkBase> work, std::exception_ptr error) override;
  bool progress_until(const std::function<bool()>& done, Clock::time_point deadline) override;
  bool cancel(WorkBase& work) override;
  void shutdown(bool wait, bool cancel_futures) override;
  std::size_t workers() const noexcept override {
    return remotes_.size() + ((local_ || inline_) ? 1 : 0);
  }
  std::size_t window() const noexcept override { return window_; }
  void check_accepting() const override;
  std::optional<std::string> broken() const override { return broken_; }
  std::optional<std::pair<int, int>> worker_signal() const override { return worker_signal_; }
  void signal_workers(int signal) override;

 private:
  struct InFlight {
    std::shared_ptr<WorkBase> work;
    MPI_Request request = MPI_REQUEST_NULL;  // set on the last task of each message
    Writer batch;                            // the message's buffer, when several tasks share it
  };
  struct Remote {
    int rank = 0;
    std::deque<InFlight> in_flight;
    // Liveness: heard is set by every message received and folded into last_heard by
    // check_health(), so that receiving costs no clock read.
    bool heard = false;
    bool lost = false;      // given up on (silent, or a task overran): nothing more is awaited
    bool said_bye = false;  // answered a normal stop: nothing more will come
    Clock::time_point last_heard;
  };

  bool progress_once();
  bool dispatch();
  bool send_to(Remote& remote, std::size_t room);
  bool collect_remote();
  // The message being received has not arrived yet: gives up on its sender after long enough.
  void receive_stalled();
  void complete_next(Remote& remote, const std::byte* msg, std::size_t n);
  bool collect_local();
  bool run_inline();
  std::shared_ptr<WorkBase> pop_queued();
  bool idle() const;
  void handle_result(const std::shared_ptr<WorkBase>& work, const std::byte* msg, std::size_t n,
                     int rank);
  void break_pool(const std::string& why);
  void break_pool(std::exception_ptr error, const std::string& why);
  // Liveness: folds what was heard into last_heard, gives up on silent workers and on rank 0's
  // task thread when its task overran. Only judges after a full drain of the incoming messages.
  void check_health();
  // Receives until the incoming queue is known empty; false if it never was (a flood).
  bool drain_incoming();
  void lose_remote(Remote& remote, std::exception_ptr error, const std::string& why);
  void on_task_timeout(Remote& remote, const std::byte* msg, std::size_t n);
  RemoteErrorInfo where(const WorkBase* work, int rank) const;
  // Forgets a remote's in-flight tasks without waiting for their sends.
  void drop_in_flight(Remote& remote);
  // The one way work completes: records the outcome; its callbacks run later, from
  // run_callbacks(), once the master's bookkeeping is consistent (at the end of every entry
  // point: a progress round, enqueue, fail, cancel).
  void complete(const std::shared_ptr<WorkBase>& work, std::exception_ptr error);
  void complete_cancelled(WorkBase& work);
  void run_callbacks() noexcept;
  void check_thread() const;
  void abandon() noexcept;
  void update_window(double task_seconds);
  void stop_workers() noexcept;
  void await_goodbyes() noexcept;

  const Registry& registry_;
  static constexpr double kLocalMinTaskSeconds = 25e-6;

  std::unique_ptr<Comm> comm_;
  int size_;
  // Tasks one worker holds at once: 1 + Options::prefetch, or adapted to the tasks' mean time
  // (2 for long tasks, up to 16 for tiny ones) when prefetch is -1.
  std::size_t window_ = 2;
  bool adaptive_window_ = true;
  Liveness liveness_;
  std::vector<Remote> remotes_;
  std::unique_ptr<TaskThread> local_;
  std::deque<std::shared_ptr<WorkBase>> local_in_flight_;
  std::optional<TaskRunner> inline_;
  std::deque<std::shared_ptr<WorkBase>> queue_;
  std::size_t in_flight_ = 0;  // tasks handed to workers (remote and local) and not yet back
  std::uint64_t next_id_ = 0;
  double mean_task_s_ = -1;
  std::size_t rr_ = 0;
  bool shutdown_ = false;
  bool stopped_ = false;
  bool lost_ = false;             // a rank was lost or a task overran: wait for nobody from now on
  bool local_lost_ = false;       // rank 0's task thread overran its task timeout
  bool discarding_ = false;       // abandon(): results are dropped, not decoded
  std::exception_ptr abandoned_;  // abandon(): what unfinished work fails with
  bool drained_ = true;           // the last collect_remote() ended on an empty probe
  int received_ = 0;              // messages the last collect_remote() received
  bool watching_ = false;         // any liveness or timeout check to make
  std::uint32_t polls_ = 0;
  Clock::time_point next_check_{};
  std::optional<std::string> broken_;
  std::optional<std::pair<int, int>> worker_signal_;  // rank, signal (kTagSignal)
  std::exception_ptr broken_error_;
  Writer recv_;
  struct Receiving {
    MPI_Request request = MPI_REQUEST_NULL;  // recv_ is being received
    int rank = 0;
    int tag = 0;
    Clock::time_point since{};  // when it was first found not complete
  } receiving_;
  Writer local_result_;
  // Completed, callbacks not yet run; cancelled work is held by the caller, the rest here.
  std::vector<std::shared_ptr<WorkBase>> completed_;
  std::vector<WorkBase*> cancelled_;
  std::thread::id thread_;  // the one thread that drives the pool
};

}  // namespace libpool::detail
