// poolrun seed: the tutorial's five programs with the tutorial's inputs, one group each under
// /result (sum_squares, count_primes, monte_carlo, sum_cubes, smallest_factor).
#include <cstdio>
#include <iostream>
#include <sstream>

#include "kernels/montecarlo.hpp"
#include "kernels/powersum.hpp"
#include "poolrun.hpp"

namespace poolrun {

namespace {

// sum over n in [begin, end) of sum(i**3 for i in range(n)): the tutorial's sum_cubes, one
// chunk of its map(chunksize=100) per call.
u128 sum_cubes_task(std::uint64_t begin, std::uint64_t end) {
  u128 s = 0;
  for (std::uint64_t n = begin; n < end; ++n) s = kernels::checked_add(s, kernels::power_sum(3, n));
  return s;
}

constexpr std::uint64_t kPrimesBound = 1'000'000;
constexpr std::uint64_t kMonteCarloSeed = 0;

class Seed final : public Workload {
 public:
  const char* name() const override { return "seed"; }
  const char* description() const override {
    return "the tutorial's five programs with the tutorial's inputs";
  }
  void add_options(CLI::App&) override {}
  void validate(const CommonOptions&) const override {}
  void configure(libpool::Options& options) const override {
    options.initializer(init_base_primes, kPrimesBound);
  }

  int run(Run& run) override {
    std::ostringstream report;
    bool ok = sum_squares(run, report) && count_primes(run, report) && monte_carlo(run, report) &&
              sum_cubes(run, report) && smallest_factor(run, report);
    (void)ok;  // a failure or signal is in run's state; finish() turns it into the exit code
    const double wall = run.elapsed();
    const int code = run.finish();
    if (!run.quiet() && code == exit_complete)
      std::cout << report.str() << "seed: five programs on " << run.pool().size() << " rank(s) in "
                << human_seconds(wall) << " -> " << run.options().output << '\n';
    return code;
  }

 private:
  static bool sum_squares(Run& run, std::ostream& report) {
    const std::vector<std::uint64_t> ns{10'000'000, 20'000'000, 30'000'000, 40'000'000};
    const std::uint64_t piece = 5'000'000;
    // Pieces of every n in one index space: n_j's terms start at offset 100M * j.
    const std::uint64_t stride = 100'000'000;
    std::size_t j = 0;
    std::uint64_t at = 0;
    std::vector<u128> sums(ns.size(), 0);
    run.start_progress("seed sum_squares", 100'000'000);
    const bool ok = run_chunks<u128>(
        run,
        [&]() -> std::optional<Span> {
          if (j < ns.size() && at >= ns[j]) {
            ++j;
            at = 0;
          }
          if (j >= ns.size()) return std::nullopt;
          const std::uint64_t e = std::min(ns[j], at + piece);
          const Span s{stride * j + at, stride * j + e};
          at = e;
          return s;
        },
        [&](Span s) {
          return run.pool().submit(power_sum_task, 2u, s.begin % stride,
                                   s.end % stride == 0 ? stride : s.end % stride);
        },
        [&](Span s, const u128& r) {
          auto& sum = sums[s.begin / stride];
          sum = kernels::checked_add(sum, r);
        });
    run.end_progress();
    if (!ok) return false;
    auto g = run.out().result().create_group("sum_squares");
    std::vector<std::string> texts;
    for (u128 s : sums) texts.push_back(kernels::to_decimal(s));
    g.write_dataset("n", ns);
    g.write_strings("sums", texts);
    report << "sum_squares [10M,20M,30M,40M] -> [";
    for (std::size_t i = 0; i < texts.size(); ++i) report << (i ? ", " : "") << texts[i];
    report << "]\n";
    return true;
  }

  static bool count_primes(Run& run, std::ostream& report) {
    const std::vector<std::uint64_t> from{0, 250'000, 500'000, 750'000};
    const std::vector<std::uint64_t> to{250'000, 500'000, 750'000, 1'000'000};
    std::vector<std::uint64_t> counts(from.size(), 0);
    std::size_t i = 0;
    run.start_progress("seed count_primes", kPrimesBound);
    const bool ok = run_chunks<std::uint64_t>(
        run,
        [&]() -> std::optional<Span> {
          if (i >= from.size()) return std::nullopt;
          ++i;
          return Span{from[i - 1], to[i - 1]};
        },
        [&](Span s) { return run.pool().submit(count_primes_task, s.begin, s.end); },
        [&](Span s, const std::uint64_t& c) { counts[s.begin / 250'000] = c; });
    run.end_progress();
    if (!ok) return false;
    std::uint64_t total = 0;
    for (auto c : counts) total += c;
    auto g = run.out().result().create_group("count_primes");
    g.write_dataset("from", from);
    g.write_dataset("to", to);
    g.write_dataset("counts", counts);
    g.write_scalar("count", total);
    report << "count_primes <1e6 (4 ranges) -> " << total << '\n';
    return true;
  }

  static bool monte_carlo(Run& run, std::ostream& report) {
    const std::uint64_t per_task = 1'000'000;
    const std::uint64_t tasks = 8;
    std::uint64_t inside = 0;
    std::uint64_t t = 0;
    run.start_progress("seed monte_carlo", per_task * tasks);
    const bool ok = run_chunks<std::uint64_t>(
        run,
        [&]() -> std::optional<Span> {
          if (t >= tasks) return std::nullopt;
          ++t;
          return Span{(t - 1) * per_task, t * per_task};
        },
        [&](Span s) {
          return run.pool().submit(pi_inside_task, kMonteCarloSeed, s.begin, s.size());
        },
        [&](Span, const std::uint64_t& c) { inside += c; });
    run.end_progress();
    if (!ok) return false;
    const auto est = kernels::estimate_pi(inside, per_task * tasks);
    auto g = run.out().result().create_group("monte_carlo");
    g.write_scalar("pi", est.pi);
    g.write_scalar("inside", inside);
    g.write_scalar("samples", per_task * tasks);
    g.write_scalar("stderr", est.standard_error);
    g.set_attr("seed", kMonteCarloSeed);
    g.set_attr("chunksize", per_task);
    g.set_attr("generator", "Philox4x32-10");
    char line[96];
    std::snprintf(line, sizeof line, "monte_carlo 8x1M -> %.7g (Philox, seed %llu)\n", est.pi,
                  static_cast<unsigned long long>(kMonteCarloSeed));
    report << line;
    return true;
  }

  static bool sum_cubes(Run& run, std::ostream& report) {
    const std::uint64_t n_end = 10'000;
    const std::uint64_t chunksize = 100;
    Chunker chunker(Span{0, n_end}, chunksize, false, run.workers());
    u128 total = 0;
    run.start_progress("seed sum_cubes", n_end);
    const bool ok = run_chunks<u128>(
        run, [&] { return chunker.next(); },
        [&](Span s) { return run.pool().submit(sum_cubes_task, s.begin, s.end); },
        [&](Span, const u128& r) { total = kernels::checked_add(total, r); });
    run.end_progress();
    if (!ok) return false;
    auto g = run.out().result().create_group("sum_cubes");
    g.write_string("total", kernels::to_decimal(total));
    g.set_attr("n_end", n_end);
    g.set_attr("chunksize", chunksize);
    report << "sum_cubes range(10000) cs=100 -> " << kernels::to_decimal(total) << '\n';
    return true;
  }

  static bool smallest_factor(Run& run, std::ostream& report) {
    const std::vector<std::uint64_t> nums{104729,   1000003,  999983,   7919ull * 7919, 1299827,
                                          15485863, 49979687, 67867979, 104395303,      982451653};
    std::vector<std::uint64_t> factors(nums.size(), 0);
    std::vector<std::uint64_t> order;
    std::uint64_t i = 0;
    run.start_progress("seed smallest_factor", nums.size());
    const bool ok = run_chunks<std::uint64_t>(
        run,
        [&]() -> std::optional<Span> {
          if (i >= nums.size()) return std::nullopt;
          ++i;
          return Span{i - 1, i};
        },
        [&](Span s) { return run.pool().submit(smallest_factor_task, nums[s.begin]); },
        [&](Span s, const std::uint64_t& f) {
          factors[s.begin] = f;
          order.push_back(s.begin);
        });
    run.end_progress();
    if (!ok) return false;
    auto g = run.out().result().create_group("smallest_factor");
    g.write_dataset("number", nums);
    g.write_dataset("smallest_factor", factors);
    g.write_dataset("completion_order", order);
    report << "smallest_factor 10 numbers -> [";
    for (std::size_t k = 0; k < nums.size(); ++k)
      report << (k ? ", " : "") << "(" << nums[k] << ", "
             << (factors[k] ? std::to_string(factors[k]) : std::string("None")) << ")";
    report << "]\n";
    return true;
  }
};

}  // namespace

void register_seed(libpool::Registry& registry) {
  registry.add("poolrun.sum_cubes", sum_cubes_task);
}

std::unique_ptr<Workload> make_seed() {
  return std::make_unique<Seed>();
}

}  // namespace poolrun
