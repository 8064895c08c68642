// poolrun powersum: S_k(n) = sum of i^k for 0 <= i < n, exact in 128 bits, for each n.
//
// Each n is cut into pieces of at most --chunksize terms; the pieces of all n live in one index
// space (n_0's terms, then n_1's, ...), which is what /chunks records. Partial sums are joined
// with kernels::checked_add, so any overflow is detected, never wrapped.
#include <algorithm>
#include <climits>
#include <cmath>
#include <optional>
#include <stdexcept>

#include "kernels/powersum.hpp"
#include "poolrun.hpp"

namespace poolrun {

namespace {
// Where each n's terms start in the joined index space (one more entry: the end). Set on every
// rank from its own parse of the command line (setup()), before the pool starts.
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

namespace {

// log2 of a lower bound of S_k(n): its largest term (n-1)^k and the integral (n-1)^(k+1)/(k+1).
double log2_lower_bound(std::uint64_t k, std::uint64_t n) {
  if (n < 2) return -INFINITY;
  const double m = std::log2(static_cast<double>(n - 1));
  const double kk = static_cast<double>(k);
  return std::max(kk * m, (kk + 1) * m - std::log2(kk + 1));
}

class PowerSum final : public libpool::batch::Workload {
 public:
  std::string name() const override { return "powersum"; }
  std::string description() const override {
    return "for each n: sum of i^k for 0 <= i < n, exact (compute_heavy, sum_cubes)";
  }
  void options(libpool::batch::Options& o) override {
    o.add("--exponent", exponent_, "The power k");
    n_opt_.emplace(o.add("--n", n_, "The values of n"));
    range_opt_.emplace(o.add("--range", range_, "Every n in [A, B)"));
  }
  void check() const override {
    using libpool::batch::UsageError;
    if (exponent_ > UINT_MAX) throw UsageError("--exponent: must be at most 4294967295");
    const bool have_n = !n_.empty();
    const bool have_range = range_opt_->given();
    if (have_n && have_range) throw UsageError("give either --n or --range, not both");
    if (!have_n && !have_range) throw UsageError("give --n N1,N2,... or --range A:B");
    if (have_range && range_.size() == 0)
      throw UsageError("--range: the range is empty, no n to compute");
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
      throw UsageError("the total of these power sums is at least 2^" +
                       std::to_string(static_cast<long long>(lb)) +
                       ", beyond exact 128-bit arithmetic (limit 2^128 - 1)");
    if (terms_overflow) throw UsageError("too many terms in total (more than 2^64 - 1)");
  }
  void tasks(libpool::Registry& registry) const override {
    registry.add("poolrun.power_sum_span", power_sum_span);
  }
  void setup() override {
    g_offsets.assign(1, 0);
    for_each_n([&](std::uint64_t n) { g_offsets.push_back(g_offsets.back() + n); });
  }

  void run(libpool::batch::Run& run) override {
    const auto k = static_cast<unsigned>(exponent_);
    std::vector<std::uint64_t> ns;
    for_each_n([&](std::uint64_t n) { ns.push_back(n); });
    const std::vector<std::uint64_t>& offsets = g_offsets;
    const std::uint64_t total_terms = offsets.back();
    std::vector<u128> sums(ns.size(), 0);
    // Pieces never straddle two n; ~1 ns a term: chunks of 1M+ terms keep dispatch negligible.
    const bool ok = run.ordered(
        {.name = "terms",
         .space = {0, total_terms},
         .unit = "terms",
         .min_chunk = 1 << 20,
         .max_chunk = 1 << 28,
         .breaks = {offsets.begin() + 1, offsets.end()}},
        [&](const libpool::Span& span, u128& part) {
          const auto j = static_cast<std::size_t>(
              std::upper_bound(offsets.begin(), offsets.end(), span.begin) - offsets.begin() - 1);
          sums[j] = kernels::checked_add(sums[j], part);
        },
        power_sum_span, std::uint64_t{k});
    if (!ok) return;
    u128 total = 0;
    try {
      for (u128 s : sums) total = kernels::checked_add(total, s);
    } catch (const std::overflow_error& e) {
      run.fail(std::string("std::overflow_error: ") + e.what() + " (the total)");
      return;
    }
    auto& result = run.result();
    result.attr("exponent", std::uint64_t{k});
    result.values("n", ns);
    std::vector<std::string> texts;
    for (u128 s : sums) texts.push_back(kernels::to_decimal(s));
    result.strings("sums", texts);
    const std::string total_text = kernels::to_decimal(total);
    result.scalar("total", total_text);
    std::string text = "powersum: sum of i^" + std::to_string(k) + " for i < n\n";
    for (std::size_t i = 0; i < ns.size() && i < 10; ++i)
      text += "  n=" + std::to_string(ns[i]) + "  " + texts[i] + "\n";
    if (ns.size() > 10) text += "  ... (" + std::to_string(ns.size()) + " values of n)\n";
    run.summary(text + "  total = " + total_text);
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
  libpool::Span range_{0, 0};
  std::optional<libpool::batch::Option> n_opt_;
  std::optional<libpool::batch::Option> range_opt_;
};

}  // namespace

std::unique_ptr<libpool::batch::Workload> make_powersum() {
  return std::make_unique<PowerSum>();
}

}  // namespace poolrun
