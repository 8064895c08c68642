// kernels::count_primes (libprimesieve behind a half-open interface) against known values and
// trial division; chunking; the chunk size; arguments.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <vector>

#include "kernels/primes.hpp"

namespace {

bool is_prime(std::uint64_t n) {
  if (n < 2) return false;
  for (std::uint64_t d = 2; d * d <= n; ++d)
    if (n % d == 0) return false;
  return true;
}

TEST(Primes, KnownPowersOfTen) {
  // pi(10^k), k = 1..10 (OEIS A006880).
  const std::uint64_t expected[] = {4,     25,     168,     1229,     9592,
                                    78498, 664579, 5761455, 50847534, 455052511};
  std::uint64_t n = 1;
  for (std::uint64_t want : expected) {
    n *= 10;
    EXPECT_EQ(kernels::count_primes(0, n), want) << "pi(" << n << ")";
  }
}

TEST(Primes, EverySmallRangeMatchesTrialDivision) {
  std::vector<std::uint64_t> prefix(1201, 0);  // prefix[n] = primes below n
  for (std::uint64_t n = 1; n <= 1200; ++n) prefix[n] = prefix[n - 1] + (is_prime(n - 1) ? 1 : 0);
  for (std::uint64_t a = 0; a <= 260; ++a)
    for (std::uint64_t b = a; b <= 260; ++b)
      ASSERT_EQ(kernels::count_primes(a, b), prefix[b] - prefix[a]) << "[" << a << ", " << b << ")";
  for (std::uint64_t a = 900; a < 1200; a += 7)
    ASSERT_EQ(kernels::count_primes(a, 1200), prefix[1200] - prefix[a]);
}

TEST(Primes, FarRangesMatchTrialDivision) {
  // Near 1e15, the largest bound: both ends of the half-open interval count right.
  const std::uint64_t top = kernels::kMaxPrimesUpperBound;
  std::uint64_t want = 0;
  for (std::uint64_t n = top - 300; n < top; ++n) want += is_prime(n) ? 1 : 0;
  EXPECT_EQ(kernels::count_primes(top - 300, top), want);
  // 1e12 + 39 is prime: [p, p + 1) holds one, [p, p) none.
  const std::uint64_t p = 1'000'000'000'039ULL;
  ASSERT_TRUE(is_prime(p));
  EXPECT_EQ(kernels::count_primes(p, p + 1), 1U);
  EXPECT_EQ(kernels::count_primes(p, p), 0U);
  EXPECT_EQ(kernels::count_primes(p + 1, p + 2), 0U);
}

TEST(Primes, ChunkingDoesNotChangeTheTotal) {
  const std::uint64_t e12 = 1'000'000'000'000ULL;
  const struct {
    std::uint64_t a, b, total;
  } ranges[] = {{0, 200'000'000, 11078937}, {e12, e12 + 20'000'000, 0}};
  std::mt19937_64 rng(7);
  for (const auto& r : ranges) {
    const std::uint64_t total = kernels::count_primes(r.a, r.b);
    if (r.total) {
      EXPECT_EQ(total, r.total);
    }
    for (std::uint64_t workers : {1, 2, 7}) {
      const std::uint64_t chunk = kernels::suggested_chunk_size(r.a, r.b, workers);
      std::uint64_t sum = 0;
      for (std::uint64_t lo = r.a; lo < r.b; lo += chunk)
        sum += kernels::count_primes(lo, std::min(r.b, lo + chunk));
      EXPECT_EQ(sum, total) << "workers " << workers;
    }
    std::vector<std::uint64_t> cuts = {r.a, r.b};
    for (int i = 0; i < 40; ++i)
      cuts.push_back(std::uniform_int_distribution<std::uint64_t>(r.a, r.b)(rng));
    std::sort(cuts.begin(), cuts.end());
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i + 1 < cuts.size(); ++i)
      sum += kernels::count_primes(cuts[i], cuts[i + 1]);
    EXPECT_EQ(sum, total);
  }
}

TEST(Primes, SuggestedChunkSize) {
  for (std::uint64_t b :
       {100ULL, 10'000'000'000ULL, 1'000'000'000'000ULL, 1'000'000'000'000'000ULL}) {
    for (std::uint64_t workers : {0, 1, 2, 64}) {
      const std::uint64_t chunk = kernels::suggested_chunk_size(0, b, workers);
      EXPECT_GE(chunk, 1U);
      EXPECT_LE(chunk, std::max<std::uint64_t>(b, 1));
      EXPECT_LE(chunk, 10'000'000'000ULL);
      if (b >= 10'000'000) {
        EXPECT_GE(chunk, 10'000'000U);
      }
    }
  }
  // 1e10 on 2 ranks: a few chunks each for load balance.
  EXPECT_GE(10'000'000'000ULL / kernels::suggested_chunk_size(0, 10'000'000'000ULL, 2), 8U);
  EXPECT_THROW(kernels::suggested_chunk_size(5, 4, 1), std::invalid_argument);
}

TEST(Primes, InvalidArgumentsThrow) {
  EXPECT_EQ(kernels::count_primes(10, 10), 0U);
  EXPECT_EQ(kernels::count_primes(0, 1000), 168U);
  EXPECT_THROW(kernels::count_primes(11, 10), std::invalid_argument);
  EXPECT_THROW(kernels::count_primes(0, kernels::kMaxPrimesUpperBound + 1), std::invalid_argument);
}

}  // namespace
