// Power sums against values printed by Python (exact big integers), the overflow boundary,
// chunking, and the decimal conversions.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>

#include "kernels/powersum.hpp"

namespace {

using kernels::parse_decimal;
using kernels::power_sum;
using kernels::to_decimal;
using kernels::u128;
using u64 = std::uint64_t;

constexpr u64 kMax = std::numeric_limits<u64>::max();
constexpr u128 kU128Max = ~u128{0};

std::string ps(unsigned k, u64 begin, u64 end) {
  return to_decimal(power_sum(k, begin, end));
}

TEST(PowerSum, KnownAnswersFromPython) {
  // /usr/bin/python3 -c "print(sum(i**k for i in range(n)))" for each (k, n):
  EXPECT_EQ(ps(0, 0, 0), "0");
  EXPECT_EQ(ps(0, 0, 1), "1");  // 0**0 == 1
  EXPECT_EQ(ps(0, 0, 10), "10");
  EXPECT_EQ(ps(1, 0, 0), "0");
  EXPECT_EQ(ps(1, 0, 1), "0");
  EXPECT_EQ(ps(1, 0, 10), "45");
  EXPECT_EQ(ps(2, 0, 10), "285");
  EXPECT_EQ(ps(3, 0, 10), "2025");
  EXPECT_EQ(ps(3, 0, 1000), "249500250000");
  EXPECT_EQ(ps(5, 0, 1000), "166167083333250000");
  EXPECT_EQ(ps(7, 0, 1000), "124500583333041666750000");
}

TEST(PowerSum, SumSquaresFortyMillionPastTwoToThe64) {
  // PRODUCT.md section 5; python3: sum(i * i for i in range(40_000_000))
  EXPECT_EQ(to_decimal(power_sum(2, 40'000'000)), "21333332533333340000000");
}

TEST(PowerSum, TutorialSumCubes) {
  // python3: sum(sum(i**3 for i in range(n)) for n in range(10000))
  u128 total = 0;
  for (u64 n = 0; n < 10000; ++n) total = kernels::checked_add(total, power_sum(3, n));
  EXPECT_EQ(to_decimal(total), "4997500416641667000");
}

TEST(PowerSum, RangesWithTermsPast64Bits) {
  // python3: sum(i**k for i in range(a, b))
  EXPECT_EQ(ps(1, kMax - 999, kMax), "18428297329635841563885");  // range(2**64-1000, 2**64-1)
  EXPECT_EQ(ps(2, u64{1} << 40, (u64{1} << 40) + 1000), "1208925820713041291187233500");
  EXPECT_EQ(ps(3, (u64{1} << 30) - 500, (u64{1} << 30) + 500), "1237940037556266453981599672000");
  EXPECT_EQ(ps(3, 2642245 - 1000, 2642245 + 1000), "36893432708741434420000");  // 64-bit edge
  EXPECT_EQ(ps(2, u64{1} << 62, (u64{1} << 62) + 3), "63802943797675961927052855004020867077");
  EXPECT_EQ(ps(2, (u64{1} << 63) - 3, u64{1} << 63), "255211775190703847486850491131568848910");
  EXPECT_EQ(ps(64, 0, 4), "3433683820310959228731558640898");
  EXPECT_EQ(ps(127, 0, 3), "170141183460469231731687303715884105729");  // 1 + 2**127
}

TEST(PowerSum, OverflowBoundaryIsExact) {
  // python3: the largest n with sum(i**k for i in range(n)) < 2**128, and that sum.
  EXPECT_EQ(ps(20, 0, 79), "294313647778337107541718534563758762663");
  EXPECT_THROW(power_sum(20, 0, 80), std::overflow_error);
  EXPECT_EQ(ps(30, 0, 20), "285725299583298183775213201527521510050");
  EXPECT_THROW(power_sum(30, 0, 21), std::overflow_error);
  EXPECT_THROW(power_sum(64, 0, 5), std::overflow_error);
  EXPECT_THROW(power_sum(127, 0, 4), std::overflow_error);
  EXPECT_THROW(power_sum(128, 0, 3), std::overflow_error);  // 2**128 alone
  EXPECT_EQ(ps(1000, 0, 2), "1");
}

TEST(PowerSum, OverflowIsReportedAtOnceWithTheProductMessage) {
  // python3: sum(i**10 for i in range(100000)) has 54 digits
  EXPECT_THROW(power_sum(10, 100000), std::overflow_error);
  EXPECT_THROW(power_sum(2, u64{1} << 50), std::overflow_error);  // would take days to loop
  EXPECT_THROW(power_sum(3, u64{1} << 33), std::overflow_error);
  EXPECT_THROW(power_sum(2, u64{1} << 63, (u64{1} << 63) + 1000000), std::overflow_error);
  try {
    power_sum(5, kMax);
    FAIL() << "no overflow reported";
  } catch (const std::overflow_error& e) {
    EXPECT_STREQ(e.what(), "sum of i^k for i < n exceeds 2^128");
  }
}

TEST(PowerSum, ChunksAddUpToTheWhole) {
  std::mt19937_64 rng(5);
  for (unsigned k = 0; k <= 9; ++k) {
    const u64 n = k <= 3 ? 200'000 : 2'000;
    const u128 whole = power_sum(k, n);
    u128 sum = 0;
    for (u64 a = 0; a < n;) {
      const u64 b = std::min<u64>(n, a + rng() % 5000);
      sum = kernels::checked_add(sum, power_sum(k, a, b));
      a = b;
    }
    EXPECT_EQ(sum, whole) << "k=" << k;
  }
}

TEST(PowerSum, ArgumentsAndCheckedAdd) {
  EXPECT_THROW(power_sum(2, 10, 9), std::invalid_argument);
  EXPECT_EQ(power_sum(2, 7, 7), 0u);
  EXPECT_EQ(power_sum(0, 5, kMax), kMax - 5);
  EXPECT_EQ(kernels::checked_add(kU128Max - 1, 1), kU128Max);
  EXPECT_THROW(kernels::checked_add(kU128Max, 1), std::overflow_error);
}

TEST(Decimal, ToDecimalMatchesPython) {
  EXPECT_EQ(to_decimal(0), "0");
  EXPECT_EQ(to_decimal(7), "7");
  EXPECT_EQ(to_decimal(u128{10'000'000'000'000'000'000u}), "10000000000000000000");
  EXPECT_EQ(to_decimal(u128{1} << 64), "18446744073709551616");
  EXPECT_EQ(to_decimal((u128{1} << 64) * 10'000'000'000'000'000'000u),
            "184467440737095516160000000000000000000");  // python3: 2**64 * 10**19
  EXPECT_EQ(to_decimal(kU128Max), "340282366920938463463374607431768211455");  // 2**128 - 1
}

TEST(Decimal, ParseRoundTripsAndRejects) {
  std::mt19937_64 rng(3);
  for (int t = 0; t < 10000; ++t) {
    const u128 v = (u128{rng()} << 64 | rng()) >> (rng() % 128);
    ASSERT_EQ(parse_decimal(to_decimal(v)), v);
  }
  EXPECT_EQ(parse_decimal("340282366920938463463374607431768211455"), kU128Max);
  EXPECT_EQ(parse_decimal("10_000_000"), 10'000'000u);
  EXPECT_EQ(parse_decimal("007"), 7u);
  EXPECT_THROW(parse_decimal("340282366920938463463374607431768211456"), std::overflow_error);
  EXPECT_THROW(parse_decimal("99999999999999999999999999999999999999999"), std::overflow_error);
  for (const char* bad : {"", "-1", "+1", " 1", "1 ", "1e3", "0x10", "_1", "1_", "1__0", "abc"}) {
    EXPECT_THROW(parse_decimal(bad), std::invalid_argument) << '"' << bad << '"';
  }
}

}  // namespace
