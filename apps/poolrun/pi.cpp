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

std::uint64_t pi_inside_task(std::uint64_t seed, std::uint64_t first, std::uint64_t count) {
  return kernels::count_inside(seed, first, count);
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

  int run(Run& run) override {
    std::uint64_t cs = run.options().chunksize_value();
    // ~1 ns a sample: 2^20..2^28 samples a chunk keep dispatch negligible and progress alive.
    if (cs == 0) cs = std::clamp<std::uint64_t>(samples_ / (16 * run.workers()), 1 << 20, 1 << 28);
    Chunker chunker(Span{0, samples_}, cs, run.options().guided(), run.workers());
    std::uint64_t inside = 0;
    run.start_progress("pi", samples_);
    const bool ok = run_chunks<std::uint64_t>(
        run, [&] { return chunker.next(); },
        [&](Span s) { return run.pool().submit(pi_inside_task, seed_, s.begin, s.size()); },
        [&](Span, const std::uint64_t& c) { inside += c; });
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
        o->set_attr("chunksize", chunker.size());
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
