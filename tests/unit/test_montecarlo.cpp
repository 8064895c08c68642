// The pi kernel: its Philox stream against Random123 itself (every SIMD path, bit for bit),
// counts against a reference written here from Random123, and known answers from an independent
// Python implementation of the documented stream.
#include <Random123/philox.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <random>
#include <stdexcept>
#include <vector>

#include "kernels/montecarlo.hpp"

namespace {

using kernels::SimdPath;
using u64 = std::uint64_t;
__extension__ typedef unsigned __int128 u128;

constexpr u64 kMax = std::numeric_limits<u64>::max();
const SimdPath kPaths[] = {SimdPath::scalar, SimdPath::avx2, SimdPath::avx512};

std::array<std::uint32_t, 4> r123_block(u64 seed, u64 block) {
  r123::Philox4x32 philox;
  const r123::Philox4x32::ctr_type ctr = {
      {static_cast<std::uint32_t>(block), static_cast<std::uint32_t>(block >> 32), 0, 0}};
  const r123::Philox4x32::key_type key = {
      {static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)}};
  const auto r = philox(ctr, key);
  return {r.v[0], r.v[1], r.v[2], r.v[3]};
}

// The documented definition, in the plainest terms: x^2 + y^2 <= 2^64 in exact 128-bit integers.
u64 reference_count(u64 seed, u64 first, u64 count) {
  u64 inside = 0;
  for (u64 i = first; i != first + count; ++i) {
    const auto r = r123_block(seed, i / 2);
    const u128 x = r[(i % 2) * 2];
    const u128 y = r[(i % 2) * 2 + 1];
    inside += x * x + y * y <= (u128{1} << 64) ? 1 : 0;
  }
  return inside;
}

std::vector<SimdPath> supported_paths() {
  std::vector<SimdPath> paths;
  for (const SimdPath p : kPaths) {
    if (kernels::simd_path_supported(p)) paths.push_back(p);
  }
  return paths;
}

TEST(Philox, KnownAnswersFromRandom123) {
  // Random123's kat_vectors: philox4x32 10 rounds.
  EXPECT_EQ(kernels::philox4x32_10({0, 0, 0, 0}, {0, 0}),
            (std::array<std::uint32_t, 4>{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}));
  EXPECT_EQ(kernels::philox4x32_10({0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
                                   {0xffffffff, 0xffffffff}),
            (std::array<std::uint32_t, 4>{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}));
  EXPECT_EQ(kernels::philox4x32_10({0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
                                   {0xa4093822, 0x299f31d0}),
            (std::array<std::uint32_t, 4>{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}));
}

TEST(Philox, ScalarMatchesRandom123OnRandomCountersAndKeys) {
  std::mt19937_64 rng(7);
  r123::Philox4x32 philox;
  for (int n = 0; n < 20000; ++n) {
    std::array<std::uint32_t, 4> c{};
    std::array<std::uint32_t, 2> k{};
    for (auto& w : c) w = static_cast<std::uint32_t>(rng());
    for (auto& w : k) w = static_cast<std::uint32_t>(rng());
    const auto r = philox({{c[0], c[1], c[2], c[3]}}, {{k[0], k[1]}});
    ASSERT_EQ(kernels::philox4x32_10(c, k),
              (std::array<std::uint32_t, 4>{r.v[0], r.v[1], r.v[2], r.v[3]}));
  }
}

TEST(Philox, PiBlockIsTheDocumentedCounterAndKey) {
  for (const u64 seed : {u64{0}, u64{1}, u64{0xFEDCBA9876543210}, kMax}) {
    for (const u64 block : {u64{0}, u64{5}, u64{0xFFFFFFFF}, u64{1} << 32, kMax}) {
      EXPECT_EQ(kernels::pi_block(seed, block), r123_block(seed, block));
    }
  }
}

TEST(Philox, EverySimdPathMatchesRandom123BitForBit) {
  std::mt19937_64 rng(11);
  const u64 seeds[] = {0, 12345, 0xFEDCBA9876543210, kMax, rng()};
  // Starts that put the counter's high word change inside a vector, and the very top.
  const u64 starts[] = {0, 3, (u64{1} << 32) - 37, (u64{7} << 32) - 5, kMax - 1000, rng() >> 1};
  for (const SimdPath path : supported_paths()) {
    for (const u64 seed : seeds) {
      for (const u64 first : starts) {
        const std::size_t count = 1000;
        std::vector<std::uint32_t> out(4 * count);
        kernels::pi_blocks(path, seed, first, count, out.data());
        for (std::size_t i = 0; i < count; ++i) {
          const auto r = r123_block(seed, first + i);
          for (std::size_t w = 0; w < 4; ++w) {
            ASSERT_EQ(out[4 * i + w], r[w]) << kernels::to_string(path) << " seed " << seed
                                            << " block " << first + i << " word " << w;
          }
        }
      }
    }
  }
}

TEST(CountInside, EveryPathMatchesTheReferenceOnAwkwardRanges) {
  std::mt19937_64 rng(13);
  for (const SimdPath path : supported_paths()) {
    for (int t = 0; t < 300; ++t) {
      const u64 seed = rng();
      const u64 count = t < 150 ? static_cast<u64>(t) : rng() % 3000;  // every small size
      u64 first = rng();
      if (t % 3 == 0) first = (u64{1} << 33) - 64 + rng() % 128;  // high counter word changes
      if (t % 7 == 0) first = kMax - count;                       // the very top
      ASSERT_EQ(kernels::count_inside(path, seed, first, count),
                reference_count(seed, first, count))
          << kernels::to_string(path) << " seed " << seed << " first " << first << " count "
          << count;
    }
  }
}

TEST(CountInside, KnownAnswersFromAnIndependentPythonPhilox) {
  // /usr/bin/python3, Philox4x32-10 written from the spec, stream as in montecarlo.hpp:
  //   count(12345, 0, 100000) -> 78653; count(0xFEDCBA9876543210, 2**33 - 7, 20001) -> 15617
  EXPECT_EQ(kernels::count_inside(12345, 0, 100000), 78653u);
  EXPECT_EQ(kernels::count_inside(0xFEDCBA9876543210, (u64{1} << 33) - 7, 20001), 15617u);
}

TEST(CountInside, ChunksAddUpAndPathsAgree) {
  const u64 seed = 2024;
  const u64 n = 3'000'001;
  const u64 whole = kernels::count_inside(seed, 0, n);
  for (const SimdPath path : supported_paths()) {
    EXPECT_EQ(kernels::count_inside(path, seed, 0, n), whole) << kernels::to_string(path);
  }
  std::mt19937_64 rng(17);
  u64 sum = 0;
  for (u64 first = 0; first < n;) {
    const u64 len = std::min<u64>(n - first, rng() % 100'000);
    sum += kernels::count_inside(seed, first, len);
    first += len;
  }
  EXPECT_EQ(sum, whole);
}

TEST(CountInside, EstimatesPiWithinItsStandardError) {
  const u64 n = 200'000'000;
  const auto e = kernels::estimate_pi(kernels::count_inside(99, 0, n), n);
  EXPECT_NEAR(e.standard_error,
              4 * std::sqrt(std::numbers::pi / 4 * (1 - std::numbers::pi / 4) / 2e8), 1e-7);
  EXPECT_LT(std::abs(e.pi - std::numbers::pi), 5 * e.standard_error);
}

TEST(CountInside, RangeLimits) {
  EXPECT_EQ(kernels::count_inside(1, 5, 0), 0u);
  EXPECT_EQ(kernels::count_inside(1, kMax - 1, 1), reference_count(1, kMax - 1, 1));
  EXPECT_NO_THROW(kernels::count_inside(1, kMax, 0));
  EXPECT_THROW(kernels::count_inside(1, kMax, 1), std::out_of_range);
  EXPECT_THROW(kernels::count_inside(1, 10, kMax), std::out_of_range);
  std::vector<std::uint32_t> out(8);
  EXPECT_THROW(kernels::pi_blocks(SimdPath::scalar, 1, kMax, 2, out.data()), std::out_of_range);
}

TEST(CountInside, UnsupportedPathIsRefused) {
  for (const SimdPath p : kPaths) {
    if (!kernels::simd_path_supported(p)) {
      EXPECT_THROW(kernels::count_inside(p, 1, 0, 10), std::invalid_argument);
      return;
    }
  }
  GTEST_SKIP() << "every SIMD path is supported on this CPU";
}

TEST(InsideQuarterDisc, MatchesExactArithmetic) {
  constexpr std::uint32_t kTop = 0xFFFFFFFF;
  EXPECT_TRUE(kernels::inside_quarter_disc(0, 0));
  EXPECT_TRUE(kernels::inside_quarter_disc(kTop, 0));
  EXPECT_TRUE(kernels::inside_quarter_disc(0, kTop));
  EXPECT_FALSE(kernels::inside_quarter_disc(kTop, kTop));
  // Near the circle: for each x, the largest y inside, and y + 1 outside.
  std::mt19937_64 rng(19);
  for (int t = 0; t < 100000; ++t) {
    const auto x = static_cast<std::uint32_t>(rng());
    const u128 rest = (u128{1} << 64) - u128{x} * x;
    auto y = static_cast<u128>(std::sqrt(static_cast<double>(rest)));
    while (y * y > rest) --y;
    while ((y + 1) * (y + 1) <= rest) ++y;
    if (y > kTop) continue;
    ASSERT_TRUE(kernels::inside_quarter_disc(x, static_cast<std::uint32_t>(y))) << x;
    if (y < kTop) {
      ASSERT_FALSE(kernels::inside_quarter_disc(x, static_cast<std::uint32_t>(y + 1))) << x;
    }
  }
}

TEST(EstimatePi, FormulaAndErrors) {
  const auto e = kernels::estimate_pi(3, 4);
  EXPECT_DOUBLE_EQ(e.pi, 3.0);
  EXPECT_DOUBLE_EQ(e.standard_error, 4 * std::sqrt(0.75 * 0.25 / 4));
  EXPECT_DOUBLE_EQ(kernels::estimate_pi(0, 10).standard_error, 0.0);
  EXPECT_THROW(kernels::estimate_pi(0, 0), std::invalid_argument);
  EXPECT_THROW(kernels::estimate_pi(5, 4), std::invalid_argument);
}

}  // namespace
