// poolrun pi: Monte Carlo estimate of pi from the Philox stream keyed by --seed.
//
// A chunk counts the hits of samples [begin, end); hits are integers, so their sum and the
// estimate 4 * inside / samples have the same bits whatever the ranks, chunks or schedule.
#include <cstdio>
#include <functional>

#include "kernels/montecarlo.hpp"
#include "poolrun.hpp"

namespace poolrun {

std::uint64_t pi_inside_task(std::uint64_t seed, std::uint64_t begin, std::uint64_t end) {
  test_delay();
  return kernels::count_inside(seed, begin, end - begin);
}

namespace {

class Pi final : public libpool::batch::Workload {
 public:
  std::string name() const override { return "pi"; }
  std::string description() const override {
    return "Monte Carlo estimate of pi, reproducible bit for bit (monte_carlo_pi)";
  }
  void options(libpool::batch::Options& o) override {
    o.add("--samples", samples_, "Number of random points").required();
    o.add("--seed", seed_, "Key of the Philox stream");
  }
  void check() const override {
    if (samples_ == 0) throw libpool::batch::UsageError("--samples: must be positive");
  }
  void tasks(libpool::Registry& registry) const override {
    registry.add("poolrun.pi_inside", pi_inside_task);
  }

  void run(libpool::batch::Run& run) override {
    // ~0.5 ns a sample per rank: 2^20..2^28 samples a chunk keep dispatch negligible and the
    // ledger fresh.
    const auto inside = run.reduce<std::uint64_t>({.name = "samples",
                                                   .space = {0, samples_},
                                                   .unit = "samples",
                                                   .min_chunk = 1 << 20,
                                                   .max_chunk = 1 << 28},
                                                  0, std::plus<>(), pi_inside_task, seed_);
    if (!inside) return;
    const auto est = kernels::estimate_pi(*inside, samples_);
    auto& result = run.result();
    result.scalar("pi", est.pi);
    result.scalar("inside", *inside);
    result.scalar("samples", samples_);
    result.scalar("stderr", est.standard_error);
    // The inputs that fix the bits of pi, beside it.
    for (const std::string d : {"", "pi"}) {
      const auto attr = [&](const std::string& name, const libpool::batch::Value& v) {
        d.empty() ? result.attr(name, v) : result.attr(d, name, v);
      };
      attr("seed", seed_);
      attr("chunksize", run.chunk_size());
      attr("schedule", run.schedule());
      attr("generator", std::string("Philox4x32-10"));
    }
    char line[160];
    std::snprintf(line, sizeof line, "pi: %.10f +- %.2g (%llu of %llu inside, seed %llu)", est.pi,
                  est.standard_error, static_cast<unsigned long long>(*inside),
                  static_cast<unsigned long long>(samples_),
                  static_cast<unsigned long long>(seed_));
    run.summary(line);
  }

 private:
  std::uint64_t samples_ = 0;
  std::uint64_t seed_ = 0;
};

}  // namespace

std::unique_ptr<libpool::batch::Workload> make_pi() {
  return std::make_unique<Pi>();
}

}  // namespace poolrun
