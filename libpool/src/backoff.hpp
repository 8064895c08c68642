#pragma once
// Idle waiting that does not burn a core. Open MPI's blocking calls busy-poll, so the pool never
// blocks inside MPI: it polls, and between empty polls it
//   - spins for the first ~20 us (a reply to a message just sent arrives within microseconds),
//   - then yields until ~0.5 ms (keeps bursts of tiny tasks flowing; an oversubscribed rank or
//     rank 0's task thread gets the core whenever it wants it),
//   - then sleeps, 50 us doubling up to max_sleep (1 ms): a rank that waits for long costs
//     well under 1% of a core.
// The phases are timed, not counted, so they mean the same on fast and slow polls.

#include <sched.h>

#include <algorithm>
#include <chrono>
#include <thread>

namespace libpool::detail {

class Backoff {
 public:
  using Clock = std::chrono::steady_clock;
  // may_yield = false skips the yield phase: for a thread that shares its core with a busy
  // thread of its own process, where a yield hands over a whole time slice (several ms) while a
  // short sleep ends with a prompt wake-up.
  explicit Backoff(bool may_yield = true,
                   std::chrono::microseconds max_sleep = std::chrono::microseconds(1000))
      : yield_until_(may_yield ? kYield : kSpin), max_sleep_(max_sleep) {}

  void reset() noexcept { idle_ = false; }

  // Call after a poll that found nothing to do.
  void idle() {
    const auto now = Clock::now();
    if (!idle_) {
      idle_ = true;
      idle_since_ = now;
      sleep_ = std::chrono::microseconds(50);
      return;
    }
    const auto waited = now - idle_since_;
    if (waited < kSpin) return;
    if (waited < yield_until_) {
      sched_yield();
      return;
    }
    std::this_thread::sleep_for(sleep_);
    sleep_ = std::min(2 * sleep_, max_sleep_);
  }

 private:
  static constexpr auto kSpin = std::chrono::microseconds(20);
  static constexpr auto kYield = std::chrono::microseconds(500);
  std::chrono::microseconds yield_until_;
  std::chrono::microseconds max_sleep_;
  std::chrono::microseconds sleep_{50};
  bool idle_ = false;
  Clock::time_point idle_since_{};
};

}  // namespace libpool::detail
