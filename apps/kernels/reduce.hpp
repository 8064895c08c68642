#pragma once
// Chunked reductions for `poolrun stats`: mergeable moments and fixed-range histograms.
// Pure C++, no MPI, no HDF5.
//
// Determinism: every function here is a fixed sequence of IEEE double operations (no threads, no
// -ffast-math, no reassociation that depends on the SIMD width of the machine), so the same input
// gives the same bits. Callers merge partials in a fixed order (chunk order), which makes the
// final result independent of the number of ranks.
//
// moments(), exactly: values are converted to double (exact for every type but int64/uint64
// beyond 2^53, which round to nearest) and processed in sub-blocks of kMomentsBlock values. Per
// sub-block, pass 1 accumulates the sum, min, max and NaN count in 8 interleaved lanes
// (value i goes to lane i % 8; lanes are then combined as ((l0+l4)+(l2+l6))+((l1+l5)+(l3+l7))),
// and pass 2 computes the corrected two-pass M2 around the sub-block mean
// (M2 = sum d^2 - (sum d)^2 / n, d = x - mean, same lane scheme). Sub-blocks are combined left to
// right with merge(). NaN values are counted in nan_count and skipped everywhere else.
// min/max: -0.0 and +0.0 compare equal; whichever is met first in lane order is kept.
//
// Infinities (numpy's results on the non-NaN values): with +inf among the values the mean is
// +inf, with -inf it is -inf, with both it is NaN; the variance (m2) is NaN whenever one occurs.
// Finite values whose sum overflows still have a finite mean (numpy: inf): a sub-block with a
// value of magnitude >= 2^1000 or an overflowing sum is computed on its values times 2^-24 and
// the mean and m2 scaled back; merge() averages means whose difference overflows. The variance
// is +inf when the true one exceeds the double range. `sum` stays the plain sum (inf when it
// overflows, as numpy.sum).

#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

namespace kernels {

// Values per sub-block in moments(): 32 KiB of double, L1-resident for the second pass.
inline constexpr std::size_t kMomentsBlock = 4096;

// Mergeable partial statistics of a block of values (NaNs counted and left out of the rest).
struct Moments {
  std::uint64_t count = 0;  // non-NaN values
  std::uint64_t nan_count = 0;
  double sum = 0;   // plain sum of the non-NaN values
  double mean = 0;  // running mean (Welford / Chan)
  double m2 = 0;    // sum of squared deviations from the mean
  double min = +std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  // Population variance m2 / count (ddof 0); NaN if count == 0.
  double variance() const;
  // mean, min and max, but NaN if count == 0 (numpy.nanmean, nanmin, nanmax of all-NaN data).
  double average() const;
  double minimum() const;
  double maximum() const;
};

// Statistics of one block; T is any of int8..int64, uint8..uint64, float, double.
template <class T>
Moments moments(std::span<const T> values);

// Chan et al.'s parallel combination of two partials, `a` first:
//   n = na + nb, d = mean_b - mean_a, mean = mean_a + d * (nb / n),
//   m2 = m2_a + m2_b + d^2 * (na * nb / n); sum, counts, min, max combine plainly.
// An empty side (count == 0) returns the other's statistics unchanged (nan_count added).
// Not commutative in the last bits: merge in a fixed order for reproducible results.
Moments merge(const Moments& a, const Moments& b);

// Fixed-range histogram with `bins` equal bins over [lo, hi]; a value equal to hi goes in the
// last bin (numpy.histogram's convention); values outside [lo, hi] and NaNs are not counted.
// Values are converted to double first, so a float32 array counts as numpy.histogram of
// a.astype(numpy.float64) would (numpy itself would use float32 edges for float32 input).
// Bin of x: the largest i with edges()[i] <= x, capped at bins - 1 -- numpy.histogram's result.
struct Histogram {
  double lo = 0, hi = 1;
  std::vector<std::uint64_t> counts;
  // bins + 1 edges, exactly as numpy.linspace(lo, hi, bins + 1): i * ((hi - lo) / bins) + lo,
  // the last one hi.
  std::vector<double> edges() const;
  std::size_t bins() const noexcept { return counts.size(); }
};

// Throws std::invalid_argument on bins == 0, !(lo < hi), non-finite lo or hi, or hi - lo
// overflowing to infinity.
Histogram make_histogram(double lo, double hi, std::size_t bins);

// Adds the values to h.counts (T as for moments()). Throws std::invalid_argument if h has no bins.
template <class T>
void accumulate(Histogram& h, std::span<const T> values);

// into.counts += from.counts; throws std::invalid_argument unless lo, hi and bins are the same.
void merge_into(Histogram& into, const Histogram& from);

}  // namespace kernels
