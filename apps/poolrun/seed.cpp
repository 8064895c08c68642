// poolrun seed: the tutorial's five programs with the tutorial's inputs, one group each under
// /result (sum_squares, count_primes, monte_carlo, sum_cubes, smallest_factor).
#include <array>
#include <cstdio>
#include <iostream>
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

u128 from_row(const common::ChunkRow& r) {
  return (static_cast<u128>(r.partial_hi) << 64) | r.partial;
}
void to_row(common::ChunkRow& row, u128 v) {
  row.partial = static_cast<std::uint64_t>(v);
  row.partial_hi = static_cast<std::uint64_t>(v >> 64);
}

class Seed final : public Workload {
 public:
  std::string name() const override { return "seed"; }
  std::string description() const override {
    return "the tutorial's five programs with the tutorial's inputs";
  }
  void add_options(CLI::App&) override {}
  void validate(const CommonOptions&) const override {}
  common::Identity identity() const override { return {{"programs", "tutorial-5"}}; }

  int run(Run& run) override {
    run.out().start();
    // The tutorial's own chunking, one pass (the /chunks "pass" column) per program. Results
    // are written at the end: no new object while the ledger runs.
    std::ostringstream report;
    const bool ok = sum_squares(run) && count_primes(run) && monte_carlo(run) && sum_cubes(run) &&
                    smallest_factor(run);
    if (ok) write(run, report);
    const double wall = run.elapsed();
    const int code = run.finish();
    if (!run.quiet() && code == exit_complete)
      std::cout << report.str() << "seed: five programs on " << run.pool().size() << " rank(s) in "
                << human_seconds(wall) << " -> " << run.options().output << '\n';
    return code;
  }

 private:
  // The pass's chunks with the tutorial's chunk size, minus what earlier attempts did.
  template <class R, class... A, class... Fixed>
  static bool pass(Run& run, const char* name, libpool::Span whole, std::uint64_t chunksize,
                   std::vector<libpool::Span> gaps, std::vector<std::uint64_t> breaks,
                   const std::function<void(const common::ChunkRow&)>& restore,
                   const std::function<void(libpool::SpanChunk<R>&, common::ChunkRow&)>& on_done,
                   R (*fn)(A...), Fixed... fixed) {
    auto opt = run.span_options(name);
    for (const auto& r : run.previous(name)) restore(r);
    opt.chunksize = chunksize;
    opt.schedule = libpool::Schedule::Dynamic;
    opt.skip.insert(opt.skip.end(), gaps.begin(), gaps.end());
    opt.breaks = std::move(breaks);
    auto chunks = run.pool().map_spans(fn, whole, opt, fixed...);
    run.start_progress(std::string("seed ") + name, chunks.items_total());
    const bool ok = run.drive<R>(name, chunks, on_done);
    run.end_progress();
    return ok;
  }

  bool sum_squares(Run& run) {
    std::vector<libpool::Span> gaps;
    std::vector<std::uint64_t> breaks;
    for (std::size_t j = 0; j < kSquaresN.size(); ++j) {
      gaps.push_back({kStride * j + kSquaresN[j], kStride * (j + 1)});
      breaks.push_back(kStride * (j + 1));
    }
    auto add = [&](std::uint64_t begin, u128 v) {
      auto& s = squares_[begin / kStride];
      s = kernels::checked_add(s, v);
    };
    return pass<u128>(
        run, "sum_squares", {0, kStride * kSquaresN.size()}, 5'000'000, gaps, breaks,
        [&](const common::ChunkRow& r) { add(r.begin, from_row(r)); },
        [&](libpool::SpanChunk<u128>& c, common::ChunkRow& row) {
          add(c.span.begin, c.value());
          to_row(row, c.value());
        },
        sum_squares_task);
  }

  bool count_primes(Run& run) {
    return pass<std::uint64_t>(
        run, "count_primes", {0, kPrimesBound}, kPrimesBound / 4, {},
        {kPrimesBound / 4, kPrimesBound / 2, 3 * kPrimesBound / 4},
        [&](const common::ChunkRow& r) { counts_[r.begin / (kPrimesBound / 4)] += r.partial; },
        [&](libpool::SpanChunk<std::uint64_t>& c, common::ChunkRow& row) {
          counts_[c.span.begin / (kPrimesBound / 4)] += c.value();
          row.partial = c.value();
        },
        count_primes_task);
  }

  bool monte_carlo(Run& run) {
    return pass<std::uint64_t>(
        run, "monte_carlo", {0, kMonteCarloSamples}, 1'000'000, {}, {},
        [&](const common::ChunkRow& r) { inside_ += r.partial; },
        [&](libpool::SpanChunk<std::uint64_t>& c, common::ChunkRow& row) {
          inside_ += c.value();
          row.partial = c.value();
        },
        pi_inside_task, kMonteCarloSeed);
  }

  bool sum_cubes(Run& run) {
    return pass<u128>(
        run, "sum_cubes", {0, kCubesEnd}, 100, {}, {},
        [&](const common::ChunkRow& r) { cubes_ = kernels::checked_add(cubes_, from_row(r)); },
        [&](libpool::SpanChunk<u128>& c, common::ChunkRow& row) {
          cubes_ = kernels::checked_add(cubes_, c.value());
          to_row(row, c.value());
        },
        sum_cubes_task);
  }

  bool smallest_factor(Run& run) {
    return pass<std::uint64_t>(
        run, "smallest_factor", {0, kFactorNumbers.size()}, 1, {}, {},
        [&](const common::ChunkRow& r) { factors_[r.begin] = r.partial; },
        [&](libpool::SpanChunk<std::uint64_t>& c, common::ChunkRow& row) {
          factors_[c.span.begin] = c.value();
          row.partial = c.value();
        },
        seed_factor_task);
  }

  void write(Run& run, std::ostream& report) {
    auto& result = run.out().result();
    {
      auto g = result.create_group("sum_squares");
      std::vector<std::string> texts;
      for (u128 s : squares_) texts.push_back(kernels::to_decimal(s));
      g.write_dataset("n", std::vector<std::uint64_t>(kSquaresN.begin(), kSquaresN.end()));
      g.write_strings("sums", texts);
      report << "sum_squares [10M,20M,30M,40M] -> [";
      for (std::size_t i = 0; i < texts.size(); ++i) report << (i ? ", " : "") << texts[i];
      report << "]\n";
    }
    {
      std::vector<std::uint64_t> from, to, counts(counts_.begin(), counts_.end());
      std::uint64_t total = 0;
      for (std::uint64_t i = 0; i < 4; ++i) {
        from.push_back(i * kPrimesBound / 4);
        to.push_back((i + 1) * kPrimesBound / 4);
        total += counts_[i];
      }
      auto g = result.create_group("count_primes");
      g.write_dataset("from", from);
      g.write_dataset("to", to);
      g.write_dataset("counts", counts);
      g.write_scalar("count", total);
      report << "count_primes <1e6 (4 ranges) -> " << total << '\n';
    }
    {
      const auto est = kernels::estimate_pi(inside_, kMonteCarloSamples);
      auto g = result.create_group("monte_carlo");
      g.write_scalar("pi", est.pi);
      g.write_scalar("inside", inside_);
      g.write_scalar("samples", kMonteCarloSamples);
      g.write_scalar("stderr", est.standard_error);
      g.set_attr("seed", kMonteCarloSeed);
      g.set_attr("chunksize", std::uint64_t{1'000'000});
      g.set_attr("generator", "Philox4x32-10");
      char line[96];
      std::snprintf(line, sizeof line, "monte_carlo 8x1M -> %.7g (Philox, seed %llu)\n", est.pi,
                    static_cast<unsigned long long>(kMonteCarloSeed));
      report << line;
    }
    {
      auto g = result.create_group("sum_cubes");
      g.write_string("total", kernels::to_decimal(cubes_));
      g.set_attr("n_end", kCubesEnd);
      g.set_attr("chunksize", std::uint64_t{100});
      report << "sum_cubes range(10000) cs=100 -> " << kernels::to_decimal(cubes_) << '\n';
    }
    {
      auto g = result.create_group("smallest_factor");
      g.write_dataset("number",
                      std::vector<std::uint64_t>(kFactorNumbers.begin(), kFactorNumbers.end()));
      g.write_dataset("smallest_factor",
                      std::vector<std::uint64_t>(factors_.begin(), factors_.end()));
      report << "smallest_factor 10 numbers -> [";
      for (std::size_t k = 0; k < kFactorNumbers.size(); ++k)
        report << (k ? ", " : "") << "(" << kFactorNumbers[k] << ", "
               << (factors_[k] ? std::to_string(factors_[k]) : std::string("None")) << ")";
      report << "]\n";
    }
  }

  static constexpr std::uint64_t kMonteCarloSamples = 8'000'000;
  static constexpr std::uint64_t kCubesEnd = 10'000;
  std::array<u128, 4> squares_{};
  std::array<std::uint64_t, 4> counts_{};
  std::uint64_t inside_ = 0;
  u128 cubes_ = 0;
  std::array<std::uint64_t, 10> factors_{};
};

}  // namespace

void register_seed(libpool::Registry& registry) {
  registry.add("poolrun.sum_cubes", sum_cubes_task);
  registry.add("poolrun.sum_squares", sum_squares_task);
  registry.add("poolrun.seed_factor", seed_factor_task);
}

std::unique_ptr<Workload> make_seed() {
  return std::make_unique<Seed>();
}

}  // namespace poolrun
