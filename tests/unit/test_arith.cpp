// libpool::ceil_div: exact over the whole unsigned range, where (n + d - 1) / d wraps.

#include <gtest/gtest.h>
#include <libpool/arith.hpp>

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
