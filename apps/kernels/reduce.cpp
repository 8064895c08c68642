#include "kernels/reduce.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace kernels {
namespace {

constexpr std::size_t kLanes = 8;
// Eight double lanes as one GCC vector: element-wise operations, lowered to 1 x AVX-512,
// 2 x AVX2 or 4 x SSE2 registers, with the same IEEE result in every lane whatever the width.
using Lanes = double __attribute__((vector_size(8 * sizeof(double))));

// Eight copies of x. Vectors go by reference: by value, -Wpsabi flags the AVX-512 ABI change.
inline void splat(Lanes& v, double x) noexcept {
  for (std::size_t k = 0; k < kLanes; ++k) v[k] = x;
}

// |x| from which a block's moments are computed on scaled values (2^-24: sums of 4096 values and
// deviations stay far from overflow).
constexpr double kLarge = 0x1p1000;

// numpy's mean and variance of values some of which are infinite: the mean is +inf or -inf, or
// NaN when both occur (inf - inf); the variance is NaN (x - mean is NaN for an infinite x).
inline void set_infinite(Moments& m) noexcept {
  const bool pos = m.max == std::numeric_limits<double>::infinity();
  const bool neg = m.min == -std::numeric_limits<double>::infinity();
  m.mean = pos && neg ? std::numeric_limits<double>::quiet_NaN() : pos ? m.max : m.min;
  m.m2 = std::numeric_limits<double>::quiet_NaN();
}

// ((l0+l4)+(l2+l6))+((l1+l5)+(l3+l7)): the tree a 2 x 4 or 1 x 8 vector reduction would do.
inline double sum_lanes(const Lanes& l) noexcept {
  return ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]));
}

// Statistics of at most kMomentsBlock doubles, by the fixed lane scheme in reduce.hpp: value i
// goes to lane i % 8 (the tail, padded with NaN, is one more lane group).
// target_clones: every clone does the same IEEE operations in the same order (the library is
// built with -ffp-contract=off), so the result does not depend on the CPU it runs on.
__attribute__((target_clones("arch=x86-64-v4", "avx2", "default"))) Moments block_moments(
    const double* x, std::size_t n) noexcept {
  constexpr double inf = std::numeric_limits<double>::infinity();
  Lanes zero, one, mn, mx;
  splat(zero, 0.0);
  splat(one, 1.0);
  splat(mn, inf);
  splat(mx, -inf);
  Lanes s = zero, nan = zero;
  const std::size_t full = n - n % kLanes;
  Lanes tail, chunk;
  splat(tail, std::numeric_limits<double>::quiet_NaN());
  for (std::size_t i = full; i < n; ++i) tail[i - full] = x[i];
  const bool has_tail = full != n;
  auto pass1 = [&](const Lanes& v) {
    const auto ok = v == v;
    s += ok ? v : zero;
    nan += ok ? zero : one;
    mn = v < mn ? v : mn;
    mx = v > mx ? v : mx;
  };
  for (std::size_t i = 0; i < full; i += kLanes) {
    std::memcpy(&chunk, x + i, sizeof chunk);
    pass1(chunk);
  }
  if (has_tail) pass1(tail);
  Moments m;
  // The padding NaNs are not values: take them off (exact, n <= 4096).
  m.nan_count = static_cast<std::uint64_t>(sum_lanes(nan)) - (has_tail ? kLanes - n % kLanes : 0);
  m.count = n - m.nan_count;
  m.sum = sum_lanes(s);
  for (std::size_t k = 0; k < kLanes; ++k) {
    m.min = mn[k] < m.min ? mn[k] : m.min;
    m.max = mx[k] > m.max ? mx[k] : m.max;
  }
  if (m.count == 0) {
    m.sum = 0.0;
    return m;
  }
  if (std::isinf(m.min) || std::isinf(m.max)) {  // numpy's mean and variance with infinities
    set_infinite(m);
    return m;
  }
  if (m.min == m.max) {  // all the values are equal: exact mean, no spread
    m.mean = m.min;
    return m;
  }
  // Finite values so large that the sum or the deviations could overflow: the same algorithm on
  // the values times 2^-kScaleExp (exact: such a block's small values are far below its ulp),
  // so that a finite mean comes out finite. Deterministic: the choice depends on the data only.
  const bool scaled = !std::isfinite(m.sum) || std::fabs(m.min) >= kLarge || m.max >= kLarge;
  Lanes scale;
  splat(scale, scaled ? 0x1p-24 : 1.0);
  auto load = [&](Lanes& v, std::size_t i) {
    std::memcpy(&v, x + i, sizeof v);
    if (scaled) v *= scale;
  };
  Lanes stail = tail;
  if (scaled) stail *= scale;
  double sum = m.sum;
  if (scaled) {
    Lanes ss = zero;
    for (std::size_t i = 0; i < full; i += kLanes) {
      load(chunk, i);
      ss += chunk == chunk ? chunk : zero;
    }
    if (has_tail) ss += stail == stail ? stail : zero;
    sum = sum_lanes(ss);
  }
  // Corrected two-pass algorithm around the sub-block mean (Chan, Golub & LeVeque 1983, eq 1.7).
  const double count = static_cast<double>(m.count);
  const double mean0 = sum / count;
  Lanes vmean;
  splat(vmean, mean0);
  Lanes sd = zero, sq = zero;
  auto pass2 = [&](const Lanes& v) {
    const Lanes d = v == v ? v - vmean : zero;
    sd += d;
    sq += d * d;
  };
  for (std::size_t i = 0; i < full; i += kLanes) {
    load(chunk, i);
    pass2(chunk);
  }
  if (has_tail) pass2(stail);
  const double tsd = sum_lanes(sd);
  const double tsq = sum_lanes(sq);
  double mean = mean0 + tsd / count;
  double m2 = tsq - tsd * tsd / count;
  if (std::isinf(tsq)) {
    m2 = tsq;  // a squared deviation overflowed: so does the true m2
  } else if (!std::isfinite(m2)) {
    m2 = tsq - tsd * (tsd / count);
  }
  m2 = m2 > 0.0 ? m2 : 0.0;
  if (scaled) {
    mean *= 0x1p24;
    m2 = m2 * 0x1p24 * 0x1p24;
  }
  m.mean = mean;
  m.m2 = m2;
  return m;
}

template <class T>
constexpr bool kSupported = std::is_same_v<T, std::int8_t> || std::is_same_v<T, std::int16_t> ||
                            std::is_same_v<T, std::int32_t> || std::is_same_v<T, std::int64_t> ||
                            std::is_same_v<T, std::uint8_t> || std::is_same_v<T, std::uint16_t> ||
                            std::is_same_v<T, std::uint32_t> || std::is_same_v<T, std::uint64_t> ||
                            std::is_same_v<T, float> || std::is_same_v<T, double>;

// Calls f(const double*, n) on consecutive pieces of at most kMomentsBlock values, converted to
// double (in a stack buffer unless T is double).
template <class T, class F>
void for_each_block(std::span<const T> values, F&& f) {
  static_assert(kSupported<T>);
  const std::size_t n = values.size();
  if constexpr (std::is_same_v<T, double>) {
    for (std::size_t i = 0; i < n; i += kMomentsBlock) {
      f(values.data() + i, std::min(kMomentsBlock, n - i));
    }
  } else {
    alignas(64) std::array<double, kMomentsBlock> buf;
    for (std::size_t i = 0; i < n; i += kMomentsBlock) {
      const std::size_t len = std::min(kMomentsBlock, n - i);
      const T* p = values.data() + i;
      for (std::size_t j = 0; j < len; ++j) buf[j] = static_cast<double>(p[j]);
      f(buf.data(), len);
    }
  }
}

std::vector<double> linspace_edges(double lo, double hi, std::size_t bins) {
  // numpy.linspace(lo, hi, bins + 1): y = arange(bins + 1) * step + lo, y[-1] = hi, with
  // step = (hi - lo) / bins, or arange / bins * (hi - lo) when step underflows to 0.
  std::vector<double> e(bins + 1);
  const double delta = hi - lo;
  const double div = static_cast<double>(bins);
  const double step = delta / div;
  for (std::size_t i = 0; i <= bins; ++i) {
    const double y = static_cast<double>(i);
    e[i] = (step == 0.0 ? y / div * delta : y * step) + lo;
  }
  e[bins] = hi;
  return e;
}

void histogram_block(const double* x, std::size_t n, double lo, double hi, double norm,
                     const double* edges, std::size_t bins, std::uint64_t* counts,
                     std::size_t stride) {
  const double fbins = static_cast<double>(bins);
  for (std::size_t j = 0; j < n; ++j) {
    const double v = x[j];
    if (!(v >= lo && v <= hi)) continue;  // outside or NaN
    // numpy's estimate, then the exact bin by the edges (numpy corrects by one step; the
    // estimate is never further off than that for finite in-range values).
    const double f = (v - lo) * norm;
    std::size_t i = f < fbins ? static_cast<std::size_t>(f) : bins - 1;
    while (i > 0 && v < edges[i]) --i;
    while (i + 1 < bins && v >= edges[i + 1]) ++i;
    ++counts[(j % 4) * stride + i];
  }
}

}  // namespace

double Moments::variance() const {
  return count == 0 ? std::numeric_limits<double>::quiet_NaN() : m2 / static_cast<double>(count);
}

double Moments::average() const {
  return count == 0 ? std::numeric_limits<double>::quiet_NaN() : mean;
}

double Moments::minimum() const {
  return count == 0 ? std::numeric_limits<double>::quiet_NaN() : min;
}

double Moments::maximum() const {
  return count == 0 ? std::numeric_limits<double>::quiet_NaN() : max;
}

Moments merge(const Moments& a, const Moments& b) {
  Moments r;
  r.count = a.count + b.count;
  r.nan_count = a.nan_count + b.nan_count;
  r.sum = a.sum + b.sum;
  r.min = b.min < a.min ? b.min : a.min;
  r.max = b.max > a.max ? b.max : a.max;
  if (a.count == 0 || b.count == 0) {
    const Moments& only = a.count == 0 ? b : a;
    r.sum = only.sum;
    r.mean = only.mean;
    r.m2 = only.m2;
    return r;
  }
  if (std::isinf(r.min) || std::isinf(r.max)) {
    set_infinite(r);
    return r;
  }
  const double na = static_cast<double>(a.count);
  const double nb = static_cast<double>(b.count);
  const double n = static_cast<double>(r.count);
  const double delta = b.mean - a.mean;
  // Finite means whose difference overflows: the weighted average cannot overflow.
  r.mean = std::isfinite(delta) ? a.mean + delta * (nb / n) : a.mean * (na / n) + b.mean * (nb / n);
  r.m2 = a.m2 + b.m2 + delta * delta * (na * nb / n);
  return r;
}

template <class T>
Moments moments(std::span<const T> values) {
  Moments total;
  for_each_block(
      values, [&](const double* x, std::size_t n) { total = merge(total, block_moments(x, n)); });
  return total;
}

Histogram make_histogram(double lo, double hi, std::size_t bins) {
  if (bins == 0) throw std::invalid_argument("histogram: bins must be at least 1");
  if (!std::isfinite(lo) || !std::isfinite(hi)) {
    throw std::invalid_argument("histogram: range bounds must be finite");
  }
  if (!(lo < hi)) throw std::invalid_argument("histogram: range must have lo < hi");
  if (!std::isfinite(hi - lo)) throw std::invalid_argument("histogram: hi - lo overflows");
  Histogram h;
  h.lo = lo;
  h.hi = hi;
  h.counts.assign(bins, 0);
  return h;
}

std::vector<double> Histogram::edges() const {
  return linspace_edges(lo, hi, counts.size());
}

template <class T>
void accumulate(Histogram& h, std::span<const T> values) {
  const std::size_t bins = h.counts.size();
  if (bins == 0) throw std::invalid_argument("histogram: no bins (use make_histogram)");
  if (values.empty()) return;
  const std::vector<double> edges = h.edges();
  const double norm = static_cast<double>(bins) / (h.hi - h.lo);  // numpy's `norm`
  // Four interleaved copies of the counts (value j goes to copy j % 4) so that runs of equal
  // values do not serialise on one counter; large histograms count in place.
  constexpr std::size_t kCopyBins = 1 << 14;
  std::vector<std::uint64_t> local;
  std::uint64_t* counts = h.counts.data();
  std::size_t stride = 0;
  if (bins <= kCopyBins) {
    local.assign(4 * bins, 0);
    counts = local.data();
    stride = bins;
  }
  for_each_block(values, [&](const double* x, std::size_t n) {
    histogram_block(x, n, h.lo, h.hi, norm, edges.data(), bins, counts, stride);
  });
  if (stride != 0) {
    for (std::size_t i = 0; i < bins; ++i) {
      h.counts[i] += (local[i] + local[bins + i]) + (local[2 * bins + i] + local[3 * bins + i]);
    }
  }
}

void merge_into(Histogram& into, const Histogram& from) {
  if (into.lo != from.lo || into.hi != from.hi || into.counts.size() != from.counts.size()) {
    throw std::invalid_argument("histogram merge: different range or bins (" +
                                std::to_string(into.counts.size()) + " vs " +
                                std::to_string(from.counts.size()) + " bins)");
  }
  for (std::size_t i = 0; i < into.counts.size(); ++i) into.counts[i] += from.counts[i];
}

#define KERNELS_REDUCE_INSTANTIATE(T)                     \
  template Moments moments<T>(std::span<const T> values); \
  template void accumulate<T>(Histogram & h, std::span<const T> values);
KERNELS_REDUCE_INSTANTIATE(std::int8_t)
KERNELS_REDUCE_INSTANTIATE(std::int16_t)
KERNELS_REDUCE_INSTANTIATE(std::int32_t)
KERNELS_REDUCE_INSTANTIATE(std::int64_t)
KERNELS_REDUCE_INSTANTIATE(std::uint8_t)
KERNELS_REDUCE_INSTANTIATE(std::uint16_t)
KERNELS_REDUCE_INSTANTIATE(std::uint32_t)
KERNELS_REDUCE_INSTANTIATE(std::uint64_t)
KERNELS_REDUCE_INSTANTIATE(float)
KERNELS_REDUCE_INSTANTIATE(double)
#undef KERNELS_REDUCE_INSTANTIATE

}  // namespace kernels
