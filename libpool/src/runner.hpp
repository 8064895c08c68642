#pragma once
// TaskRunner turns a task message into a result message. One implementation serves remote
// workers, rank 0's task thread and inline execution on one rank, so every path encodes and
// decodes exactly the same way (and fails the same way).

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "libpool/executor.hpp"
#include "libpool/registry.hpp"

namespace libpool::detail {

struct RankInfo {
  int rank = 0;
  int size = 1;
  std::string host;
  std::chrono::steady_clock::time_point epoch;
};

class TaskRunner {
 public:
  TaskRunner(const Registry& registry, std::shared_ptr<const InitializerSpec> init,
             std::uint64_t max_tasks, RankInfo rank)
      : registry_(&registry),
        init_(std::move(init)),
        max_tasks_(max_tasks),
        rank_(std::move(rank)) {}

  // Runs the initializer (if any). Returns "type: message" of what it threw, or nullopt.
  std::optional<std::string> initialize();
  // Runs the task in msg[0, n) and appends its complete result message to out.
  void run(const std::byte* msg, std::size_t n, Writer& out);

  // Starts the clock TaskInfo times are counted from (a common instant on every rank).
  void set_epoch(std::chrono::steady_clock::time_point t) noexcept { rank_.epoch = t; }
  double now_s() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - rank_.epoch).count();
  }
  const RankInfo& rank() const noexcept { return rank_; }

 private:
  const Registry* registry_;
  std::shared_ptr<const InitializerSpec> init_;
  std::uint64_t max_tasks_;
  RankInfo rank_;
  std::uint64_t since_init_ = 0;
  std::optional<std::string> broken_;  // why the initializer failed; then nothing runs
};

// "type: message" for the exception being handled.
std::string describe_current_exception();

}  // namespace libpool::detail
