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
  TaskHeader h{};
  if (size >= sizeof h) std::memcpy(&h, task, sizeof h);
  s.running = Running{h.work_id, h.task_hash, Clock::now(), ++s.started};
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
    if (!s.spare.empty()) {
      out = std::move(s.spare.back());
      s.spare.pop_back();
    }
    out.clear();
    if (job.kind == JobKind::Task) {
      start(s, job.data, job.size);
      lock.unlock();
      s.runner.run(job.data, job.size, out);
      lock.lock();
    } else {
      run_replies(s, job, out, lock);
    }
    s.running.reset();
    s.results.push_back(std::move(out));
    s.results_waiting.fetch_add(1, std::memory_order_release);
    if (s.owner_waiting) s.results_cv.notify_one();
  }
}

// A worker's job: its tasks' results in replies, as the worker's MPI thread would build them
// running the tasks itself. Called and returns with the lock held; the last reply is left in
// out for the caller to publish.
void TaskThread::run_replies(State& s, const Job& job, Writer& out,
                             std::unique_lock<std::mutex>& lock) {
  Reader r(job.data, job.size);
  std::uint64_t left = 1;
  if (job.kind == JobKind::Batch) left = r.get<BatchCount>();
  BatchCount parts = 0;
  Clock::time_point started{};
  while (left > 0 && !s.skip_rest) {
    const std::byte* task = job.data;
    std::size_t len = job.size;
    if (job.kind == JobKind::Batch) {
      len = r.get<std::uint64_t>();
      task = r.take(len);
    }
    if (parts > 0 &&
        (out.size() >= kReplyFlushBytes || Clock::now() - started >= kReplyFlushTime)) {
      // This reply is due: publish it and start the next.
      std::memcpy(out.data(), &parts, sizeof parts);
      s.results.push_back(std::move(out));
      s.results_waiting.fetch_add(1, std::memory_order_release);
      if (s.owner_waiting) s.results_cv.notify_one();
      out = Writer();
      if (!s.spare.empty()) {
        out = std::move(s.spare.back());
        s.spare.pop_back();
        out.clear();
      }
      parts = 0;
    }
    if (parts == 0) {
      out.put(BatchCount{0});
      started = Clock::now();
    }
    start(s, task, len);
    lock.unlock();
    const std::size_t at = out.size();
    out.put(std::uint64_t{0});
    s.runner.run(task, len, out);
    const std::uint64_t written = out.size() - at - sizeof(std::uint64_t);
    std::memcpy(out.data() + at, &written, sizeof written);
    ++parts;
    --left;
    lock.lock();
  }
  if (parts == 0) {
    out.put(BatchCount{0});  // an empty batch (the caller never sends one): an empty reply
  } else {
    std::memcpy(out.data(), &parts, sizeof parts);
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
