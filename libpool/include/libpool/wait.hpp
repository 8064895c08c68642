#pragma once
// wait() and as_completed() over futures, as in concurrent.futures. Both take the futures as a
// set: a future listed several times counts, and is returned or yielded, once.

#include <cstddef>
#include <deque>
#include <iterator>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "libpool/future.hpp"

namespace libpool {

enum class ReturnWhen { FirstCompleted, FirstException, AllCompleted };

// Python returns two sets; here each holds distinct futures in the order of their first
// appearance in the input.
template <class T>
struct DoneAndNotDone {
  std::vector<Future<T>> done;
  std::vector<Future<T>> not_done;
};

namespace detail {

// Shared between a waiter and the done-callbacks it registered; outlives either.
struct Waiter {
  std::size_t finished = 0;
  bool any_exception = false;
  std::deque<std::size_t> order;  // indices, in completion order
};

MasterCore* master_of(const std::vector<WorkBase*>& works);

// The distinct futures of fs, each at its first position (Python's set(fs), order kept).
template <class T>
std::vector<Future<T>> distinct(std::vector<Future<T>> fs) {
  std::unordered_set<const WorkBase*> seen;
  seen.reserve(fs.size());
  std::size_t kept = 0;
  for (std::size_t i = 0; i < fs.size(); ++i) {
    if (!seen.insert(&fs[i].work()).second) continue;
    if (kept != i) fs[kept] = std::move(fs[i]);
    ++kept;
  }
  fs.resize(kept);
  return fs;
}

// Registers a callback on every unfinished future that records it in the waiter; the returned
// guard removes those callbacks again, so repeated waits on the same futures do not pile up.
template <class T>
class Watch {
 public:
  explicit Watch(const std::vector<Future<T>>& fs) : waiter(std::make_shared<Waiter>()) {
    for (std::size_t i = 0; i < fs.size(); ++i) {
      WorkBase& work = fs[i].work();
      auto note = [w = waiter.get(), i, &work] {
        ++w->finished;
        w->any_exception |= (work.state == WorkState::Finished && work.error != nullptr);
        w->order.push_back(i);
      };
      if (work.done()) {
        note();
      } else {
        registered_.emplace_back(fs[i], work.add_callback(std::move(note)));
      }
    }
  }
  ~Watch() {
    for (auto& [f, id] : registered_) f.work().remove_callback(id);
  }
  Watch(const Watch&) = delete;
  Watch& operator=(const Watch&) = delete;

  std::shared_ptr<Waiter> waiter;

 private:
  std::vector<std::pair<Future<T>, WorkBase::CallbackId>> registered_;
};

template <class T>
MasterCore* master_of(const std::vector<Future<T>>& fs) {
  std::vector<WorkBase*> works;
  works.reserve(fs.size());
  for (const auto& f : fs) works.push_back(&f.work());
  return master_of(works);
}

}  // namespace detail

// Waits until the condition holds or the timeout runs out, then splits the distinct futures.
template <class T>
DoneAndNotDone<T> wait(const std::vector<Future<T>>& futures,
                       ReturnWhen when = ReturnWhen::AllCompleted, Seconds timeout = kForever) {
  const std::vector<Future<T>> fs = detail::distinct(futures);
  detail::Watch<T> watch(fs);
  auto* w = watch.waiter.get();
  auto satisfied = [&] {
    switch (when) {
      case ReturnWhen::FirstCompleted:
        return w->finished > 0 || fs.empty();
      case ReturnWhen::FirstException:
        return w->any_exception || w->finished == fs.size();
      case ReturnWhen::AllCompleted:
        break;
    }
    return w->finished == fs.size();
  };
  if (!satisfied()) {
    if (auto* m = detail::master_of(fs))
      m->progress_until(satisfied, detail::deadline_after(timeout));
  }
  DoneAndNotDone<T> out;
  for (const auto& f : fs) (f.done() ? out.done : out.not_done).push_back(f);
  return out;
}

// Yields the distinct futures as they complete (those already done first), each once. Throws
// TimeoutError from the iterator if the timeout, counted from this call, runs out with futures
// still pending.
template <class T>
class AsCompleted {
 public:
  AsCompleted(std::vector<Future<T>> fs, Seconds timeout)
      : fs_(detail::distinct(std::move(fs))),
        watch_(std::make_unique<detail::Watch<T>>(fs_)),
        waiter_(watch_->waiter),
        deadline_(detail::deadline_after(timeout)),
        master_(detail::master_of(fs_)) {}

  class iterator {
   public:
    using value_type = Future<T>;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    explicit iterator(AsCompleted* owner) : owner_(owner) { advance(); }
    const Future<T>& operator*() const { return owner_->fs_[index_]; }
    const Future<T>* operator->() const { return &owner_->fs_[index_]; }
    iterator& operator++() {
      advance();
      return *this;
    }
    void operator++(int) { advance(); }
    bool operator==(std::default_sentinel_t) const { return owner_ == nullptr; }

   private:
    void advance() {
      if (owner_->yielded_ == owner_->fs_.size()) {
        owner_ = nullptr;
        return;
      }
      auto& order = owner_->waiter_->order;
      if (order.empty()) {
        // As Python, the deadline is checked whenever nothing finished is left to yield; but
        // the first wait always takes a step, since on one rank that is what runs a task.
        if (owner_->waited_ && detail::Clock::now() >= owner_->deadline_) owner_->timed_out();
        owner_->waited_ = true;
        const bool got =
            owner_->master_ != nullptr &&
            owner_->master_->progress_until([&] { return !order.empty(); }, owner_->deadline_);
        if (!got) owner_->timed_out();
      }
      index_ = order.front();
      order.pop_front();
      ++owner_->yielded_;
    }
    AsCompleted* owner_ = nullptr;
    std::size_t index_ = 0;
  };

  iterator begin() { return iterator(this); }
  std::default_sentinel_t end() const { return {}; }

 private:
  [[noreturn]] void timed_out() const {
    throw TimeoutError(std::to_string(fs_.size() - yielded_) + " (of " +
                       std::to_string(fs_.size()) + ") futures unfinished");
  }

  std::vector<Future<T>> fs_;
  std::unique_ptr<detail::Watch<T>> watch_;
  std::shared_ptr<detail::Waiter> waiter_;
  detail::Clock::time_point deadline_;
  detail::MasterCore* master_;
  std::size_t yielded_ = 0;
  bool waited_ = false;
};

template <class T>
AsCompleted<T> as_completed(std::vector<Future<T>> fs, Seconds timeout = kForever) {
  return AsCompleted<T>(std::move(fs), timeout);
}

}  // namespace libpool
