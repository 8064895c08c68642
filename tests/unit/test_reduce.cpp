// Known-answer tests of the stats kernels: closed forms and values computed with numpy.
#include "kernels/reduce.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <vector>

namespace {

using kernels::Histogram;
using kernels::Moments;

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

template <class T>
Moments moments_of(const std::vector<T>& v) {
  return kernels::moments(std::span<const T>(v));
}

template <class T>
void add(Histogram& h, const std::vector<T>& v) {
  kernels::accumulate(h, std::span<const T>(v));
}

// The same bits in every field (NaN == NaN, -0.0 != +0.0).
void expect_same_bits(const Moments& a, const Moments& b) {
  EXPECT_EQ(a.count, b.count);
  EXPECT_EQ(a.nan_count, b.nan_count);
  EXPECT_EQ(std::bit_cast<std::uint64_t>(a.sum), std::bit_cast<std::uint64_t>(b.sum));
  EXPECT_EQ(std::bit_cast<std::uint64_t>(a.mean), std::bit_cast<std::uint64_t>(b.mean));
  EXPECT_EQ(std::bit_cast<std::uint64_t>(a.m2), std::bit_cast<std::uint64_t>(b.m2));
  EXPECT_EQ(std::bit_cast<std::uint64_t>(a.min), std::bit_cast<std::uint64_t>(b.min));
  EXPECT_EQ(std::bit_cast<std::uint64_t>(a.max), std::bit_cast<std::uint64_t>(b.max));
}

// The numpy test vector: n = 100003 multiples of 1/1024 in [-900, 1053), NaN where i % 997 == 13.
std::vector<double> numpy_vector() {
  std::vector<double> x(100003);
  for (std::uint64_t i = 0; i < x.size(); ++i) {
    const std::uint64_t g = (i * 2654435761ULL + 12345ULL) % (1ULL << 32);
    x[i] = i % 997 == 13 ? kNaN : static_cast<double>(g % 2000001) / 1024.0 - 900.0;
  }
  return x;
}
// Made with (numpy 1.24.2):
// python3 -c "import numpy as np; n=100003; i=np.arange(n,dtype=np.uint64);
//   g=(i*np.uint64(2654435761)+np.uint64(12345))%np.uint64(2**32);
//   x=(g%np.uint64(2000001)).astype(np.float64)/1024.0-900.0; x[i%np.uint64(997)==13]=np.nan;
//   y=x[~np.isnan(x)]; print(np.isnan(x).sum(), y.size, repr(y.sum()), repr(y.mean()),
//   repr(y.var()), repr(y.min()), repr(y.max()));
//   h,e=np.histogram(y,bins=7,range=(-333.3,777.7)); print(list(h), [float.hex(v) for v in e])"
constexpr std::uint64_t kNpNaNs = 101, kNpCount = 99902;
constexpr double kNpSum = 7632537.9189453125;  // exact: every partial sum is a multiple of 2^-10
constexpr double kNpMean = 76.40025143586027;
constexpr double kNpVar = 317918.91931316635;
constexpr double kNpMin = -899.87109375, kNpMax = 1052.95703125;
const std::vector<std::uint64_t> kNpHist = {8122, 8134, 8112, 8108, 8119, 8114, 8124};
const std::vector<double> kNpEdges = {
    -0x1.4d4cccccccccdp+8, -0x1.5d2be2be2be2cp+7, -0x1.fbe2be2be2be0p+3, 0x1.1daf8af8af8b0p+7,
    0x1.2d8ea0ea0ea0fp+8,  0x1.cc457c57c57c7p+8,  0x1.357e2be2be2bep+9,  0x1.84d999999999ap+9};

// ---------------------------------------------------------------------------------- moments

template <class T>
void check_iota(std::uint64_t n) {
  std::vector<T> v(n);
  for (std::uint64_t i = 0; i < n; ++i) v[i] = static_cast<T>(i);
  const Moments m = moments_of(v);
  const double dn = static_cast<double>(n);
  EXPECT_EQ(m.count, n);
  EXPECT_EQ(m.nan_count, 0u);
  EXPECT_EQ(m.sum, dn * (dn - 1) / 2);  // integers below 2^53: every order is exact
  EXPECT_EQ(m.min, 0.0);
  EXPECT_EQ(m.max, dn - 1);
  EXPECT_NEAR(m.mean, (dn - 1) / 2, 1e-15 * dn);
  EXPECT_NEAR(m.variance(), (dn * dn - 1) / 12, 1e-14 * dn * dn / 12);
}

TEST(Moments, IotaClosedFormDouble) {
  for (std::uint64_t n : {1ULL, 2ULL, 7ULL, 8ULL, 9ULL, 4095ULL, 4096ULL, 4097ULL, 1000003ULL}) {
    SCOPED_TRACE(n);
    check_iota<double>(n);
  }
}

TEST(Moments, IotaClosedFormOtherTypes) {
  check_iota<float>(1000003);
  check_iota<std::int32_t>(1000003);
  check_iota<std::uint64_t>(1000003);
  check_iota<std::int16_t>(30000);
  check_iota<std::uint16_t>(65536);
  check_iota<std::uint32_t>(12345);
  check_iota<std::int64_t>(12345);
  check_iota<std::int8_t>(128);
  check_iota<std::uint8_t>(256);
}

TEST(Moments, ConstantArrayIsExact) {
  const std::vector<double> v(10007, 0.1);
  const Moments m = moments_of(v);
  EXPECT_EQ(m.count, 10007u);
  EXPECT_EQ(m.mean, 0.1);
  EXPECT_EQ(m.m2, 0.0);
  EXPECT_EQ(m.variance(), 0.0);
  EXPECT_EQ(m.min, 0.1);
  EXPECT_EQ(m.max, 0.1);
  EXPECT_NEAR(m.sum, 1000.7, 1e-9);

  const std::vector<std::uint8_t> u(5000, 255);
  const Moments mu = moments_of(u);
  EXPECT_EQ(mu.sum, 1275000.0);
  EXPECT_EQ(mu.mean, 255.0);
  EXPECT_EQ(mu.variance(), 0.0);
}

TEST(Moments, IntegerExtremes) {
  const Moments i8 = moments_of(std::vector<std::int8_t>{-128, 127, -128, 127});
  EXPECT_EQ(i8.min, -128.0);
  EXPECT_EQ(i8.max, 127.0);
  EXPECT_EQ(i8.sum, -2.0);
  EXPECT_EQ(i8.mean, -0.5);
  EXPECT_EQ(i8.variance(), 127.5 * 127.5);

  const Moments u8 = moments_of(std::vector<std::uint8_t>{0, 255});
  EXPECT_EQ(u8.mean, 127.5);
  EXPECT_EQ(u8.variance(), 127.5 * 127.5);

  constexpr auto i64min = std::numeric_limits<std::int64_t>::min();
  constexpr auto i64max = std::numeric_limits<std::int64_t>::max();
  const Moments i64 = moments_of(std::vector<std::int64_t>{i64min, i64max});
  EXPECT_EQ(i64.min, -0x1p63);
  EXPECT_EQ(i64.max, 0x1p63);  // 2^63 - 1 rounds to 2^63 in double
  EXPECT_EQ(i64.mean, 0.0);
  EXPECT_EQ(i64.variance(), 0x1p126);

  const Moments u64 =
      moments_of(std::vector<std::uint64_t>{0, std::numeric_limits<std::uint64_t>::max(), 0});
  EXPECT_EQ(u64.max, 0x1p64);
  EXPECT_EQ(u64.sum, 0x1p64);
  EXPECT_DOUBLE_EQ(u64.mean, 0x1p64 / 3);
  EXPECT_DOUBLE_EQ(u64.variance(), 0x1p128 * 2 / 9);  // {0, 2^64, 0}: m2 = 2^128 * 2/3

  const Moments i32 = moments_of(std::vector<std::int32_t>{
      std::numeric_limits<std::int32_t>::min(), std::numeric_limits<std::int32_t>::max()});
  EXPECT_EQ(i32.sum, -1.0);
  EXPECT_EQ(i32.mean, -0.5);
  EXPECT_EQ(i32.variance(), (0x1p32 - 1) * (0x1p32 - 1) / 4);
}

TEST(Moments, EmptyBlock) {
  const Moments m = moments_of(std::vector<double>{});
  EXPECT_EQ(m.count, 0u);
  EXPECT_EQ(m.nan_count, 0u);
  EXPECT_EQ(m.sum, 0.0);
  EXPECT_EQ(m.m2, 0.0);
  EXPECT_EQ(m.min, kInf);
  EXPECT_EQ(m.max, -kInf);
  EXPECT_TRUE(std::isnan(m.variance()));
  expect_same_bits(m, Moments{});
}

TEST(Moments, AllNaNBlock) {
  const std::vector<double> v(9000, kNaN);
  const Moments m = moments_of(v);
  EXPECT_EQ(m.count, 0u);
  EXPECT_EQ(m.nan_count, 9000u);
  EXPECT_EQ(m.sum, 0.0);
  EXPECT_EQ(m.min, kInf);
  EXPECT_EQ(m.max, -kInf);
  EXPECT_TRUE(std::isnan(m.variance()));
  const Moments f = moments_of(std::vector<float>(5, std::numeric_limits<float>::quiet_NaN()));
  EXPECT_EQ(f.count, 0u);
  EXPECT_EQ(f.nan_count, 5u);
}

TEST(Moments, NaNsAreLeftOut) {
  const Moments m = moments_of(std::vector<double>{kNaN, 1.0, kNaN, 2.0, 3.0, 10.0, kNaN});
  EXPECT_EQ(m.count, 4u);
  EXPECT_EQ(m.nan_count, 3u);
  EXPECT_EQ(m.sum, 16.0);
  EXPECT_EQ(m.mean, 4.0);
  EXPECT_EQ(m.m2, 50.0);  // deviations -3, -2, -1, 6
  EXPECT_EQ(m.variance(), 12.5);
  EXPECT_EQ(m.min, 1.0);
  EXPECT_EQ(m.max, 10.0);
}

TEST(Moments, MatchesNumpy) {
  const std::vector<double> x = numpy_vector();
  const Moments m = moments_of(x);
  EXPECT_EQ(m.nan_count, kNpNaNs);
  EXPECT_EQ(m.count, kNpCount);
  EXPECT_EQ(m.sum, kNpSum);
  EXPECT_EQ(m.min, kNpMin);
  EXPECT_EQ(m.max, kNpMax);
  EXPECT_NEAR(m.mean, kNpMean, 1e-14 * std::abs(kNpMean));
  EXPECT_NEAR(m.variance(), kNpVar, 1e-14 * kNpVar);
}

TEST(Moments, FloatInputMatchesDoubleOfSameValues) {
  std::vector<double> x = numpy_vector();
  std::vector<float> f(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    f[i] = static_cast<float>(x[i]);
    x[i] = static_cast<double>(f[i]);  // the values a float can hold
  }
  expect_same_bits(moments_of(f), moments_of(x));
}

TEST(Moments, ChanMergeClosedForm) {
  const Moments a = moments_of(std::vector<double>{1.0, 2.0, 3.0});
  const Moments b = moments_of(std::vector<double>{10.0, kNaN});
  const Moments m = kernels::merge(a, b);
  EXPECT_EQ(m.count, 4u);
  EXPECT_EQ(m.nan_count, 1u);
  EXPECT_EQ(m.sum, 16.0);
  EXPECT_EQ(m.mean, 4.0);
  EXPECT_EQ(m.m2, 50.0);
  EXPECT_EQ(m.min, 1.0);
  EXPECT_EQ(m.max, 10.0);
}

TEST(Moments, MergeWithEmptyIsIdentity) {
  const std::vector<double> x = numpy_vector();
  const Moments m = moments_of(x);
  expect_same_bits(kernels::merge(m, Moments{}), m);
  expect_same_bits(kernels::merge(Moments{}, m), m);
  const Moments nan_only = moments_of(std::vector<double>{kNaN, kNaN});
  const Moments with = kernels::merge(nan_only, m);
  EXPECT_EQ(with.nan_count, m.nan_count + 2);
  EXPECT_EQ(with.mean, m.mean);
  EXPECT_EQ(with.m2, m.m2);
}

TEST(Moments, MergedBlocksMatchOnePassAndAreDeterministic) {
  const std::vector<double> x = numpy_vector();
  const std::span<const double> all(x);
  const Moments whole = kernels::moments(all);
  const std::vector<std::size_t> cuts = {0, 1, 4096, 8193, 20000, 20001, 65536, x.size()};
  auto merged = [&] {
    Moments acc;
    for (std::size_t k = 0; k + 1 < cuts.size(); ++k) {
      acc = kernels::merge(acc, kernels::moments(all.subspan(cuts[k], cuts[k + 1] - cuts[k])));
    }
    return acc;
  };
  const Moments a = merged();
  EXPECT_EQ(a.count, whole.count);
  EXPECT_EQ(a.nan_count, whole.nan_count);
  EXPECT_EQ(a.sum, whole.sum);  // exact data
  EXPECT_EQ(a.min, whole.min);
  EXPECT_EQ(a.max, whole.max);
  EXPECT_NEAR(a.mean, whole.mean, 1e-14 * std::abs(whole.mean));
  EXPECT_NEAR(a.m2, whole.m2, 1e-14 * whole.m2);
  // Same blocks, same order: same bits; and one pass twice: same bits.
  expect_same_bits(merged(), a);
  expect_same_bits(kernels::moments(all), whole);
}

TEST(Moments, ManyEqualSizedChunksMatchNumpy) {
  // The way `stats` uses it: 1000-value chunks merged in chunk order.
  const std::vector<double> x = numpy_vector();
  const std::span<const double> all(x);
  Moments acc;
  for (std::size_t i = 0; i < x.size(); i += 1000) {
    acc = kernels::merge(
        acc, kernels::moments(all.subspan(i, std::min<std::size_t>(1000, x.size() - i))));
  }
  EXPECT_EQ(acc.count, kNpCount);
  EXPECT_EQ(acc.sum, kNpSum);
  EXPECT_NEAR(acc.mean, kNpMean, 1e-14 * std::abs(kNpMean));
  EXPECT_NEAR(acc.variance(), kNpVar, 1e-14 * kNpVar);
}

TEST(Moments, LargeOffsetIsAccurate) {
  // Values 1e9 + {0, 1, 2, 3} repeated: the naive sum-of-squares formula loses everything here.
  std::vector<double> v(100000);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = 1e9 + static_cast<double>(i % 4);
  const Moments m = moments_of(v);
  EXPECT_EQ(m.mean, 1e9 + 1.5);
  EXPECT_NEAR(m.variance(), 1.25, 1e-12);
}

// --------------------------------------------------------------------------------- histogram

TEST(Histogram, EdgesMatchNumpyLinspace) {
  // python3 -c "import numpy as np; print([float.hex(t) for t in np.linspace(0,1,11)])"
  const std::vector<double> expected = {0x0.0p+0,
                                        0x1.999999999999ap-4,
                                        0x1.999999999999ap-3,
                                        0x1.3333333333334p-2,
                                        0x1.999999999999ap-2,
                                        0x1.0000000000000p-1,
                                        0x1.3333333333334p-1,
                                        0x1.6666666666667p-1,
                                        0x1.999999999999ap-1,
                                        0x1.ccccccccccccdp-1,
                                        0x1.0000000000000p+0};
  EXPECT_EQ(kernels::make_histogram(0.0, 1.0, 10).edges(), expected);
  EXPECT_EQ(kernels::make_histogram(-333.3, 777.7, 7).edges(), kNpEdges);
  EXPECT_EQ(kernels::make_histogram(-1.0, 2.0, 1).edges(), (std::vector<double>{-1.0, 2.0}));
}

TEST(Histogram, ValuesAtEdgesMatchNumpy) {
  // python3 -c "import numpy as np; v=np.array([0.0,0.1,0.2,0.3,0.30000000000000004,0.7,0.6,
  //   0.9999999999999999,1.0,1.0000000000000002,-0.0,-1e-300,np.nan,0.5,0.15,0.35,
  //   0.7000000000000001,0.8,0.9,0.4]); print(list(np.histogram(v[~np.isnan(v)],bins=10,
  //   range=(0,1))[0]))"
  const std::vector<double> v = {0.0,
                                 0.1,
                                 0.2,
                                 0.3,
                                 0.30000000000000004,
                                 0.7,
                                 0.6,
                                 0.9999999999999999,
                                 1.0,
                                 1.0000000000000002,
                                 -0.0,
                                 -1e-300,
                                 kNaN,
                                 0.5,
                                 0.15,
                                 0.35,
                                 0.7000000000000001,
                                 0.8,
                                 0.9,
                                 0.4};
  Histogram h = kernels::make_histogram(0.0, 1.0, 10);
  add(h, v);
  EXPECT_EQ(h.counts, (std::vector<std::uint64_t>{2, 2, 2, 2, 1, 2, 1, 1, 1, 3}));
}

TEST(Histogram, NumpyVector) {
  const std::vector<double> x = numpy_vector();
  Histogram h = kernels::make_histogram(-333.3, 777.7, 7);
  add(h, x);
  EXPECT_EQ(h.counts, kNpHist);
  EXPECT_EQ(h.edges(), kNpEdges);
}

TEST(Histogram, PiecesMergedEqualOnePass) {
  const std::vector<double> x = numpy_vector();
  const std::span<const double> all(x);
  Histogram a = kernels::make_histogram(-333.3, 777.7, 7);
  Histogram b = a, c = a;
  kernels::accumulate(a, all.subspan(0, 5));
  kernels::accumulate(b, all.subspan(5, 40000));
  kernels::accumulate(b, all.subspan(40005, 3));
  kernels::accumulate(c, all.subspan(40008));
  kernels::merge_into(a, b);
  kernels::merge_into(a, c);
  EXPECT_EQ(a.counts, kNpHist);
}

TEST(Histogram, IntegerTypesAtExtremes) {
  Histogram h = kernels::make_histogram(-1.0, 2.0, 3);
  add(h, std::vector<std::int8_t>{-128, -2, -1, 0, 1, 2, 3, 127});
  EXPECT_EQ(h.counts, (std::vector<std::uint64_t>{1, 1, 2}));
  Histogram u = kernels::make_histogram(0.0, 0x1p64, 2);
  add(u, std::vector<std::uint64_t>{0, 1, (1ULL << 63) - 1, 1ULL << 63,
                                    std::numeric_limits<std::uint64_t>::max()});
  // (2^63 - 1) rounds to 2^63 in double, as numpy's conversion does.
  EXPECT_EQ(u.counts, (std::vector<std::uint64_t>{2, 3}));
  Histogram f = kernels::make_histogram(-1.0, 1.0, 4);
  add(f, std::vector<float>{-1.0f, -0.5f, 0.0f, 0.5f, 1.0f, 1.5f,
                            -std::numeric_limits<float>::infinity()});
  EXPECT_EQ(f.counts, (std::vector<std::uint64_t>{1, 1, 1, 2}));
}

TEST(Histogram, ManyBinsCountInPlace) {
  // More bins than the interleaved-copies threshold: one value per bin, hi in the last one.
  const std::size_t bins = 100000;
  std::vector<std::uint32_t> v(bins + 1);
  for (std::uint32_t i = 0; i <= bins; ++i) v[i] = i;
  Histogram h = kernels::make_histogram(0.0, static_cast<double>(bins), bins);
  add(h, v);
  std::vector<std::uint64_t> expected(bins, 1);
  expected.back() = 2;
  EXPECT_EQ(h.counts, expected);
}

// The statistics poolrun reports: NaN for mean, min and max of no values.
struct Reported {
  double sum, mean, variance, min, max;
};
Reported reported(const Moments& m) {
  return {m.sum, m.average(), m.variance(), m.minimum(), m.maximum()};
}

// Equal as numpy prints them: NaN equals NaN.
void expect_reported(const Moments& m, Reported want) {
  const Reported got = reported(m);
  auto same = [](double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; };
  EXPECT_PRED2(same, got.sum, want.sum);
  EXPECT_PRED2(same, got.mean, want.mean);
  EXPECT_PRED2(same, got.variance, want.variance);
  EXPECT_PRED2(same, got.min, want.min);
  EXPECT_PRED2(same, got.max, want.max);
}

// Moments of v merged from pieces of kMomentsBlock values (poolrun's blocks) have the bits of the
// one-pass result; with infinities, pieces of 1 and 3 values report the same statistics too.
void expect_chunking_invariant(const std::vector<double>& v, bool any_pieces) {
  const Moments whole = moments_of(v);
  for (std::size_t step : {std::size_t{1}, std::size_t{3}, kernels::kMomentsBlock}) {
    Moments merged;
    for (std::size_t i = 0; i < v.size(); i += step) {
      const std::size_t n = std::min(step, v.size() - i);
      merged = kernels::merge(merged, kernels::moments(std::span<const double>(v.data() + i, n)));
    }
    if (step == kernels::kMomentsBlock) {
      expect_same_bits(merged, whole);
    } else if (any_pieces) {
      expect_reported(merged, reported(whole));
    }
  }
}

// Values computed with numpy 1.24.2 (python3 -c "import numpy as np; a=np.array(V);
// print(np.sum(a), np.mean(a), np.var(a), np.min(a), np.max(a))"), V as in each comment.
TEST(Moments, InfinitiesMatchNumpy) {
  // V = [np.inf]*1000 -> inf inf nan inf inf
  expect_reported(moments_of(std::vector<double>(1000, kInf)), {kInf, kInf, kNaN, kInf, kInf});
  // V = [-np.inf]*3 -> -inf -inf nan -inf -inf
  expect_reported(moments_of(std::vector<double>(3, -kInf)), {-kInf, -kInf, kNaN, -kInf, -kInf});
  // V = [1,2,3,np.inf] -> inf inf nan 1.0 inf
  expect_reported(moments_of(std::vector<double>{1, 2, 3, kInf}), {kInf, kInf, kNaN, 1, kInf});
  // V = [1,-np.inf,2] -> -inf -inf nan -inf 2.0
  expect_reported(moments_of(std::vector<double>{1, -kInf, 2}), {-kInf, -kInf, kNaN, -kInf, 2});
  // V = [1,np.inf,-np.inf,2] -> nan nan nan -inf inf
  expect_reported(moments_of(std::vector<double>{1, kInf, -kInf, 2}),
                  {kNaN, kNaN, kNaN, -kInf, kInf});
  // NaNs are left out: V = [1,2,3,np.inf] again.
  const Moments m = moments_of(std::vector<double>{kNaN, 1, 2, kNaN, 3, kInf});
  EXPECT_EQ(m.nan_count, 2u);
  EXPECT_EQ(m.count, 4u);
  expect_reported(m, {kInf, kInf, kNaN, 1, kInf});
  // float infinities: V = [np.float32(np.inf), 1] -> inf inf nan 1.0 inf
  const float finf = std::numeric_limits<float>::infinity();
  expect_reported(moments_of(std::vector<float>{finf, 1.0f}), {kInf, kInf, kNaN, 1, kInf});
}

TEST(Moments, InfinitiesInOneBlockOfMany) {
  std::vector<double> x = numpy_vector();
  x[50000] = kInf;
  // V = x with x[50000] = np.inf, NaNs removed: mean inf, var nan
  const Moments m = moments_of(x);
  EXPECT_EQ(m.average(), kInf);
  EXPECT_TRUE(std::isnan(m.variance()));
  EXPECT_EQ(m.maximum(), kInf);
  expect_chunking_invariant(x, true);
  x[7] = -kInf;  // both signs, in different blocks: mean nan
  const Moments b = moments_of(x);
  EXPECT_TRUE(std::isnan(b.average()));
  EXPECT_TRUE(std::isnan(b.variance()));
  EXPECT_EQ(b.minimum(), -kInf);
  expect_chunking_invariant(x, true);
  std::vector<double> ones(9000, 1.0);
  ones.back() = kInf;
  expect_chunking_invariant(ones, true);
  expect_reported(moments_of(ones), {kInf, kInf, kNaN, 1, kInf});
}

TEST(Moments, NoValuesReportNaN) {
  // np.nanmean, np.nanvar, np.nanmin, np.nanmax of [np.nan]*5 -> nan; np.nansum -> 0.0
  expect_reported(moments_of(std::vector<double>(5, kNaN)), {0.0, kNaN, kNaN, kNaN, kNaN});
  expect_reported(moments_of(std::vector<double>{}), {0.0, kNaN, kNaN, kNaN, kNaN});
}

TEST(Moments, OverflowingSumsGiveFiniteMeans) {
  // numpy: np.mean([1e308, 1e308]) -> inf (the sum overflows); the mean is 1e308, variance 0.
  expect_reported(moments_of(std::vector<double>{1e308, 1e308}), {kInf, 1e308, 0.0, 1e308, 1e308});
  expect_reported(moments_of(std::vector<double>(10000, 1e308)), {kInf, 1e308, 0.0, 1e308, 1e308});
  // np.mean(np.array([1e308, 1.5e308, -1e307], dtype=np.longdouble)) -> 8.0000000000000000963e+307;
  // the variance (~5.3e615) exceeds the double range: inf.
  const Moments a = moments_of(std::vector<double>{1e308, 1.5e308, -1e307});
  EXPECT_EQ(a.sum, kInf);
  EXPECT_NEAR(a.average(), 8e307, 8e307 * 1e-15);
  EXPECT_EQ(a.variance(), kInf);
  // Partial sums overflow in some lanes: the true mean is -3.4e307.
  const Moments b = moments_of(std::vector<double>{1.7e308, 1.7e308, -1.7e308, -1.7e308, -1.7e308});
  EXPECT_NEAR(b.average(), -3.4e307, 3.4e307 * 1e-15);
  EXPECT_EQ(b.variance(), kInf);
  // Blocks whose means differ by more than the double range: 5000 x -1.7e308, 5000 x 1.7e308.
  std::vector<double> c(10000, 1.7e308);
  for (std::size_t i = 0; i < 5000; ++i) c[i] = -1.7e308;
  const Moments mc = moments_of(c);
  EXPECT_NEAR(mc.average(), 0.0, 1.7e308 * 1e-15);  // rounding in the mixed block
  EXPECT_EQ(mc.variance(), kInf);
  expect_chunking_invariant(c, false);
  // Large values that do not overflow: the scaled path agrees with the exact answer.
  // np.mean([2.0**1000, 2.0**1001]) -> 1.6070...e+301 (exact: 1.5 * 2^1000); np.var -> inf
  const Moments d = moments_of(std::vector<double>{0x1p1000, 0x1p1001});
  EXPECT_EQ(d.average(), 0x1.8p1000);
  EXPECT_EQ(d.variance(), kInf);
  // Mean exact through the scaling: np.mean([2.0**1000, 2.0**1000 + 2.0**960]) == 2**1000 + 2**959
  const Moments e = moments_of(std::vector<double>{0x1p1000, 0x1p1000 + 0x1p960});
  EXPECT_EQ(e.average(), 0x1p1000 + 0x1p959);
}

TEST(Moments, FiniteStatisticsUnchangedBelowTheScaledRange) {
  // np.mean([1e300]*3 + [3e300]) -> 1.5e+300; np.var(...) -> 7.5e+599 overflows: inf
  const Moments m = moments_of(std::vector<double>{1e300, 1e300, 1e300, 3e300});
  EXPECT_EQ(m.average(), 1.5e300);
  EXPECT_EQ(m.variance(), kInf);
}

TEST(Histogram, InfinitiesOutsideAGivenRange) {
  // np.histogram([1,2,3,np.inf,-np.inf], bins=4, range=(0,4)) -> [0, 1, 1, 1]
  Histogram h = kernels::make_histogram(0.0, 4.0, 4);
  add(h, std::vector<double>{1, 2, 3, kInf, -kInf});
  EXPECT_EQ(h.counts, (std::vector<std::uint64_t>{0, 1, 1, 1}));
}

TEST(Histogram, BadArgumentsThrow) {
  EXPECT_THROW(kernels::make_histogram(0.0, 1.0, 0), std::invalid_argument);
  EXPECT_THROW(kernels::make_histogram(1.0, 1.0, 4), std::invalid_argument);
  EXPECT_THROW(kernels::make_histogram(2.0, 1.0, 4), std::invalid_argument);
  EXPECT_THROW(kernels::make_histogram(kNaN, 1.0, 4), std::invalid_argument);
  EXPECT_THROW(kernels::make_histogram(0.0, kInf, 4), std::invalid_argument);
  EXPECT_THROW(kernels::make_histogram(-1e308, 1e308, 4), std::invalid_argument);
  Histogram a = kernels::make_histogram(0.0, 1.0, 4);
  EXPECT_THROW(kernels::merge_into(a, kernels::make_histogram(0.0, 1.0, 5)), std::invalid_argument);
  EXPECT_THROW(kernels::merge_into(a, kernels::make_histogram(0.0, 2.0, 4)), std::invalid_argument);
  Histogram empty;
  EXPECT_THROW(add(empty, std::vector<double>{1.0}), std::invalid_argument);
}

}  // namespace
