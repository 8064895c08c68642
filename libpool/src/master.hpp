#pragma once
// The master side of the pool (rank 0). See the protocol diagram on top of executor.cpp.

#include <mpi.h>

#include <atomic>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "libpool/executor.hpp"
#include "runner.hpp"

namespace libpool::detail {

// RAII for a private duplicate of the user's communicator, with errors returned, not fatal.
class Comm {
 public:
  explicit Comm(MPI_Comm parent);
  ~Comm();
  Comm(const Comm&) = delete;
  Comm& operator=(const Comm&) = delete;
  MPI_Comm get() const noexcept { return comm_; }

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
};

// Rank 0's task thread: runs tasks handed over in memory, never calls MPI. It runs the
// initializer itself first, so rank 0's tasks see what it set up, thread-local state included.
class LocalWorker {
 public:
  explicit LocalWorker(TaskRunner runner);
  ~LocalWorker();
  LocalWorker(const LocalWorker&) = delete;
  LocalWorker& operator=(const LocalWorker&) = delete;

  // Waits for the initializer run on the thread: "type: message" of its failure, or nullopt.
  std::optional<std::string> initialized();
  // Sets the TaskInfo clock; call before the first push (the push's lock publishes it).
  void set_epoch(std::chrono::steady_clock::time_point t);

  // The message must stay alive and unchanged until its result has been popped.
  void push(const std::byte* data, std::size_t size);
  // Moves the oldest finished result into out; false if there is none.
  bool pop_result(Writer& out);

 private:
  struct Job {
    const std::byte* data;
    std::size_t size;
  };
  void loop();

  TaskRunner runner_;
  std::promise<std::optional<std::string>> init_promise_;
  std::future<std::optional<std::string>> init_result_;
  std::mutex mutex_;
  std::deque<Job> jobs_;
  std::deque<Writer> results_;
  std::vector<Writer> spare_;
  std::atomic<std::size_t> jobs_waiting_{0};
  std::atomic<std::size_t> results_waiting_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

class Master final : public MasterCore {
 public:
  Master(const Registry& registry, std::unique_ptr<Comm> comm, int size, const Options& options,
         std::optional<TaskRunner> inline_runner, std::unique_ptr<LocalWorker> local);
  ~Master() override;

  void enqueue(std::shared_ptr<WorkBase> work, TaskKind kind);
  bool progress_until(const std::function<bool()>& done, Clock::time_point deadline) override;
  bool cancel(WorkBase& work) override;
  void shutdown(bool wait, bool cancel_futures);

  bool accepting() const noexcept { return !shutdown_; }
  const std::optional<std::string>& broken() const noexcept { return broken_; }
  std::size_t workers() const noexcept { return remotes_.size() + ((local_ || inline_) ? 1 : 0); }
  std::size_t in_flight_cap() const noexcept { return cap_; }

 private:
  struct InFlight {
    std::shared_ptr<WorkBase> work;
    MPI_Request request = MPI_REQUEST_NULL;  // set on the last task of each message
    Writer batch;                            // the message's buffer, when several tasks share it
  };
  struct Remote {
    int rank = 0;
    std::deque<InFlight> in_flight;
  };

  bool progress_once();
  bool dispatch();
  bool send_to(Remote& remote, std::size_t room);
  bool collect_remote();
  void complete_next(Remote& remote, const std::byte* msg, std::size_t n);
  bool collect_local();
  bool run_inline();
  std::shared_ptr<WorkBase> pop_queued();
  bool idle() const;
  void handle_result(const std::shared_ptr<WorkBase>& work, const std::byte* msg, std::size_t n,
                     int rank);
  void break_pool(const std::string& why);
  // Records an outcome; its callbacks run later, from run_callbacks().
  void settle(const std::shared_ptr<WorkBase>& work, std::exception_ptr error);
  void run_callbacks() noexcept;
  void check_thread() const;
  void abandon() noexcept;
  void update_cap(double task_seconds);
  void stop_workers() noexcept;

  const Registry& registry_;
  static constexpr double kLocalMinTaskSeconds = 25e-6;

  std::unique_ptr<Comm> comm_;
  int size_;
  int prefetch_;
  std::vector<Remote> remotes_;
  std::unique_ptr<LocalWorker> local_;
  std::deque<std::shared_ptr<WorkBase>> local_in_flight_;
  std::optional<TaskRunner> inline_;
  std::deque<std::shared_ptr<WorkBase>> queue_;
  std::size_t in_flight_ = 0;  // tasks handed to workers (remote and local) and not yet back
  std::uint64_t next_id_ = 0;
  std::size_t cap_ = 2;
  double mean_task_s_ = -1;
  std::size_t rr_ = 0;
  bool shutdown_ = false;
  bool stopped_ = false;
  std::optional<std::string> broken_;
  Writer recv_;
  Writer local_result_;
  std::vector<std::shared_ptr<WorkBase>> completed_;  // settled, callbacks not yet run
  std::thread::id thread_;                            // the one thread that drives the pool
};

}  // namespace libpool::detail
