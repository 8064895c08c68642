// poolrun primes: the number of primes in [A, B), counted by libprimesieve over chunks.
#include <functional>

#include "kernels/primes.hpp"
#include "poolrun.hpp"

namespace poolrun {

std::uint64_t count_primes_task(std::uint64_t begin, std::uint64_t end) {
  test_delay();
  return kernels::count_primes(begin, end);
}

namespace {

using libpool::batch::UsageError;

class Primes final : public libpool::batch::Workload {
 public:
  std::string name() const override { return "primes"; }
  std::string description() const override {
    return "the number of primes in [A, B) (count_primes)";
  }
  void options(libpool::batch::Options& o) override {
    o.add("--from", from_, "Start A (included)");
    o.add("--to", to_, "End B (excluded)").required();
  }
  void check() const override {
    if (from_ > to_)
      throw UsageError("--from " + std::to_string(from_) + " is after --to " + std::to_string(to_) +
                       " (the range is [from, to))");
    if (to_ > kernels::kMaxPrimesUpperBound)
      throw UsageError("--to: at most " + std::to_string(kernels::kMaxPrimesUpperBound));
  }
  void tasks(libpool::Registry& registry) const override {
    registry.add("poolrun.count_primes", count_primes_task);
  }

  void run(libpool::batch::Run& run) override {
    // The kernel's own chunk size (at least 64 sqrt(B), a few chunks a worker) when auto.
    const std::uint64_t suggested =
        to_ > from_ ? kernels::suggested_chunk_size(from_, to_, run.workers()) : 1;
    const auto count = run.reduce<std::uint64_t>({.name = "count",
                                                  .space = {from_, to_},
                                                  .unit = "numbers",
                                                  .min_chunk = suggested,
                                                  .max_chunk = suggested},
                                                 0, std::plus<>(), count_primes_task);
    if (!count) return;
    auto& result = run.result();
    result.scalar("count", *count);
    result.attr("from", from_);
    result.attr("to", to_);
    result.attr("chunksize", run.chunk_size());
    result.attr("schedule", run.schedule());
    run.summary("primes: " + std::to_string(*count) + " primes in [" + std::to_string(from_) +
                ", " + std::to_string(to_) + ")");
  }

 private:
  std::uint64_t from_ = 0;
  std::uint64_t to_ = 1'000'000;
};

}  // namespace

std::unique_ptr<libpool::batch::Workload> make_primes() {
  return std::make_unique<Primes>();
}

}  // namespace poolrun
