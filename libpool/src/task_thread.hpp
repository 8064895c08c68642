#pragma once
// A task thread: runs tasks handed over in memory and never calls MPI. Rank 0 has one for its own
// share of the work; every worker rank has one so that its MPI (main) thread keeps answering the
// master - results, heartbeats, timeouts - while a task runs. It runs the initializer itself
// first, so the tasks it runs see what the initializer set up, thread-local state included.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "libpool/detail/protocol.hpp"
#include "runner.hpp"

namespace libpool::detail {

class TaskThread {
 public:
  using Clock = std::chrono::steady_clock;

  explicit TaskThread(TaskRunner runner);
  // Lets the running task (if any) and the queued ones finish, then joins.
  ~TaskThread();
  TaskThread(const TaskThread&) = delete;
  TaskThread& operator=(const TaskThread&) = delete;

  // Waits for the initializer run on the thread: "type: message" of its failure, or nullopt.
  std::optional<std::string> initialized();
  // Sets the TaskInfo clock; call before the first push (the push's lock publishes it).
  void set_epoch(Clock::time_point t);
  // The runner, for inline runs on the owner's thread: only while no job is queued or running
  // (the hand-over of the last result ordered the thread's use of it before).
  TaskRunner& runner() noexcept { return state_->runner; }

  // What a job is, and what it gives back.
  enum class JobKind : std::uint8_t {
    Task,   // one task message -> its result message (rank 0's thread)
    Reply,  // one task message -> a reply: BatchCount + (uint64 length + result message)*
    Batch,  // a batch of task messages (BatchCount + (length + task)*) -> one or more replies
  };
  // A worker's reply goes out when it holds kReplyFlushBytes, when its first result has waited
  // kReplyFlushTime as the next task starts, and when the owner releases it (release_held) while
  // a long task runs: a finished result does not wait behind a long later task of its batch.

  // The message must stay alive and unchanged until all its results have been popped; a Batch
  // must be well framed (the caller checks).
  void push(const std::byte* data, std::size_t size, JobKind kind = JobKind::Task);
  // Moves the oldest finished result or reply into out (out's old buffer is recycled); false if
  // there is none.
  bool pop_result(Writer& out);
  // Blocks until a result is ready or `timeout` has passed; for an owner that sleeps while the
  // thread works. Returns at once if a result is ready.
  void wait_for_result(std::chrono::nanoseconds timeout);
  // Publishes the reply being built (finished results of a Reply or Batch job) if the task
  // running now has run `limit` or longer. Returns when to look again (the running task's start
  // plus limit), or Clock::time_point::max() when nothing is held.
  Clock::time_point release_held(Clock::duration limit);

  // The task being run now, if any.
  struct Running {
    std::uint64_t work_id = 0;
    std::uint64_t task_hash = 0;
    Clock::time_point since;
    std::uint64_t seq = 0;  // counts the jobs started: tells two runs of one work id apart
  };
  std::optional<Running> running();

  // Drops the jobs not started yet, and the tasks not started of the running job (a batch);
  // returns how many jobs were dropped. What is dropped never gets a result.
  std::size_t drop_queued();
  // Whether a job is queued or running.
  bool busy();
  // Gives up on the thread: queued jobs are dropped, the running task (which cannot be stopped)
  // finishes on a detached thread, which then exits. `keep` holds the buffers the thread may still
  // read; they are freed when it is done. The object may be destroyed right after.
  void abandon(std::vector<Writer> keep);

 private:
  struct Job {
    const std::byte* data;
    std::size_t size;
    JobKind kind;
  };
  // Everything the thread touches, shared with it so that an abandoned thread outlives the object.
  struct State {
    explicit State(TaskRunner r) : runner(std::move(r)) {}
    TaskRunner runner;
    std::mutex mutex;
    std::condition_variable jobs_cv;     // the thread waits here for work
    std::condition_variable results_cv;  // the owner waits here in wait_for_result
    std::deque<Job> jobs;
    std::deque<Writer> results;
    std::vector<Writer> spare;
    std::vector<Writer> keep;  // buffers an abandoned thread may still read
    std::optional<Running> running;
    std::uint64_t started = 0;
    bool thread_waiting = false;
    bool owner_waiting = false;
    bool stop = false;
    bool skip_rest = false;  // drop_queued(): the running batch runs no more of its tasks
    std::atomic<std::size_t> results_waiting{0};
    // The reply being built from a Reply or Batch job's finished results (BatchCount + parts).
    Writer reply;
    BatchCount reply_parts = 0;
    Clock::time_point reply_started{};  // when its first task started
    bool hold_told = false;             // the owner was woken for the results it holds
  };
  static void loop(State& s);
  static void run_replies(State& s, const Job& job, Writer& task_out,
                          std::unique_lock<std::mutex>& lock);
  // With the lock held: moves a finished result or reply to the owner's queue.
  static void publish(State& s, Writer&& result);
  static void publish_reply(State& s);
  static Writer take_spare(State& s);
  static void start(State& s, const std::byte* task, std::size_t size);

  std::shared_ptr<State> state_;
  std::future<std::optional<std::string>> init_result_;
  std::thread thread_;
};

// Keeps a buffer alive until the process ends: the buffer of a send that was given up on (its
// request freed with MPI_Request_free), which MPI may still read if the peer ever receives it.
void keep_forever(Writer buffer) noexcept;

}  // namespace libpool::detail
