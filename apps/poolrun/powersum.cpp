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

namespace {
// Where each n's terms start in the joined index space (one more entry: the end). Set on every
// rank from its own parse of the command line (configure()), before the pool starts.
std::vector<std::uint64_t> g_offsets;
}  // namespace

// A chunk [begin, end) of the joined index space, inside one n (chunks never cross a break).
u128 power_sum_span(std::uint64_t k, std::uint64_t begin, std::uint64_t end) {
  test_delay();
  if (g_offsets.size() < 2 || begin >= g_offsets.back())
    throw std::out_of_range("powersum: chunk outside the index space");
  const auto j = static_cast<std::size_t>(
      std::upper_bound(g_offsets.begin(), g_offsets.end(), begin) - g_offsets.begin() - 1);
  if (end > g_offsets[j + 1]) throw std::out_of_range("powersum: chunk crosses two n");
  return kernels::power_sum(static_cast<unsigned>(k), begin - g_offsets[j], end - g_offsets[j]);
}

void register_powersum(libpool::Registry& registry) {
  registry.add("poolrun.power_sum_span", power_sum_span);
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

  void configure(libpool::Options&) const override {
    g_offsets.assign(1, 0);
    for_each_n([&](std::uint64_t n) { g_offsets.push_back(g_offsets.back() + n); });
  }
  common::Identity identity() const override {
    std::string ns;
    if (!n_.empty()) {
      for (auto n : n_) ns += (ns.empty() ? "" : ",") + std::to_string(n);
    } else {
      ns = std::to_string(range_.begin) + ":" + std::to_string(range_.end);
    }
    return {{"exponent", std::to_string(exponent_)}, {"n", ns}};
  }

  int run(Run& run) override {
    const auto k = static_cast<unsigned>(exponent_);
    std::vector<std::uint64_t> ns;
    for_each_n([&](std::uint64_t n) { ns.push_back(n); });
    const std::vector<std::uint64_t>& offsets = g_offsets;
    const std::uint64_t total_terms = offsets.back();
    auto which = [&](std::uint64_t begin) {
      return static_cast<std::size_t>(std::upper_bound(offsets.begin(), offsets.end(), begin) -
                                      offsets.begin() - 1);
    };
    std::vector<u128> sums(ns.size(), 0);
    // Partial sums are exact integers: the chunks of earlier attempts add up in any order.
    for (const auto& r : run.previous("terms")) {
      auto& sum = sums[which(r.begin)];
      sum = kernels::checked_add(sum, (static_cast<u128>(r.partial_hi) << 64) | r.partial);
    }
    run.out().start();
    // Pieces never straddle two n; ~1 ns a term: chunks of 1M+ terms keep dispatch negligible.
    auto opt = run.span_options("terms", 1 << 20, 1 << 28);
    opt.breaks.assign(offsets.begin() + 1, offsets.end());
    auto chunks =
        run.pool().map_spans(power_sum_span, libpool::Span{0, total_terms}, opt, std::uint64_t{k});
    run.start_progress("powersum", chunks.items_total());
    const bool ok =
        run.drive<u128>("terms", chunks, [&](libpool::SpanChunk<u128>& c, common::ChunkRow& row) {
          auto& sum = sums[which(c.span.begin)];
          sum = kernels::checked_add(sum, c.value());
          row.partial = static_cast<std::uint64_t>(c.value());
          row.partial_hi = static_cast<std::uint64_t>(c.value() >> 64);
        });
    std::string total_text;
    if (ok) {
      u128 total = 0;
      try {
        for (u128 s : sums) total = kernels::checked_add(total, s);
        total_text = kernels::to_decimal(total);
      } catch (const std::overflow_error& e) {
        run.record_error(std::string("std::overflow_error: ") + e.what() + " (the total)",
                         libpool::Span{0, total_terms});
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
