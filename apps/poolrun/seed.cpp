// poolrun seed: the tutorial's five programs with the tutorial's inputs, one group each under
// /result (sum_squares, count_primes, monte_carlo, sum_cubes, smallest_factor).
#include <array>
#include <cstdio>
#include <sstream>

#include "kernels/factor.hpp"
#include "kernels/montecarlo.hpp"
#include "kernels/powersum.hpp"
#include "poolrun.hpp"

namespace poolrun {

namespace {

// sum over n in [begin, end) of sum(i**3 for i in range(n)): the tutorial's sum_cubes, one
// chunk of its map(chunksize=100) per call.
u128 sum_cubes_task(std::uint64_t begin, std::uint64_t end) {
  test_delay();
  u128 s = 0;
  for (std::uint64_t n = begin; n < end; ++n) s = kernels::checked_add(s, kernels::power_sum(3, n));
  return s;
}

constexpr std::uint64_t kPrimesBound = 1'000'000;
constexpr std::uint64_t kMonteCarloSeed = 0;
// sum_squares: the pieces of every n in one index space, n_j's terms from kStride * j on.
constexpr std::uint64_t kStride = 100'000'000;
constexpr std::array<std::uint64_t, 4> kSquaresN{10'000'000, 20'000'000, 30'000'000, 40'000'000};
constexpr std::array<std::uint64_t, 10> kFactorNumbers{
    104729,   1000003,  999983,   7919ull * 7919, 1299827,
    15485863, 49979687, 67867979, 104395303,      982451653};

u128 sum_squares_task(std::uint64_t begin, std::uint64_t end) {
  test_delay();
  const std::uint64_t base = begin / kStride * kStride;
  return kernels::power_sum(2, begin - base, end - base);
}

std::uint64_t seed_factor_task(std::uint64_t begin, std::uint64_t end) {
  test_delay();
  if (end != begin + 1 || begin >= kFactorNumbers.size())
    throw std::out_of_range("seed smallest_factor: one number a chunk");
  return kernels::smallest_factor(kFactorNumbers[begin]);
}

class Seed final : public libpool::batch::Workload {
 public:
  std::string name() const override { return "seed"; }
  std::string description() const override {
    return "the tutorial's five programs with the tutorial's inputs";
  }
  void tasks(libpool::Registry& registry) const override {
    registry.add("poolrun.sum_cubes", sum_cubes_task);
    registry.add("poolrun.sum_squares", sum_squares_task);
    registry.add("poolrun.seed_factor", seed_factor_task);
  }

  // The tutorial's own chunking, one pass (the /chunks "pass" column) per program; results are
  // written after the last.
  void run(libpool::batch::Run& run) override {
    using libpool::Span;
    using libpool::batch::Pass;
    std::array<u128, 4> squares{};
    std::array<std::uint64_t, 4> counts{};
    std::uint64_t inside = 0;
    u128 cubes = 0;
    std::array<std::uint64_t, 10> factors{};

    // sum_squares: n_j's terms from kStride * j on, the rest of each stride a hole.
    Pass squares_pass{.name = "sum_squares",
                      .space = {0, kStride * kSquaresN.size()},
                      .unit = "",
                      .chunksize = 5'000'000};
    for (std::size_t j = 0; j < kSquaresN.size(); ++j) {
      squares_pass.holes.push_back({kStride * j + kSquaresN[j], kStride * (j + 1)});
      squares_pass.breaks.push_back(kStride * (j + 1));
    }
    const bool ok =
        run.ordered(
            squares_pass,
            [&](const Span& s, u128& v) {
              squares[s.begin / kStride] = kernels::checked_add(squares[s.begin / kStride], v);
            },
            sum_squares_task) &&
        run.ordered(
            {.name = "count_primes",
             .space = {0, kPrimesBound},
             .unit = "",
             .breaks = {kPrimesBound / 4, kPrimesBound / 2, 3 * kPrimesBound / 4},
             .chunksize = kPrimesBound / 4},
            [&](const Span& s, std::uint64_t& v) { counts[s.begin / (kPrimesBound / 4)] += v; },
            count_primes_task) &&
        run.ordered(
            {.name = "monte_carlo",
             .space = {0, kMonteCarloSamples},
             .unit = "",
             .chunksize = 1'000'000},
            [&](const Span&, std::uint64_t& v) { inside += v; }, pi_inside_task, kMonteCarloSeed) &&
        run.ordered(
            {.name = "sum_cubes", .space = {0, kCubesEnd}, .unit = "", .chunksize = 100},
            [&](const Span&, u128& v) { cubes = kernels::checked_add(cubes, v); },
            sum_cubes_task) &&
        run.ordered(
            {.name = "smallest_factor",
             .space = {0, kFactorNumbers.size()},
             .unit = "",
             .chunksize = 1},
            [&](const Span& s, std::uint64_t& v) { factors[s.begin] = v; }, seed_factor_task);
    if (!ok) return;

    auto& result = run.result();
    std::ostringstream report;
    {
      auto g = result.group("sum_squares");
      std::vector<std::string> texts;
      for (u128 v : squares) texts.push_back(kernels::to_decimal(v));
      g.values("n", std::vector<std::uint64_t>(kSquaresN.begin(), kSquaresN.end()));
      g.strings("sums", texts);
      report << "sum_squares [10M,20M,30M,40M] -> [";
      for (std::size_t i = 0; i < texts.size(); ++i) report << (i ? ", " : "") << texts[i];
      report << "]\n";
    }
    {
      std::vector<std::uint64_t> from, to;
      std::uint64_t total = 0;
      for (std::uint64_t i = 0; i < 4; ++i) {
        from.push_back(i * kPrimesBound / 4);
        to.push_back((i + 1) * kPrimesBound / 4);
        total += counts[i];
      }
      auto g = result.group("count_primes");
      g.values("from", from);
      g.values("to", to);
      g.values("counts", std::vector<std::uint64_t>(counts.begin(), counts.end()));
      g.scalar("count", total);
      report << "count_primes <1e6 (4 ranges) -> " << total << '\n';
    }
    {
      const auto est = kernels::estimate_pi(inside, kMonteCarloSamples);
      auto g = result.group("monte_carlo");
      g.scalar("pi", est.pi);
      g.scalar("inside", inside);
      g.scalar("samples", kMonteCarloSamples);
      g.scalar("stderr", est.standard_error);
      g.attr("seed", kMonteCarloSeed);
      g.attr("chunksize", std::uint64_t{1'000'000});
      g.attr("generator", std::string("Philox4x32-10"));
      char line[96];
      std::snprintf(line, sizeof line, "monte_carlo 8x1M -> %.7g (Philox, seed %llu)\n", est.pi,
                    static_cast<unsigned long long>(kMonteCarloSeed));
      report << line;
    }
    {
      auto g = result.group("sum_cubes");
      g.scalar("total", kernels::to_decimal(cubes));
      g.attr("n_end", kCubesEnd);
      g.attr("chunksize", std::uint64_t{100});
      report << "sum_cubes range(10000) cs=100 -> " << kernels::to_decimal(cubes) << '\n';
    }
    {
      auto g = result.group("smallest_factor");
      g.values("number", std::vector<std::uint64_t>(kFactorNumbers.begin(), kFactorNumbers.end()));
      g.values("smallest_factor", std::vector<std::uint64_t>(factors.begin(), factors.end()));
      report << "smallest_factor 10 numbers -> [";
      for (std::size_t k = 0; k < kFactorNumbers.size(); ++k)
        report << (k ? ", " : "") << "(" << kFactorNumbers[k] << ", "
               << (factors[k] ? std::to_string(factors[k]) : std::string("None")) << ")";
      report << "]\n";
    }
    run.summary(report.str() + "seed: five programs");
  }

 private:
  static constexpr std::uint64_t kMonteCarloSamples = 8'000'000;
  static constexpr std::uint64_t kCubesEnd = 10'000;
};

}  // namespace

std::unique_ptr<libpool::batch::Workload> make_seed() {
  return std::make_unique<Seed>();
}

}  // namespace poolrun
