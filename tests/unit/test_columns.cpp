// kernels::column_moments: per-column statistics against a plain reference, NaNs and
// infinities, and the same bits however a block is cut into calls.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernels/columns.hpp"

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

std::vector<kernels::Moments> run(const std::vector<double>& x, std::size_t rows, std::size_t width,
                                  const std::vector<std::uint64_t>& picked) {
  std::vector<kernels::Moments> acc(picked.size());
  kernels::column_moments(x.data(), rows, width, picked, acc);
  return acc;
}

std::vector<std::uint64_t> all(std::size_t width) {
  std::vector<std::uint64_t> p(width);
  for (std::size_t j = 0; j < width; ++j) p[j] = j;
  return p;
}

// Reference: long double two-pass over the non-NaN values of column j.
void expect_column(const std::vector<double>& x, std::size_t rows, std::size_t width, std::size_t j,
                   const kernels::Moments& m) {
  long double s = 0;
  std::uint64_t n = 0, nan = 0;
  double mn = kInf, mx = -kInf;
  for (std::size_t r = 0; r < rows; ++r) {
    const double v = x[r * width + j];
    if (std::isnan(v)) {
      ++nan;
      continue;
    }
    s += v;
    ++n;
    mn = std::min(mn, v);
    mx = std::max(mx, v);
  }
  ASSERT_EQ(m.count, n) << "column " << j;
  ASSERT_EQ(m.nan_count, nan) << "column " << j;
  if (n == 0) {
    EXPECT_EQ(m.sum, 0.0);
    EXPECT_TRUE(std::isnan(m.average()));
    return;
  }
  const long double mean = s / n;
  long double q = 0;
  for (std::size_t r = 0; r < rows; ++r) {
    const double v = x[r * width + j];
    if (!std::isnan(v)) q += (v - mean) * (v - mean);
  }
  EXPECT_EQ(m.min, mn);
  EXPECT_EQ(m.max, mx);
  EXPECT_NEAR(m.sum, static_cast<double>(s), 1e-12 * static_cast<double>(n) * 100);
  EXPECT_NEAR(m.average(), static_cast<double>(mean), 1e-12 * 100);
  EXPECT_NEAR(m.variance(), static_cast<double>(q / n), 1e-10 * static_cast<double>(q / n));
}

TEST(Columns, MatchesReferenceForManyWidths) {
  std::mt19937_64 g(7);
  for (std::size_t width : {1, 2, 3, 7, 8, 63, 64, 65, 200}) {
    const std::size_t rows = 1 + g() % 20000;
    std::normal_distribution<double> nd(50.0, 7.0);
    std::vector<double> x(rows * width);
    for (auto& v : x) v = nd(g);
    for (std::size_t k = 0; k < rows * width / 50; ++k) x[g() % x.size()] = kNaN;
    const auto m = run(x, rows, width, all(width));
    for (std::size_t j = 0; j < width; ++j) expect_column(x, rows, width, j, m[j]);
  }
}

TEST(Columns, PickedColumnsAndOnlyNaN) {
  const std::size_t rows = 1000, width = 5;
  std::vector<double> x(rows * width);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<double>(i % 97) - 40.0;
  for (std::size_t r = 0; r < rows; ++r) x[r * width + 3] = kNaN;
  const std::vector<std::uint64_t> picked{1, 3, 4};
  const auto m = run(x, rows, width, picked);
  for (std::size_t j = 0; j < picked.size(); ++j) expect_column(x, rows, width, picked[j], m[j]);
  EXPECT_EQ(m[1].count, 0u);
  EXPECT_EQ(m[1].nan_count, rows);
}

TEST(Columns, Infinities) {
  // Column 0: +inf and -inf (mean NaN); 1: +inf (mean +inf); 2: finite, overflowing sum.
  const std::vector<double> x{kInf, kInf, 1e308, -kInf, 1.0, 1e308, 2.0, 3.0, 1e308};
  const auto m = run(x, 3, 3, all(3));
  EXPECT_TRUE(std::isnan(m[0].average()));
  EXPECT_TRUE(std::isnan(m[0].variance()));
  EXPECT_EQ(m[1].average(), kInf);
  EXPECT_TRUE(std::isnan(m[1].variance()));
  EXPECT_EQ(m[2].average(), 1e308);  // all equal: exact
  EXPECT_EQ(m[2].sum, kInf);
}

TEST(Columns, SameBitsHoweverTheBlockIsCut) {
  std::mt19937_64 g(3);
  for (std::size_t width : {1, 5, 70}) {
    const std::size_t sub = kernels::column_layout(width).rows;
    const std::size_t rows = sub * 7 + 13;
    std::uniform_real_distribution<double> u(-1e6, 1e6);
    std::vector<double> x(rows * width);
    for (auto& v : x) v = u(g);
    x.at(5) = kNaN;
    const auto whole = run(x, rows, width, all(width));
    std::vector<kernels::Moments> acc(width);
    const auto picked = all(width);
    for (std::size_t r = 0; r < rows; r += 2 * sub) {
      const std::size_t n = std::min(2 * sub, rows - r);
      kernels::column_moments(x.data() + r * width, n, width, picked, acc);
    }
    for (std::size_t j = 0; j < width; ++j) {
      EXPECT_EQ(std::bit_cast<std::uint64_t>(whole[j].mean),
                std::bit_cast<std::uint64_t>(acc[j].mean));
      EXPECT_EQ(std::bit_cast<std::uint64_t>(whole[j].m2), std::bit_cast<std::uint64_t>(acc[j].m2));
      EXPECT_EQ(std::bit_cast<std::uint64_t>(whole[j].sum),
                std::bit_cast<std::uint64_t>(acc[j].sum));
    }
  }
}

TEST(Columns, RefusesBadArguments) {
  std::vector<double> x(12, 1.0);
  std::vector<kernels::Moments> acc(1);
  const std::vector<std::uint64_t> bad{4}, two{0, 1};
  EXPECT_THROW(kernels::column_moments(x.data(), 3, 4, bad, acc), std::invalid_argument);
  EXPECT_THROW(kernels::column_moments(x.data(), 3, 4, two, acc), std::invalid_argument);
}

}  // namespace
