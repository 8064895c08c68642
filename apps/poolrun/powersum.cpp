// poolrun powersum: S_k(n) = sum of i^k for 0 <= i < n, exact in 128 bits, for each n.
//
// Each n is cut into pieces of at most --chunksize terms; the pieces of all n live in one index
// space (n_0's terms, then n_1's, ...), which is what /chunks records. Partial sums are joined
// with kernels::checked_add, so any overflow is detected, never wrapped.
#include <algorithm>
#include <climits>
#include <cmath>
#include <iostream>

#include "common/cli.hpp"
#include "common/errors.hpp"
#include "kernels/powersum.hpp"
#include "poolrun.hpp"

namespace poolrun {

u128 power_sum_task(unsigned k, std::uint64_t begin, std::uint64_t end) {
  return kernels::power_sum(k, begin, end);
}

void register_powersum(libpool::Registry& registry) {
  registry.add("poolrun.power_sum", power_sum_task);
}

namespace {

// log2 of a lower bound of S_k(n): its largest term (n-1)^k and the integral (n-1)^(k+1)/(k+1).
double log2_lower_bound(std::uint64_t k, std::uint64_t n) {
  if (n < 2) return -INFINITY;
  const double m = std::log2(static_cast<double>(n - 1));
  const double kk = static_cast<double>(k);
  return std::max(kk * m, (kk + 1) * m - std::log2(kk + 1));
}

class PowerSum final : public Workload {
 public:
  const char* name() const override { return "powersum"; }
  const char* description() const override {
    return "for each n: sum of i^k for 0 <= i < n, exact (compute_heavy, sum_cubes)";
  }
  void add_options(CLI::App& sub) override {
    common::cli::add_u64(sub, "--exponent", exponent_, "The power k");
    n_opt_ = common::cli::add_u64_list(sub, "--n", n_, "The values of n");
    range_opt_ = common::cli::add_range(sub, "--range", range_, "Every n in [A, B)");
  }
  void validate(const CommonOptions&) const override {
    if (exponent_ > UINT_MAX) throw common::UsageError("--exponent: must be at most 4294967295");
    const bool have_n = !n_.empty();
    const bool have_range = range_opt_->count() > 0;
    if (have_n && have_range) throw common::UsageError("give either --n or --range, not both");
    if (!have_n && !have_range) throw common::UsageError("give --n N1,N2,... or --range A:B");
    if (have_range && range_.size() == 0)
      throw common::UsageError("--range: the range is empty, no n to compute");
    // Inputs whose total is known to reach 2^128 are refused before any work.
    double lb = -INFINITY;
    std::uint64_t terms = 0;
    bool terms_overflow = false;
    for_each_n([&](std::uint64_t n) {
      const double l = log2_lower_bound(exponent_, n);
      if (std::isinf(l)) {
        // n < 2 adds (almost) nothing
      } else if (std::isinf(lb)) {
        lb = l;
      } else {
        lb = std::max(lb, l) + std::log2(1 + std::exp2(std::min(lb, l) - std::max(lb, l)));
      }
      terms_overflow = terms_overflow || __builtin_add_overflow(terms, n, &terms);
    });
    if (lb > 128 + 1e-6)
      throw common::UsageError("the total of these power sums is at least 2^" +
                               std::to_string(static_cast<long long>(lb)) +
                               ", beyond exact 128-bit arithmetic (limit 2^128 - 1)");
    if (terms_overflow) throw common::UsageError("too many terms in total (more than 2^64 - 1)");
  }

  int run(Run& run) override {
    const auto k = static_cast<unsigned>(exponent_);
    std::vector<std::uint64_t> ns;
    for_each_n([&](std::uint64_t n) { ns.push_back(n); });
    // offsets[j]: where n_j's terms start in the joined index space.
    std::vector<std::uint64_t> offsets(ns.size() + 1, 0);
    for (std::size_t j = 0; j < ns.size(); ++j) offsets[j + 1] = offsets[j] + ns[j];
    const std::uint64_t total_terms = offsets.back();
    const std::uint64_t workers = run.workers();
    std::uint64_t cs = run.options().chunksize_value();
    if (cs == 0)  // ~1 ns a term: chunks of 1M+ terms keep dispatch negligible
      cs = std::clamp<std::uint64_t>(total_terms / (16 * workers), 1 << 20, 1 << 28);
    const bool guided = run.options().guided();

    // Pieces never straddle two n: cut within n_j, then move on.
    std::size_t j = 0;
    std::uint64_t at = 0;  // next term of n_j
    std::uint64_t left = total_terms;
    auto next = [&]() -> std::optional<Span> {
      while (j < ns.size() && at >= ns[j]) {
        ++j;
        at = 0;
      }
      if (j >= ns.size()) return std::nullopt;
      std::uint64_t size = cs;
      if (guided) size = std::max(size, (left + 2 * workers - 1) / (2 * workers));
      size = std::min(size, ns[j] - at);
      const Span s{offsets[j] + at, offsets[j] + at + size};
      at += size;
      left -= size;
      return s;
    };
    auto which = [&](const Span& s) {
      return static_cast<std::size_t>(std::upper_bound(offsets.begin(), offsets.end(), s.begin) -
                                      offsets.begin() - 1);
    };
    auto submit = [&](Span s) {
      const std::size_t i = which(s);
      return run.pool().submit(power_sum_task, k, s.begin - offsets[i], s.end - offsets[i]);
    };
    std::vector<u128> sums(ns.size(), 0);
    auto on_done = [&](Span s, const u128& r) {
      auto& sum = sums[which(s)];
      sum = kernels::checked_add(sum, r);
    };
    run.start_progress("powersum", total_terms);
    const bool ok = run_chunks<u128>(run, next, submit, on_done);
    std::string total_text;
    if (ok) {
      u128 total = 0;
      try {
        for (u128 s : sums) total = kernels::checked_add(total, s);
        total_text = kernels::to_decimal(total);
      } catch (const std::overflow_error& e) {
        run.record_error(std::string("std::overflow_error: ") + e.what() + " (the total)",
                         Span{0, total_terms});
      }
    }
    if (ok && !run.failed()) {
      auto& result = run.out().result();
      result.set_attr("exponent", static_cast<std::uint64_t>(k));
      result.write_dataset("n", ns);
      std::vector<std::string> texts;
      for (u128 s : sums) texts.push_back(kernels::to_decimal(s));
      result.write_strings("sums", texts);
      result.write_string("total", total_text);
      if (!run.quiet()) {
        std::cout << "powersum: sum of i^" << k << " for i < n\n";
        for (std::size_t i = 0; i < ns.size() && i < 10; ++i)
          std::cout << "  n=" << ns[i] << "  " << texts[i] << '\n';
        if (ns.size() > 10) std::cout << "  ... (" << ns.size() << " values of n)\n";
        std::cout << "  total = " << total_text << '\n';
      }
    }
    const double wall = run.elapsed();
    const int code = run.finish();
    if (!run.quiet() && code == exit_complete)
      std::cout << "  " << total_terms << " terms on " << run.pool().size() << " rank(s) in "
                << human_seconds(wall) << ", "
                << human_rate(static_cast<double>(total_terms) / wall, "terms/s") << " -> "
                << run.options().output << '\n';
    return code;
  }

 private:
  template <class F>
  void for_each_n(F&& f) const {
    if (!n_.empty()) {
      for (auto n : n_) f(n);
    } else {
      for (std::uint64_t n = range_.begin; n < range_.end; ++n) f(n);
    }
  }

  std::uint64_t exponent_ = 2;
  std::vector<std::uint64_t> n_;
  common::cli::Range range_{0, 0};
  CLI::Option* n_opt_ = nullptr;
  CLI::Option* range_opt_ = nullptr;
};

}  // namespace

std::unique_ptr<Workload> make_powersum() {
  return std::make_unique<PowerSum>();
}

}  // namespace poolrun
