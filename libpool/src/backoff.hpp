#pragma once
// Idle waiting that does not burn a core. Open MPI's blocking calls busy-poll, so the pool never
// blocks inside MPI: it polls, and between empty polls it spins briefly (fast hand-offs), then
// yields (oversubscribed ranks get the core), then sleeps, doubling up to max_sleep.

#include <sched.h>

#include <chrono>
#include <thread>

namespace libpool::detail {

class Backoff {
 public:
  explicit Backoff(std::chrono::microseconds max_sleep = std::chrono::microseconds(1000))
      : max_sleep_(max_sleep) {}

  void reset() noexcept {
    idle_ = 0;
    sleep_ = std::chrono::microseconds(50);
  }
  // Call after a poll that found nothing to do.
  void idle() {
    ++idle_;
    if (idle_ <= kSpins) return;
    if (idle_ <= kSpins + kYields) {
      sched_yield();
      return;
    }
    std::this_thread::sleep_for(sleep_);
    if (sleep_ < max_sleep_) sleep_ = std::min(2 * sleep_, max_sleep_);
  }

 private:
  static constexpr unsigned kSpins = 256;
  static constexpr unsigned kYields = 64;
  std::chrono::microseconds max_sleep_;
  std::chrono::microseconds sleep_{50};
  unsigned idle_ = 0;
};

}  // namespace libpool::detail
