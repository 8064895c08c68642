// poolrun pi: Monte Carlo estimate of pi from the Philox stream keyed by --seed.
//
// A chunk counts the hits of samples [first, first + count); hits are integers, so their sum and
// the estimate 4 * inside / samples have the same bits whatever the ranks, chunks or schedule.
#include <iostream>

#include "common/cli.hpp"
#include "common/errors.hpp"
#include "kernels/montecarlo.hpp"
#include "poolrun.hpp"

namespace poolrun {

std::uint64_t pi_inside_task(std::uint64_t seed, std::uint64_t begin, std::uint64_t end) {
  test_delay();
  return kernels::count_inside(seed, begin, end - begin);
}

void register_pi(libpool::Registry& registry) {
  registry.add("poolrun.pi_inside", pi_inside_task);
}

namespace {

class Pi final : public Workload {
 public:
  const char* name() const override { return "pi"; }
  const char* description() const override {
    return "Monte Carlo estimate of pi, reproducible bit for bit (monte_carlo_pi)";
  }
  void add_options(CLI::App& sub) override {
    common::cli::add_u64(sub, "--samples", samples_, "Number of random points")->required();
    common::cli::add_u64(sub, "--seed", seed_, "Key of the Philox stream");
  }
  void validate(const CommonOptions&) const override {
    if (samples_ == 0) throw common::UsageError("--samples: must be positive");
  }

  common::Identity identity() const override {
    return {{"samples", std::to_string(samples_)}, {"seed", std::to_string(seed_)}};
  }

  int run(Run& run) override {
    // Hits are integers: the chunks of earlier attempts add up in any order.
    std::uint64_t inside = 0;
    for (const auto& r : run.previous("samples")) inside += r.partial;
    run.out().start();
    // ~0.5 ns a sample per rank: 2^20..2^28 samples a chunk keep dispatch negligible and the
    // ledger fresh.
    auto chunks = run.pool().map_spans(pi_inside_task, libpool::Span{0, samples_},
                                       run.span_options("samples", 1 << 20, 1 << 28), seed_);
    run.start_progress("pi", chunks.items_total());
    const bool ok = run.drive<std::uint64_t>(
        "samples", chunks, [&](libpool::SpanChunk<std::uint64_t>& c, common::ChunkRow& row) {
          inside += c.value();
          row.partial = c.value();
        });
    kernels::PiEstimate est;
    if (ok) {
      est = kernels::estimate_pi(inside, samples_);
      auto& result = run.out().result();
      auto pi = result.write_scalar("pi", est.pi);
      result.write_scalar("inside", inside);
      result.write_scalar("samples", samples_);
      result.write_scalar("stderr", est.standard_error);
      // The inputs that fix the bits of pi, beside it (PRODUCT.md §4).
      for (h5::Object* o : {static_cast<h5::Object*>(&result), static_cast<h5::Object*>(&pi)}) {
        o->set_attr("seed", seed_);
        o->set_attr("chunksize", chunks.chunk_size());
        o->set_attr("schedule", run.options().schedule);
        o->set_attr("generator", "Philox4x32-10");
      }
    }
    const double wall = run.elapsed();
    const int code = run.finish();
    if (!run.quiet() && code == exit_complete) {
      char line[160];
      std::snprintf(line, sizeof line, "pi: %.10f +- %.2g (%llu of %llu inside, seed %llu)\n",
                    est.pi, est.standard_error, static_cast<unsigned long long>(inside),
                    static_cast<unsigned long long>(samples_),
                    static_cast<unsigned long long>(seed_));
      const double per_rank = static_cast<double>(samples_) / wall /
                              static_cast<double>(std::max<std::uint64_t>(1, run.workers()));
      std::cout << line << "  on " << run.pool().size() << " rank(s) in " << human_seconds(wall)
                << ", " << human_rate(static_cast<double>(samples_) / wall, "samples/s") << " ("
                << human_rate(per_rank, "samples/s") << " per computing rank) -> "
                << run.options().output << '\n';
    }
    return code;
  }

 private:
  std::uint64_t samples_ = 0;
  std::uint64_t seed_ = 0;
};

}  // namespace

std::unique_ptr<Workload> make_pi() {
  return std::make_unique<Pi>();
}

}  // namespace poolrun
