// libpool::ceil_div: exact over the whole unsigned range, where (n + d - 1) / d wraps; the
// chunking rule built on it.

#include <gtest/gtest.h>
#include <libpool/arith.hpp>
#include <libpool/detail/chunking.hpp>

#include <cstdint>
#include <limits>

namespace {

constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();

TEST(CeilDiv, SmallValues) {
  EXPECT_EQ(libpool::ceil_div<std::uint64_t>(0, 1), 0u);
  EXPECT_EQ(libpool::ceil_div<std::uint64_t>(0, 7), 0u);
  EXPECT_EQ(libpool::ceil_div<std::uint64_t>(1, 7), 1u);
  EXPECT_EQ(libpool::ceil_div<std::uint64_t>(7, 7), 1u);
  EXPECT_EQ(libpool::ceil_div<std::uint64_t>(8, 7), 2u);
  EXPECT_EQ(libpool::ceil_div<std::uint64_t>(14, 7), 2u);
  EXPECT_EQ(libpool::ceil_div<std::uint64_t>(15, 7), 3u);
}

TEST(CeilDiv, NearTwoToThe64) {
  // (n + d - 1) / d gives 0 for these: n + d - 1 wraps past 2^64.
  EXPECT_EQ(libpool::ceil_div(kMax, std::uint64_t{2}), std::uint64_t{1} << 63);
  EXPECT_EQ(libpool::ceil_div(kMax, kMax), 1u);
  EXPECT_EQ(libpool::ceil_div(kMax - 1, kMax), 1u);
  EXPECT_EQ(libpool::ceil_div(kMax, std::uint64_t{1}), kMax);
  EXPECT_EQ(libpool::ceil_div(kMax, std::uint64_t{4}), std::uint64_t{1} << 62);
  EXPECT_EQ(libpool::ceil_div(kMax - 3, std::uint64_t{4}), (std::uint64_t{1} << 62) - 1);
  EXPECT_EQ(libpool::ceil_div(kMax, std::uint64_t{1} << 32), std::uint64_t{1} << 32);
  EXPECT_EQ(libpool::ceil_div(std::uint64_t{1} << 63, (std::uint64_t{1} << 63) + 1), 1u);
  // Agrees with the usual formula wherever that one cannot wrap (n + d - 1 < 2^64).
  for (std::uint64_t d : {std::uint64_t{3}, std::uint64_t{1000003}, std::uint64_t{1} << 40}) {
    for (std::uint64_t n = kMax - 3 * d; n < kMax - d; n += d / 3 + 1) {
      EXPECT_EQ(libpool::ceil_div(n, d), (n + d - 1) / d) << n << " / " << d;
    }
  }
}

TEST(CeilDiv, OtherWidths) {
  EXPECT_EQ(libpool::ceil_div<std::uint32_t>(0xFFFFFFFFu, 2u), 0x80000000u);
  EXPECT_EQ(libpool::ceil_div<std::uint8_t>(255, 16), 16);
  static_assert(libpool::ceil_div<std::uint64_t>(10, 3) == 4);
}

}  // namespace

// The one chunking rule of map(), map_unordered() and map_spans() (libpool/detail/chunking.hpp).
TEST(ChunkRule, AutoDynamicIsAQuarterPerWorkerWithinBounds) {
  using libpool::Schedule;
  using libpool::detail::ChunkRule;
  EXPECT_EQ(ChunkRule(0, Schedule::Dynamic, 1000, 2).fixed(), 125u);
  EXPECT_EQ(ChunkRule(0, Schedule::Dynamic, 1001, 2).fixed(), 126u);  // rounded up
  EXPECT_EQ(ChunkRule(0, Schedule::Dynamic, 1000, 2, 200).fixed(), 200u);
  EXPECT_EQ(ChunkRule(0, Schedule::Dynamic, 1000, 2, 1, 100).fixed(), 100u);
  EXPECT_EQ(ChunkRule(0, Schedule::Dynamic, 3, 8).fixed(), 1u);
  // Bounds the wrong way round: the larger one wins, never undefined behaviour.
  EXPECT_EQ(ChunkRule(0, Schedule::Dynamic, 1000, 2, 300, 100).fixed(), 300u);
  // Unknown length (an input range without a size): min_chunk.
  EXPECT_EQ(ChunkRule(0, Schedule::Dynamic, std::nullopt, 2).fixed(), 1u);
  EXPECT_EQ(ChunkRule(0, Schedule::Dynamic, std::nullopt, 2, 8).fixed(), 8u);
  // The caller's size wins over the bounds; every dynamic chunk takes it.
  const ChunkRule given(7, Schedule::Dynamic, 1000, 2, 100, 200);
  EXPECT_EQ(given.fixed(), 7u);
  EXPECT_EQ(given.next(1000), 7u);
  EXPECT_EQ(given.next(std::nullopt), 7u);
}

TEST(ChunkRule, GuidedShrinksToTheChunkSize) {
  using libpool::Schedule;
  using libpool::detail::ChunkRule;
  const ChunkRule g(10, Schedule::Guided, 1000, 2);
  EXPECT_EQ(g.fixed(), 10u);
  EXPECT_EQ(g.next(1000), 250u);  // remaining / (2 x workers)
  EXPECT_EQ(g.next(30), 10u);     // never below the chunk size
  EXPECT_EQ(g.next(std::nullopt), 10u);
  EXPECT_EQ(ChunkRule(0, Schedule::Guided, 1000, 2, 1, 64).next(1000), 64u);  // max_chunk
  EXPECT_EQ(ChunkRule(0, Schedule::Guided, 1000, 2).fixed(), 1u);
}

TEST(ChunkRule, SizesAreWholeGranules) {
  using libpool::Schedule;
  using libpool::detail::ChunkRule;
  EXPECT_EQ(ChunkRule(5, Schedule::Dynamic, 1000, 2, 1, kMax, 4).fixed(), 8u);
  EXPECT_EQ(ChunkRule(0, Schedule::Dynamic, 1000, 2, 1, kMax, 100).fixed(), 200u);
  EXPECT_EQ(ChunkRule(0, Schedule::Guided, 1000, 2, 1, kMax, 100).next(1000), 300u);
  // Near 2^64 the size rounds down to a whole granule instead of wrapping to a small one.
  EXPECT_EQ(ChunkRule(kMax, Schedule::Dynamic, kMax, 1, 1, kMax, 10).fixed(), kMax - kMax % 10);
}
