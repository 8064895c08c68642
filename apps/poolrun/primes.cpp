// poolrun primes: the number of primes in [A, B), counted by libprimesieve over chunks.
#include <iostream>

#include "common/cli.hpp"
#include "common/errors.hpp"
#include "kernels/primes.hpp"
#include "poolrun.hpp"

namespace poolrun {

std::uint64_t count_primes_task(std::uint64_t begin, std::uint64_t end) {
  test_delay();
  return kernels::count_primes(begin, end);
}

void register_primes(libpool::Registry& registry) {
  registry.add("poolrun.count_primes", count_primes_task);
}

namespace {

class Primes final : public Workload {
 public:
  const char* name() const override { return "primes"; }
  const char* description() const override {
    return "the number of primes in [A, B) (count_primes)";
  }
  void add_options(CLI::App& sub) override {
    common::cli::add_u64(sub, "--from", from_, "Start A (included)");
    common::cli::add_u64(sub, "--to", to_, "End B (excluded)")->required();
  }
  void validate(const CommonOptions&) const override {
    if (from_ > to_)
      throw common::UsageError("--from " + std::to_string(from_) + " is after --to " +
                               std::to_string(to_) + " (the range is [from, to))");
    if (to_ > kernels::kMaxPrimesUpperBound)
      throw common::UsageError("--to: at most " + std::to_string(kernels::kMaxPrimesUpperBound));
  }
  common::Identity identity() const override {
    return {{"from", std::to_string(from_)}, {"to", std::to_string(to_)}};
  }

  int run(Run& run) override {
    std::uint64_t count = 0;
    for (const auto& r : run.previous("count")) count += r.partial;
    run.out().start();
    // The kernel's own chunk size (at least 64 sqrt(B), a few chunks a worker) when auto.
    const std::uint64_t suggested =
        to_ > from_ ? kernels::suggested_chunk_size(from_, to_, run.workers()) : 1;
    auto chunks = run.pool().map_spans(count_primes_task, libpool::Span{from_, to_},
                                       run.span_options("count", suggested, suggested));
    run.start_progress("primes", chunks.items_total());
    const bool ok = run.drive<std::uint64_t>(
        "count", chunks, [&](libpool::SpanChunk<std::uint64_t>& c, common::ChunkRow& row) {
          count += c.value();
          row.partial = c.value();
        });
    if (ok) {
      auto& result = run.out().result();
      result.write_scalar("count", count);
      result.set_attr("from", from_);
      result.set_attr("to", to_);
      result.set_attr("chunksize", chunks.chunk_size());
      result.set_attr("schedule", run.options().schedule);
    }
    const double wall = run.elapsed();
    const int code = run.finish();
    if (!run.quiet() && code == exit_complete)
      std::cout << "primes: " << count << " primes in [" << from_ << ", " << to_ << ")\n  on "
                << run.pool().size() << " rank(s) in " << human_seconds(wall) << ", "
                << human_rate(static_cast<double>(to_ - from_) / wall, "numbers/s") << " -> "
                << run.options().output << '\n';
    return code;
  }

 private:
  std::uint64_t from_ = 0;
  std::uint64_t to_ = 1'000'000;
};

}  // namespace

std::unique_ptr<Workload> make_primes() {
  return std::make_unique<Primes>();
}

}  // namespace poolrun
