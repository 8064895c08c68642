#include "task_thread.hpp"

#include <cstring>

#include "libpool/detail/protocol.hpp"

namespace libpool::detail {

TaskThread::TaskThread(TaskRunner runner) : state_(std::make_shared<State>(std::move(runner))) {
  std::promise<std::optional<std::string>> init;
  init_result_ = init.get_future();
  thread_ = std::thread([state = state_, init = std::move(init)]() mutable {
    init.set_value(state->runner.initialize());
    loop(*state);
  });
}

TaskThread::~TaskThread() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(state_->mutex);
    state_->stop = true;
  }
  state_->jobs_cv.notify_one();
  thread_.join();
}

std::optional<std::string> TaskThread::initialized() {
  return init_result_.get();
}

void TaskThread::set_epoch(Clock::time_point t) {
  std::lock_guard lock(state_->mutex);
  state_->runner.set_epoch(t);
}

void TaskThread::push(const std::byte* data, std::size_t size, JobKind kind) {
  State& s = *state_;
  bool wake = false;
  {
    std::lock_guard lock(s.mutex);
    s.jobs.push_back({data, size, kind});
    wake = s.thread_waiting;
  }
  if (wake) s.jobs_cv.notify_one();
}

bool TaskThread::pop_result(Writer& out) {
  State& s = *state_;
  if (s.results_waiting.load(std::memory_order_acquire) == 0) return false;
  std::lock_guard lock(s.mutex);
  s.spare.push_back(std::move(out));
  out = std::move(s.results.front());
  s.results.pop_front();
  s.results_waiting.fetch_sub(1, std::memory_order_release);
  return true;
}

void TaskThread::wait_for_result(std::chrono::nanoseconds timeout) {
  State& s = *state_;
  std::unique_lock lock(s.mutex);
  if (!s.results.empty()) return;
  s.owner_waiting = true;
  s.results_cv.wait_for(lock, timeout);
  s.owner_waiting = false;
}

std::optional<TaskThread::Running> TaskThread::running() {
  std::lock_guard lock(state_->mutex);
  return state_->running;
}

std::size_t TaskThread::drop_queued() {
  std::lock_guard lock(state_->mutex);
  const std::size_t n = state_->jobs.size();
  state_->jobs.clear();
  if (state_->running) state_->skip_rest = true;
  return n;
}

bool TaskThread::busy() {
  std::lock_guard lock(state_->mutex);
  return state_->running.has_value() || !state_->jobs.empty();
}

void TaskThread::abandon(std::vector<Writer> keep) {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(state_->mutex);
    state_->jobs.clear();
    state_->skip_rest = true;
    state_->stop = true;
    for (auto& w : keep) state_->keep.push_back(std::move(w));
  }
  state_->jobs_cv.notify_one();
  thread_.detach();
}

// With the lock held: the task starting now, for running().
void TaskThread::start(State& s, const std::byte* task, std::size_t size) {
  // A short message is the runner's to report; its work id is unknown here.
  const std::uint64_t work_id =
      size >= sizeof(TaskHeader) ? read_task_header(task, size).work_id : 0;
  const std::uint64_t hash =
      size >= sizeof(TaskHeader) ? read_task_header(task, size).task_hash : 0;
  s.running = Running{work_id, hash, Clock::now(), ++s.started};
}

Writer TaskThread::take_spare(State& s) {
  Writer w;
  if (!s.spare.empty()) {
    w = std::move(s.spare.back());
    s.spare.pop_back();
  }
  w.clear();
  return w;
}

void TaskThread::publish(State& s, Writer&& result) {
  s.results.push_back(std::move(result));
  s.results_waiting.fetch_add(1, std::memory_order_release);
  if (s.owner_waiting) s.results_cv.notify_one();
}

void TaskThread::publish_reply(State& s) {
  if (s.reply_parts == 0) return;
  set_batch_count(s.reply, s.reply_parts);
  publish(s, std::move(s.reply));
  s.reply = take_spare(s);
  s.reply_parts = 0;
  s.hold_told = false;
}

TaskThread::Clock::time_point TaskThread::release_held(Clock::duration limit) {
  State& s = *state_;
  std::lock_guard lock(s.mutex);
  if (s.reply_parts == 0 || !s.running) return Clock::time_point::max();
  const auto due = s.running->since + limit;
  if (Clock::now() < due) return due;
  publish_reply(s);
  return Clock::time_point::max();
}

void TaskThread::loop(State& s) {
  Writer out;
  std::unique_lock lock(s.mutex);
  while (true) {
    // Sleep until there is work: a busy owner beside this thread gets the whole core.
    while (s.jobs.empty() && !s.stop) {
      s.thread_waiting = true;
      s.jobs_cv.wait(lock);
      s.thread_waiting = false;
    }
    if (s.jobs.empty()) return;  // stopped, and every queued job is done
    const Job job = s.jobs.front();
    s.jobs.pop_front();
    s.skip_rest = false;
    out = take_spare(s);
    if (job.kind == JobKind::Task) {
      start(s, job.data, job.size);
      lock.unlock();
      s.runner.run(job.data, job.size, out);
      lock.lock();
      s.running.reset();
      publish(s, std::move(out));
    } else {
      run_replies(s, job, out, lock);
      s.running.reset();
    }
  }
}

// A worker's job: its tasks' results in replies, as the worker's MPI thread would build them
// running the tasks itself. Each task runs into task_out (this thread's alone); its result then
// joins s.reply under the lock, where the owner may release it while a later task runs long.
// Called and returns with the lock held; every reply of the job is published by then.
void TaskThread::run_replies(State& s, const Job& job, Writer& task_out,
                             std::unique_lock<std::mutex>& lock) {
  Reader r(job.data, job.size);
  std::uint64_t left = 1;
  if (job.kind == JobKind::Batch) left = r.get<BatchCount>();
  bool ran_any = false;
  while (left > 0 && !s.skip_rest) {
    const std::byte* task = job.data;
    std::size_t len = job.size;
    if (job.kind == JobKind::Batch) {
      len = r.get<std::uint64_t>();
      task = r.take(len);
    }
    if (s.reply_parts > 0 &&
        (s.reply.size() >= kReplyFlushBytes || Clock::now() - s.reply_started >= kReplyFlushTime)) {
      publish_reply(s);  // this reply is due: publish it and start the next
    }
    start(s, task, len);
    const auto task_started = s.running->since;
    if (s.reply_parts > 0 && !s.hold_told) {
      // Results wait behind this task: the owner, asleep until its next reply, must come back
      // in time to release them should the task run long.
      s.hold_told = true;
      if (s.owner_waiting) s.results_cv.notify_one();
    }
    lock.unlock();
    task_out.clear();
    begin_batch(task_out);
    const std::size_t at = begin_part(task_out);
    s.runner.run(task, len, task_out);
    end_part(task_out, at);
    --left;
    lock.lock();
    // A large result goes out in a reply of its own, without being copied.
    ran_any = true;
    if (s.reply_parts > 0 && task_out.size() > kReplyFlushBytes) publish_reply(s);
    if (s.reply_parts == 0) {
      std::swap(s.reply, task_out);
      s.reply_started = task_started;
    } else {
      s.reply.write_bytes(task_out.data() + sizeof(BatchCount),
                          task_out.size() - sizeof(BatchCount));
    }
    ++s.reply_parts;
  }
  if (s.reply_parts > 0) {
    publish_reply(s);
  } else if (!ran_any) {
    // Nothing ran (an empty batch, which the caller never sends, or skipped): an empty reply.
    task_out.clear();
    begin_batch(task_out);
    publish(s, std::move(task_out));
  }
}

void keep_forever(Writer buffer) noexcept {
  if (buffer.size() == 0) return;
  // Deliberately leaked (and guarded: the master and a worker may share a process in tests).
  static std::mutex* mutex = new std::mutex;
  static std::vector<Writer>* kept = new std::vector<Writer>;
  try {
    std::lock_guard lock(*mutex);
    kept->push_back(std::move(buffer));
  } catch (...) {
    // Out of memory while growing the list: leak the buffer itself instead.
    (void)new Writer(std::move(buffer));
  }
}

}  // namespace libpool::detail
