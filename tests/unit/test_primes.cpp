// kernels::count_primes against known values, trial division and libprimesieve.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <primesieve.hpp>
#include <random>
#include <stdexcept>
#include <vector>

#include "kernels/primes.hpp"

namespace {

// primesieve counts the closed interval [a, b]; ours is half open.
std::uint64_t oracle(std::uint64_t a, std::uint64_t b) {
  return b <= a ? 0 : primesieve::count_primes(a, b - 1);
}

bool is_prime(std::uint64_t n) {
  if (n < 2) return false;
  for (std::uint64_t d = 2; d * d <= n; ++d)
    if (n % d == 0) return false;
  return true;
}

// Tiny segments push ranges of a few million numbers through many segments, the L1 blocks,
// medium primes and the bucket path (large primes start at 15 * segment_bytes).
kernels::SieveOptions tiny_options() {
  kernels::SieveOptions o;
  o.segment_bytes = 64;
  o.block_bytes = 16;
  o.small_prime_limit = 40;
  return o;
}

kernels::SieveOptions small_options() {
  kernels::SieveOptions o;
  o.segment_bytes = 1024;
  o.block_bytes = 256;
  o.small_prime_limit = 512;
  return o;
}

const std::vector<kernels::SieveOptions>& all_options() {
  static const std::vector<kernels::SieveOptions> options = {kernels::SieveOptions{},
                                                             tiny_options(), small_options()};
  return options;
}

TEST(Primes, KnownPowersOfTenUpTo1e9) {
  const kernels::BasePrimes base(1'000'000'000);
  const std::uint64_t expected[] = {4, 25, 168, 1229, 9592, 78498, 664579, 5761455, 50847534};
  std::uint64_t n = 1;
  for (std::uint64_t want : expected) {
    n *= 10;
    EXPECT_EQ(kernels::count_primes(base, 0, n), want) << "pi(" << n << ")";
  }
}

TEST(Primes, PiOf1e10) {
  const kernels::BasePrimes base(10'000'000'000ULL);
  EXPECT_EQ(kernels::count_primes(base, 0, 10'000'000'000ULL), 455052511U);
}

TEST(Primes, EverySmallRangeMatchesTrialDivision) {
  const kernels::BasePrimes base(2000);
  std::vector<std::uint64_t> prefix(1201, 0);  // prefix[n] = primes below n
  for (std::uint64_t n = 1; n <= 1200; ++n) prefix[n] = prefix[n - 1] + (is_prime(n - 1) ? 1 : 0);
  for (const auto& options : all_options()) {
    for (std::uint64_t a = 0; a <= 260; ++a) {
      for (std::uint64_t b = a; b <= 260; ++b) {
        ASSERT_EQ(kernels::count_primes(base, a, b, options), prefix[b] - prefix[a])
            << "[" << a << ", " << b << ") segment " << options.segment_bytes;
      }
    }
    // Ranges that start and end in the middle of bytes and words, across segment borders.
    for (std::uint64_t a = 900; a < 1200; a += 7) {
      ASSERT_EQ(kernels::count_primes(base, a, 1200, options), prefix[1200] - prefix[a]);
    }
  }
}

TEST(Primes, RandomRangesMatchPrimesieve) {
  std::mt19937_64 rng(20240601);
  const kernels::BasePrimes base(1'000'000'000'000ULL);
  for (int i = 0; i < 60; ++i) {
    // Log-uniform positions up to 1e12, lengths up to 1e7 (a few up to 1e3).
    const double exponent = std::uniform_real_distribution<double>(0.0, 12.0)(rng);
    const auto a = static_cast<std::uint64_t>(std::pow(10.0, exponent)) - 1;
    const std::uint64_t max_len = i % 4 == 0 ? 1000 : 10'000'000;
    std::uint64_t b = a + std::uniform_int_distribution<std::uint64_t>(0, max_len)(rng);
    b = std::min<std::uint64_t>(b, base.upper_bound());
    const kernels::SieveOptions& options = all_options()[static_cast<std::size_t>(i) % 3];
    ASSERT_EQ(kernels::count_primes(base, a, b, options), oracle(a, b))
        << "[" << a << ", " << b << ") segment " << options.segment_bytes;
  }
}

TEST(Primes, FarRangesMatchPrimesieve) {
  const std::uint64_t e12 = 1'000'000'000'000ULL;
  const std::uint64_t e13 = 10'000'000'000'000ULL;
  {
    const kernels::BasePrimes base(e12 + 100'000'000);
    EXPECT_EQ(kernels::count_primes(base, e12, e12 + 100'000'000), oracle(e12, e12 + 100'000'000));
    // The bucket path with real-sized primes: sqrt(1e12) >> 15 * 1024.
    EXPECT_EQ(kernels::count_primes(base, e12 + 12345, e12 + 3'000'000, small_options()),
              oracle(e12 + 12345, e12 + 3'000'000));
  }
  {
    const kernels::BasePrimes base(e13 + 10'000'000);
    EXPECT_EQ(kernels::count_primes(base, e13, e13 + 10'000'000), oracle(e13, e13 + 10'000'000));
    EXPECT_EQ(kernels::count_primes(base, e13 + 7, e13 + 1'000'003, small_options()),
              oracle(e13 + 7, e13 + 1'000'003));
    // The largest b this BasePrimes covers, exactly.
    EXPECT_EQ(kernels::count_primes(base, e13 + 9'000'001, e13 + 10'000'000),
              oracle(e13 + 9'000'001, e13 + 10'000'000));
  }
  {
    // At the supported maximum, default options put primes above 15 * 512 KiB in buckets.
    const std::uint64_t max = kernels::kMaxPrimesUpperBound;
    const kernels::BasePrimes base(max);
    EXPECT_EQ(kernels::count_primes(base, max - 10'000'000, max), oracle(max - 10'000'000, max));
  }
}

// The pre-sieve fills each L1 block in passes of a few KiB from patterns whose periods are
// both below and above a pass; blocks as large as the segment, block sizes that are not powers
// of two, and no small primes at all must give the same counts.
TEST(Primes, PresieveAndBlockShapesMatchPrimesieve) {
  std::vector<kernels::SieveOptions> shapes(3);
  shapes[0].segment_bytes = 1U << 16;
  shapes[0].block_bytes = 1U << 16;
  shapes[0].small_prime_limit = 3000;
  shapes[1].segment_bytes = 1U << 15;
  shapes[1].block_bytes = 12288;
  shapes[1].small_prime_limit = 200;
  shapes[2].segment_bytes = 64;
  shapes[2].block_bytes = 8;
  shapes[2].small_prime_limit = 0;
  const kernels::BasePrimes base(2'000'000'000ULL);
  for (const auto& options : shapes) {
    EXPECT_EQ(kernels::count_primes(base, 0, 5'000'000, options), oracle(0, 5'000'000))
        << "segment " << options.segment_bytes << " block " << options.block_bytes;
    EXPECT_EQ(kernels::count_primes(base, 1'000'000'007, 1'003'000'000, options),
              oracle(1'000'000'007, 1'003'000'000));
    // Starts inside the bytes that hold the pre-sieve primes themselves (7..163).
    for (std::uint64_t a = 0; a < 200; a += 13) {
      ASSERT_EQ(kernels::count_primes(base, a, a + 2000, options), oracle(a, a + 2000))
          << "[" << a << ", " << a + 2000 << ") block " << options.block_bytes;
    }
  }
}

TEST(Primes, ChunkingDoesNotChangeTheTotal) {
  const std::uint64_t e12 = 1'000'000'000'000ULL;
  const struct { std::uint64_t a, b; } ranges[] = {{0, 200'000'000}, {e12 - 3, e12 + 20'000'000}};
  std::mt19937_64 rng(7);
  for (const auto& r : ranges) {
    const kernels::BasePrimes base(r.b);
    const std::uint64_t total = kernels::count_primes(base, r.a, r.b);
    EXPECT_EQ(total, oracle(r.a, r.b));
    // The suggested chunking, fixed odd-sized chunks, and random cut points.
    for (std::uint64_t workers : {1, 2, 7}) {
      const std::uint64_t chunk = kernels::suggested_chunk_size(r.a, r.b, workers);
      std::uint64_t sum = 0;
      for (std::uint64_t lo = r.a; lo < r.b; lo += chunk)
        sum += kernels::count_primes(base, lo, std::min(r.b, lo + chunk));
      EXPECT_EQ(sum, total) << "workers " << workers;
    }
    std::uint64_t sum = 0;
    for (std::uint64_t lo = r.a; lo < r.b; lo += 9'999'991)
      sum += kernels::count_primes(base, lo, std::min(r.b, lo + 9'999'991));
    EXPECT_EQ(sum, total);
    std::vector<std::uint64_t> cuts = {r.a, r.b};
    for (int i = 0; i < 40; ++i)
      cuts.push_back(std::uniform_int_distribution<std::uint64_t>(r.a, r.b)(rng));
    std::sort(cuts.begin(), cuts.end());
    sum = 0;
    for (std::size_t i = 0; i + 1 < cuts.size(); ++i)
      sum += kernels::count_primes(base, cuts[i], cuts[i + 1]);
    EXPECT_EQ(sum, total);
  }
}

TEST(Primes, SuggestedChunkSize) {
  const kernels::SieveOptions options;
  const std::uint64_t span = kernels::segment_span(options);
  for (std::uint64_t b :
       {100ULL, 10'000'000'000ULL, 1'000'000'000'000ULL, 1'000'000'000'000'000ULL}) {
    for (std::uint64_t workers : {0, 1, 2, 64}) {
      const std::uint64_t chunk = kernels::suggested_chunk_size(0, b, workers, options);
      EXPECT_EQ(chunk % span, 0U);
      EXPECT_GE(chunk, span);
      EXPECT_GE(chunk * chunk, b);
    }
  }
  // 1e10 on 2 ranks: several chunks each for load balance.
  const std::uint64_t chunk = kernels::suggested_chunk_size(0, 10'000'000'000ULL, 2, options);
  EXPECT_GE(10'000'000'000ULL / chunk, 8U);
  EXPECT_THROW(kernels::suggested_chunk_size(5, 4, 1), std::invalid_argument);
}

TEST(Primes, BasePrimesHoldsExactlyTheSievingPrimes) {
  const kernels::BasePrimes base(1'000'000);  // primes below 1000
  EXPECT_EQ(base.upper_bound(), 1'000'000U);
  EXPECT_EQ(base.primes().size(), 168U);
  EXPECT_EQ(base.primes().front(), 2U);
  EXPECT_EQ(base.primes().back(), 997U);
  // 1009^2 = 1018081: p * p < upper_bound is strict.
  EXPECT_EQ(kernels::BasePrimes(1'018'081).primes().back(), 997U);
  EXPECT_EQ(kernels::BasePrimes(1'018'081).primes().size(), 168U);
  EXPECT_EQ(kernels::BasePrimes(1'018'082).primes().back(), 1009U);
  EXPECT_TRUE(kernels::BasePrimes(0).primes().empty());
  EXPECT_TRUE(kernels::BasePrimes(4).primes().empty());
  EXPECT_EQ(kernels::BasePrimes(5).primes().size(), 1U);
}

TEST(Primes, InvalidArgumentsThrow) {
  const kernels::BasePrimes base(1000);
  EXPECT_EQ(kernels::count_primes(base, 10, 10), 0U);
  EXPECT_EQ(kernels::count_primes(base, 1000, 1000), 0U);
  EXPECT_EQ(kernels::count_primes(base, 0, 1000), 168U);
  EXPECT_THROW(kernels::count_primes(base, 11, 10), std::invalid_argument);
  EXPECT_THROW(kernels::count_primes(base, 0, 1001), std::invalid_argument);
  EXPECT_THROW(kernels::BasePrimes(kernels::kMaxPrimesUpperBound + 1), std::invalid_argument);
  kernels::SieveOptions bad;
  bad.segment_bytes = 1000;  // not a power of two
  EXPECT_THROW(kernels::count_primes(base, 0, 100, bad), std::invalid_argument);
  bad = kernels::SieveOptions{};
  bad.block_bytes = bad.segment_bytes * 2;
  EXPECT_THROW(kernels::count_primes(base, 0, 100, bad), std::invalid_argument);
}

}  // namespace
