// Executor's members and the small out-of-line pieces the public headers need. The pool itself
// is detail::Master (master.cpp); the constructor's start-up handshake is in startup.cpp.

#include "libpool/executor.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "libpool/wait.hpp"
#include "runner.hpp"

namespace libpool {

const char* version() noexcept {
  return LIBPOOL_VERSION;
}

namespace detail {

// ---------------------------------------------------------------------------------------------
// Small pieces used by the headers.

Clock::time_point deadline_after(Seconds timeout) {
  if (!std::isfinite(timeout.count())) return Clock::time_point::max();
  const auto now = Clock::now();
  const auto d = std::chrono::duration_cast<Clock::duration>(std::max(timeout, Seconds(0)));
  return d > Clock::time_point::max() - now ? Clock::time_point::max() : now + d;
}

void WorkBase::run_callbacks() noexcept {
  // Callbacks may add callbacks or drop the last reference to another future: take them out.
  auto cbs = std::move(callbacks);
  callbacks.clear();
  for (auto& entry : cbs) {
    try {
      entry.second();
    } catch (...) {
      std::fprintf(stderr, "libpool: a done-callback threw, ignored: %s\n",
                   describe_current_exception().c_str());
    }
  }
}

bool wait_done(WorkBase& work, Seconds timeout) {
  if (work.done()) return true;
  return work.master->progress_until([&] { return work.done(); }, deadline_after(timeout));
}

MasterCore* master_of(const std::vector<WorkBase*>& works) {
  for (auto* w : works) {
    if (!w->done()) return w->master;
  }
  return nullptr;
}

}  // namespace detail

Executor::~Executor() = default;

std::optional<Executor::WorkerSignal> Executor::worker_signal() const {
  if (!master_) return std::nullopt;
  const auto s = master_->worker_signal();
  if (!s) return std::nullopt;
  return WorkerSignal{s->first, s->second};
}

void Executor::signal_workers(int signal) {
  if (master_) master_->signal_workers(signal);
}

std::size_t Executor::workers() const noexcept {
  return master_ ? master_->workers() : static_cast<std::size_t>(size_ - 1);
}

void Executor::check_can_submit() const {
  if (!master_)
    throw Error("submit/map called on worker rank " + std::to_string(rank_) +
                "; only the master (rank 0) submits work");
  master_->check_accepting();
}

detail::MapContext Executor::map_context_base() const {
  detail::MapContext ctx;
  if (master_) {
    ctx.master = master_.get();
    ctx.workers = std::max<std::size_t>(1, master_->workers());
    ctx.window = master_->window();
  }
  return ctx;
}

void Executor::shutdown(bool wait, bool cancel_futures) {
  if (master_) master_->shutdown(wait, cancel_futures);
}

std::optional<std::string> Executor::broken() const {
  return master_ ? master_->broken() : std::nullopt;
}

}  // namespace libpool
