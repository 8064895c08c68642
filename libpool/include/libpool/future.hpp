#pragma once
// Future<T>: the handle submit() returns, with Python's concurrent.futures.Future semantics.
//
// Futures live on the master rank. Waiting on one drives the pool (dispatch and collection run
// inside get(), wait(), as_completed(), ...), so no thread is needed behind the caller's back.

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "libpool/codec.hpp"
#include "libpool/detail/protocol.hpp"
#include "libpool/errors.hpp"

namespace libpool {

using Seconds = std::chrono::duration<double>;
// The default timeout: wait as long as it takes.
inline constexpr Seconds kForever{std::numeric_limits<double>::infinity()};

// Where and when a piece of work ran: rank, and seconds since the pool started (each rank's own
// clock, started at the same barrier).
struct TaskInfo {
  int rank = -1;
  double start_s = 0;
  double end_s = 0;
};

namespace detail {

enum class WorkState : std::uint8_t { Pending, Running, Finished, Cancelled };

using Clock = std::chrono::steady_clock;
Clock::time_point deadline_after(Seconds timeout);

struct WorkBase;

// The master of a pool (rank 0), as the headers see it: futures, maps and the Executor talk to
// the pool through this interface only; its one implementation is detail::Master (master.cpp).
class MasterCore {
 public:
  virtual ~MasterCore() = default;
  // Numbers the work, writes its task header and queues it (may start it at once). Work that
  // cannot be scheduled (shutdown, broken pool) completes with the reason.
  virtual void enqueue(std::shared_ptr<WorkBase> work, TaskKind kind) = 0;
  // Completes work that failed before it could be queued (an argument that did not encode).
  virtual void fail(std::shared_ptr<WorkBase> work, std::exception_ptr error) = 0;
  // Runs the pool until done() is true or the deadline passes; returns done().
  virtual bool progress_until(const std::function<bool()>& done, Clock::time_point deadline) = 0;
  // Cancels work that has not been handed to a worker yet; true if it is (now) cancelled.
  virtual bool cancel(WorkBase& work) = 0;
  virtual void shutdown(bool wait, bool cancel_futures) = 0;
  // Ranks that run tasks, and the tasks each holds at once (1 + Options::prefetch).
  virtual std::size_t workers() const noexcept = 0;
  virtual std::size_t window() const noexcept = 0;
  // Throws what new work would fail with (a broken pool's error, or shutdown), if anything.
  virtual void check_accepting() const = 0;
  virtual std::optional<std::string> broken() const = 0;
  // The first worker that reported a signal (Options::stop_flag): its rank and the signal.
  virtual std::optional<std::pair<int, int>> worker_signal() const = 0;
  // Sets Options::stop_flag to `signal` on every worker still in the pool.
  virtual void signal_workers(int signal) = 0;
};

// One unit of work as the master tracks it: a submit, or one chunk of a map.
struct WorkBase {
  virtual ~WorkBase() = default;
  // Decodes a successful result; a decoding failure becomes the work's exception.
  virtual void decode_result(Reader& r) = 0;

  bool done() const noexcept {
    return state == WorkState::Finished || state == WorkState::Cancelled;
  }
  // Sets the outcome without running callbacks. Only the master completes work (Master::complete),
  // in the middle of its own bookkeeping; it runs the callbacks once that is consistent again.
  void settle(std::exception_ptr e = nullptr) {
    error = std::move(e);
    state = WorkState::Finished;
  }
  void settle_cancelled() noexcept { state = WorkState::Cancelled; }
  // Runs and drops the callbacks. One that throws is reported on stderr and does not stop the
  // others (Python logs it the same way): user code must not be able to derail the pool.
  void run_callbacks() noexcept;

  using CallbackId = std::uint64_t;
  CallbackId add_callback(std::function<void()> fn) {
    callbacks.emplace_back(++last_callback, std::move(fn));
    return last_callback;
  }
  void remove_callback(CallbackId which) noexcept {
    std::erase_if(callbacks, [which](const auto& c) { return c.first == which; });
  }

  MasterCore* master = nullptr;
  std::uint64_t id = 0;
  std::uint64_t task_hash = 0;
  std::uint64_t chunk = 0;       // chunk index (map) or position (submit): for error messages
  std::uint64_t item_begin = 0;  // map only
  std::uint64_t item_count = 0;  // map only: 0 means a submit
  Writer message;                // header + payload; dropped once the result is in
  WorkState state = WorkState::Pending;
  std::exception_ptr error;
  TaskInfo info;
  std::vector<std::pair<CallbackId, std::function<void()>>> callbacks;
  CallbackId last_callback = 0;
};

template <class T>
struct ResultState : WorkBase {
  using Value = std::conditional_t<std::is_void_v<T>, std::monostate, T>;
  void decode_result(Reader& r) override {
    if constexpr (std::is_void_v<T>) {
      r.expect_end();
    } else {
      value.emplace(r.get<T>());
      r.expect_end();
    }
  }
  std::optional<Value> value;
};

// Blocks (driving the pool) until work is done or the timeout passes; true if done.
bool wait_done(WorkBase& work, Seconds timeout);
// The same with a deadline.
inline bool wait_done_until(WorkBase& work, Clock::time_point deadline) {
  if (work.done()) return true;
  return work.master->progress_until([&] { return work.done(); }, deadline);
}

}  // namespace detail

template <class T>
class Future {
 public:
  using value_type = T;
  Future() = default;
  explicit Future(std::shared_ptr<detail::ResultState<T>> state) : state_(std::move(state)) {}

  bool valid() const noexcept { return state_ != nullptr; }
  bool done() const noexcept { return state_->done(); }
  bool running() const noexcept { return state_->state == detail::WorkState::Running; }
  bool cancelled() const noexcept { return state_->state == detail::WorkState::Cancelled; }

  // Cancels the work if no worker has it yet; true if the future is (now) cancelled.
  bool cancel() {
    if (state_->state == detail::WorkState::Cancelled) return true;
    if (state_->state != detail::WorkState::Pending) return false;
    return state_->master->cancel(*state_);
  }

  // Waits until done; false if the timeout ran out first.
  bool wait(Seconds timeout = kForever) const { return detail::wait_done(*state_, timeout); }

  // The result. Rethrows the task's exception (one thrown on a worker: Remote<std::...> for a
  // standard type, RemoteError for any other, both RemoteInfo), CancelledError if cancelled,
  // TimeoutError if not done in time. May be called repeatedly.
  // On a named future it returns a reference into the future; on a temporary
  // (`pool.submit(f, x).get()`) it returns the value itself, so nothing dangles.
  decltype(auto) get(Seconds timeout = kForever) const& {
    check_done(timeout);
    if (state_->error) std::rethrow_exception(state_->error);
    if constexpr (std::is_void_v<T>) {
      return;
    } else {
      return static_cast<const T&>(*state_->value);
    }
  }
  auto get(Seconds timeout = kForever) && {
    check_done(timeout);
    if (state_->error) std::rethrow_exception(state_->error);
    if constexpr (std::is_void_v<T>) {
      return;
    } else if (state_.use_count() == 1) {
      return T(std::move(*state_->value));
    } else {
      return T(*state_->value);
    }
  }

  // The task's exception, or nullptr if it succeeded.
  std::exception_ptr exception(Seconds timeout = kForever) const {
    check_done(timeout);
    return state_->error;
  }

  // Calls fn(future) once the future is done (at once if it already is), on the master.
  // Callbacks run in the order they were added. One that throws is reported on stderr and
  // ignored, also when it runs at once here (as Python logs it).
  void add_done_callback(std::function<void(const Future&)> fn) const {
    // A future the master has just settled may still have callbacks waiting for their turn
    // (they run once its bookkeeping is consistent): the new one goes after them.
    const bool call_now = done() && state_->callbacks.empty();
    state_->add_callback([self = *this, fn = std::move(fn)] { fn(self); });
    if (call_now) state_->run_callbacks();
  }

  // Which rank ran it and when. Meaningful once done and not cancelled.
  const TaskInfo& info() const noexcept { return state_->info; }

  // Futures are keys, as in Python (`futures[future]`): equal when they are the same future.
  friend bool operator==(const Future& a, const Future& b) noexcept { return a.state_ == b.state_; }
  friend struct std::hash<Future>;
  detail::WorkBase& work() const noexcept { return *state_; }

 private:
  void check_done(Seconds timeout) const {
    if (!detail::wait_done(*state_, timeout)) throw TimeoutError();
    if (state_->state == detail::WorkState::Cancelled) throw CancelledError();
  }
  std::shared_ptr<detail::ResultState<T>> state_;
};

}  // namespace libpool

template <class T>
struct std::hash<libpool::Future<T>> {
  std::size_t operator()(const libpool::Future<T>& f) const noexcept {
    return std::hash<const void*>{}(f.state_.get());
  }
};
