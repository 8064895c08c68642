// Known-answer tests of the area resize: exact block means, hand-computed fractional weights and
// a brute-force supersampled integration of the input as a piecewise-constant function.
#include "kernels/resize.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace {

// Deterministic test image values in [0, 1000).
std::vector<float> test_image(std::size_t h, std::size_t w, std::size_t c) {
  std::vector<float> img(h * w * c);
  for (std::size_t i = 0; i < img.size(); ++i) {
    img[i] = static_cast<float>((i * 7919 + 13) % 1000);
  }
  return img;
}

// The mean of the piecewise-constant image over output pixel (oy, ox), by the midpoint rule on an
// s x s grid of sample points inside the output pixel (no weights involved): error <= ~2/s of
// the value range.
double supersampled(const std::vector<float>& img, std::size_t h, std::size_t w, std::size_t c,
                    std::size_t oh, std::size_t ow, std::size_t oy, std::size_t ox, std::size_t ch,
                    std::size_t s) {
  const double sy = static_cast<double>(h) / static_cast<double>(oh);
  const double sx = static_cast<double>(w) / static_cast<double>(ow);
  double total = 0;
  for (std::size_t a = 0; a < s; ++a) {
    const double y =
        (static_cast<double>(oy) + (static_cast<double>(a) + 0.5) / static_cast<double>(s)) * sy;
    const auto iy = static_cast<std::size_t>(y);
    for (std::size_t b = 0; b < s; ++b) {
      const double x =
          (static_cast<double>(ox) + (static_cast<double>(b) + 0.5) / static_cast<double>(s)) * sx;
      const auto ix = static_cast<std::size_t>(x);
      total += img[(iy * w + ix) * c + ch];
    }
  }
  return total / static_cast<double>(s * s);
}

TEST(AreaWeights, ThreeToTwo) {
  // Output 0 covers input [0, 1.5): weights 1 and 0.5 over 1.5; output 1 the other way round.
  const auto wt = kernels::area_weights(3, 2);
  ASSERT_EQ(wt.rows(), 2);
  ASSERT_EQ(wt.cols(), 3);
  EXPECT_EQ(wt.nonZeros(), 4);
  EXPECT_DOUBLE_EQ(wt.coeff(0, 0), 1.0 / 1.5);
  EXPECT_DOUBLE_EQ(wt.coeff(0, 1), 0.5 / 1.5);
  EXPECT_EQ(wt.coeff(0, 2), 0.0);
  EXPECT_EQ(wt.coeff(1, 0), 0.0);
  EXPECT_DOUBLE_EQ(wt.coeff(1, 1), 0.5 / 1.5);
  EXPECT_DOUBLE_EQ(wt.coeff(1, 2), 1.0 / 1.5);
}

TEST(AreaWeights, RowsSumToOneAndIdentity) {
  for (auto [in, out] :
       {std::pair<std::size_t, std::size_t>{7, 3}, {1000, 333}, {13, 13}, {5, 1}}) {
    const auto wt = kernels::area_weights(in, out);
    for (Eigen::Index j = 0; j < wt.rows(); ++j) {
      EXPECT_NEAR(wt.row(j).sum(), 1.0, 1e-15 * static_cast<double>(in));
    }
  }
  const auto id = kernels::area_weights(13, 13);
  EXPECT_EQ(id.nonZeros(), 13);
  for (Eigen::Index j = 0; j < 13; ++j) EXPECT_EQ(id.coeff(j, j), 1.0);
  EXPECT_THROW(kernels::area_weights(3, 0), std::invalid_argument);
  EXPECT_THROW(kernels::area_weights(3, 4), std::invalid_argument);
}

TEST(AreaResize, FourByFourToTwoByTwoIsBlockMeansUint8) {
  // Block means 25 (exact), 1.75 -> 2, 0.5 -> 0 (tie to even), 2.5 -> 2 (tie to even).
  const std::vector<std::uint8_t> src = {10, 20, 1, 2,  //
                                         30, 40, 2, 2,  //
                                         0,  0,  2, 2,  //
                                         1,  1,  3, 3};
  std::vector<std::uint8_t> dst(4, 99);
  kernels::area_resize(src.data(), 4, 4, 1, dst.data(), 2, 2);
  EXPECT_EQ(dst, (std::vector<std::uint8_t>{25, 2, 0, 2}));
  // 1.5 -> 2 (tie to even), 0.25 -> 0, 0.75 -> 1.
  const std::vector<std::uint8_t> src2 = {1, 1, 0, 0, 2, 2, 1, 0, 1, 2, 0, 0, 0, 0, 0, 1};
  kernels::area_resize(src2.data(), 4, 4, 1, dst.data(), 2, 2);
  EXPECT_EQ(dst, (std::vector<std::uint8_t>{2, 0, 1, 0}));
}

TEST(AreaResize, ThreeToTwoFractionalWeightsFloat) {
  const std::vector<float> src = {3.0f, 6.0f, 12.0f};
  std::vector<float> dst(2);
  kernels::area_resize(src.data(), 1, 3, 1, dst.data(), 1, 2);
  EXPECT_FLOAT_EQ(dst[0], (1.0f * 3.0f + 0.5f * 6.0f) / 1.5f);   // 4
  EXPECT_FLOAT_EQ(dst[1], (0.5f * 6.0f + 1.0f * 12.0f) / 1.5f);  // 10
  // The same along the other axis (a 3 x 1 column).
  kernels::area_resize(src.data(), 3, 1, 1, dst.data(), 2, 1);
  EXPECT_FLOAT_EQ(dst[0], 4.0f);
  EXPECT_FLOAT_EQ(dst[1], 10.0f);
}

TEST(AreaResize, MatchesSupersampledIntegration) {
  struct Case {
    std::size_t h, w, c, oh, ow;
  };
  for (const Case& k :
       {Case{7, 5, 3, 3, 2}, Case{13, 11, 1, 4, 3}, Case{9, 16, 2, 9, 5}, Case{10, 10, 1, 1, 1}}) {
    SCOPED_TRACE(testing::Message()
                 << k.h << "x" << k.w << "x" << k.c << " -> " << k.oh << "x" << k.ow);
    const std::vector<float> img = test_image(k.h, k.w, k.c);
    std::vector<float> out(k.oh * k.ow * k.c);
    kernels::area_resize(img.data(), k.h, k.w, k.c, out.data(), k.oh, k.ow);
    const std::size_t s = 1000;
    for (std::size_t oy = 0; oy < k.oh; ++oy) {
      for (std::size_t ox = 0; ox < k.ow; ++ox) {
        for (std::size_t ch = 0; ch < k.c; ++ch) {
          const double ref = supersampled(img, k.h, k.w, k.c, k.oh, k.ow, oy, ox, ch, s);
          EXPECT_NEAR(out[(oy * k.ow + ox) * k.c + ch], ref, 2.0 * 1000.0 / static_cast<double>(s));
        }
      }
    }
  }
}

TEST(AreaResize, WholeImageToOnePixelIsTheMean) {
  const std::vector<float> img = test_image(17, 23, 1);
  double mean = 0;
  for (float v : img) mean += v;
  mean /= static_cast<double>(img.size());
  float out = 0;
  kernels::area_resize(img.data(), 17, 23, 1, &out, 1, 1);
  EXPECT_NEAR(out, mean, 1e-4);
}

TEST(AreaResize, ChannelsDoNotMix) {
  // 4 x 4 x 3, channel k constant 10 * (k + 1) except one 2 x 2 block of channel 1.
  std::vector<std::uint8_t> src(4 * 4 * 3);
  for (std::size_t i = 0; i < 16; ++i) {
    src[i * 3 + 0] = 10;
    src[i * 3 + 1] = 20;
    src[i * 3 + 2] = 30;
  }
  for (std::size_t y = 2; y < 4; ++y) {
    for (std::size_t x = 2; x < 4; ++x) src[(y * 4 + x) * 3 + 1] = 200;
  }
  src[(0 * 4 + 1) * 3 + 2] = 34;  // block (0, 0) of channel 2: (30 * 3 + 34) / 4 = 31
  std::vector<std::uint8_t> dst(2 * 2 * 3);
  kernels::area_resize(src.data(), 4, 4, 3, dst.data(), 2, 2);
  EXPECT_EQ(dst, (std::vector<std::uint8_t>{10, 20, 31, 10, 20, 30, 10, 20, 30, 10, 200, 30}));
}

TEST(AreaResize, Uint8SaturatedAndZeroStayInRange) {
  // Weights 1/3-ish do not sum to exactly 1 in double: the result must still be exactly 255 / 0.
  const std::size_t h = 301, w = 7;
  std::vector<std::uint8_t> src(h * w * 3);
  for (std::size_t i = 0; i < src.size(); ++i) src[i] = i % 3 == 0 ? 255 : (i % 3 == 1 ? 0 : 128);
  std::vector<std::uint8_t> dst(100 * 3 * 3);
  kernels::area_resize(src.data(), h, w, 3, dst.data(), 100, 3);
  for (std::size_t i = 0; i < dst.size(); ++i) {
    ASSERT_EQ(dst[i], i % 3 == 0 ? 255 : (i % 3 == 1 ? 0 : 128)) << i;
  }
}

TEST(AreaResize, Uint8MatchesRoundedFloatResult) {
  const std::size_t h = 37, w = 29, c = 3, oh = 10, ow = 7;
  std::vector<std::uint8_t> src(h * w * c);
  std::vector<float> srcf(src.size());
  for (std::size_t i = 0; i < src.size(); ++i) {
    src[i] = static_cast<std::uint8_t>((i * 131 + 7) % 256);
    srcf[i] = src[i];
  }
  std::vector<std::uint8_t> dst(oh * ow * c);
  std::vector<float> dstf(dst.size());
  kernels::area_resize(src.data(), h, w, c, dst.data(), oh, ow);
  kernels::area_resize(srcf.data(), h, w, c, dstf.data(), oh, ow);
  for (std::size_t i = 0; i < dst.size(); ++i) {
    EXPECT_LE(std::abs(static_cast<double>(dst[i]) - static_cast<double>(dstf[i])), 0.5 + 1e-4);
  }
}

TEST(AreaResize, SameSizeIsIdentity) {
  const std::size_t h = 5, w = 6, c = 2;
  std::vector<std::uint8_t> src(h * w * c);
  for (std::size_t i = 0; i < src.size(); ++i) src[i] = static_cast<std::uint8_t>(i * 37 % 256);
  std::vector<std::uint8_t> dst(src.size());
  kernels::area_resize(src.data(), h, w, c, dst.data(), h, w);
  EXPECT_EQ(dst, src);
  std::vector<float> srcf(src.size());
  for (std::size_t i = 0; i < src.size(); ++i) srcf[i] = static_cast<float>(i) * 0.1f - 1.0f;
  std::vector<float> dstf(src.size());
  kernels::area_resize(srcf.data(), h, w, c, dstf.data(), h, w);
  EXPECT_EQ(dstf, srcf);
}

TEST(AreaResize, OneAxisOnly) {
  // 2 x 4 -> 2 x 2: rows kept, pairs of columns averaged.
  const std::vector<float> src = {1, 3, 5, 9, 2, 2, 0, 1};
  std::vector<float> dst(4);
  kernels::area_resize(src.data(), 2, 4, 1, dst.data(), 2, 2);
  EXPECT_EQ(dst, (std::vector<float>{2, 7, 2, 0.5}));
}

TEST(AreaResize, BadSizesThrow) {
  std::vector<float> src(12), dst(12);
  EXPECT_THROW(kernels::area_resize(src.data(), 3, 4, 1, dst.data(), 0, 2), std::invalid_argument);
  EXPECT_THROW(kernels::area_resize(src.data(), 3, 4, 1, dst.data(), 2, 0), std::invalid_argument);
  EXPECT_THROW(kernels::area_resize(src.data(), 3, 4, 1, dst.data(), 4, 2), std::invalid_argument);
  EXPECT_THROW(kernels::area_resize(src.data(), 3, 4, 1, dst.data(), 2, 5), std::invalid_argument);
  EXPECT_THROW(kernels::area_resize(src.data(), 3, 4, 0, dst.data(), 2, 2), std::invalid_argument);
  std::vector<std::uint8_t> s8(12), d8(12);
  EXPECT_THROW(kernels::area_resize(s8.data(), 3, 4, 1, d8.data(), 3, 5), std::invalid_argument);
}

}  // namespace

// area_resize (plain loops) must give the same bits as the Eigen kernel it replaced, for every
// channel count (1, 3 and 4 have their own inner loops), both types, signed zeros and fractions.
TEST(AreaResize, PlainLoopsMatchEigenKernelBitForBit) {
  struct Case {
    std::size_t h, w, c, oh, ow;
  };
  std::uint64_t state = 88172645463325252ull;
  auto next = [&] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  for (const Case& k : {Case{256, 256, 3, 64, 64}, Case{37, 29, 1, 10, 7}, Case{50, 41, 4, 17, 40},
                        Case{13, 11, 2, 4, 3}, Case{9, 16, 5, 9, 5}, Case{7, 7, 3, 1, 1}}) {
    SCOPED_TRACE(testing::Message()
                 << k.h << "x" << k.w << "x" << k.c << " -> " << k.oh << "x" << k.ow);
    std::vector<std::uint8_t> src(k.h * k.w * k.c);
    std::vector<float> srcf(src.size());
    for (std::size_t i = 0; i < src.size(); ++i) {
      const std::uint64_t r = next();
      src[i] = static_cast<std::uint8_t>(r >> 56);
      // Negative values, exact zeros of both signs and fractions.
      srcf[i] = r % 7 == 0   ? (r % 2 ? -0.0f : 0.0f)
                : r % 7 == 1 ? -static_cast<float>(r >> 40) * 0x1p-20f
                             : static_cast<float>(r >> 40) * 0x1p-13f;
    }
    std::vector<std::uint8_t> a(k.oh * k.ow * k.c), b(a.size());
    kernels::area_resize(src.data(), k.h, k.w, k.c, a.data(), k.oh, k.ow);
    kernels::detail::area_resize_eigen(src.data(), k.h, k.w, k.c, b.data(), k.oh, k.ow);
    EXPECT_EQ(a, b);
    std::vector<float> af(a.size()), bf(a.size());
    kernels::area_resize(srcf.data(), k.h, k.w, k.c, af.data(), k.oh, k.ow);
    kernels::detail::area_resize_eigen(srcf.data(), k.h, k.w, k.c, bf.data(), k.oh, k.ow);
    ASSERT_EQ(std::memcmp(af.data(), bf.data(), af.size() * sizeof(float)), 0);
  }
}
