#include "kernels/image.hpp"

#include <limits>
#include <stdexcept>
#include <type_traits>

namespace kernels {

// What one run needs, as plain pointers and values: a uint8_t store may alias anything, so loads
// through members would stay inside the loop (conditional ones at that) and it would not
// vectorize.
struct ImageGenerator::Row {
  const double* base;  // 0.5 + gx * column term
  const double* dxx;   // (x - cx)^2
  const double* x;     // x + 0.5
  const double* disc;  // disc_level - 0.1 * channel
  const double* rect;  // rect_level + 0.1 * channel
  double grad_y, dy2, r2;
  double x0, x1;  // the rectangle's columns in this row; [inf, inf) outside its rows
};

namespace {

// std::lround for v in [0, 255]: half away from zero. v - trunc(v) is exact there, so this
// rounds as lround does, without a libm call; the comparison is added, not selected, which
// vectorizes.
inline std::int32_t round_half_away(double v) {
  const auto t = static_cast<std::int32_t>(v);
  return t + (v - static_cast<double>(t) >= 0.5 ? 1 : 0);
}

// A loop without branches or divisions that GCC vectorizes, given this file's -fno-trapping-math
// (data.cmake): with trapping-math it keeps the selects as branches. Every value takes the
// operations of the formulas in datagen.cpp, in the same order; with -ffp-contract=off no clone
// fuses a multiply-add, so every CPU gives the same bits.
template <class T>
[[gnu::always_inline]] inline void run_impl(const ImageGenerator::Row& r, std::size_t len,
                                            const std::uint32_t* noise, T* o) {
  // Locals, not loads through r inside the loop (see Row).
  const double *base = r.base, *dxx = r.dxx, *xs = r.x, *disc = r.disc, *rect = r.rect;
  const double grad_y = r.grad_y, dy2 = r.dy2, r2 = r.r2, x0 = r.x0, x1 = r.x1;
  for (std::size_t t = 0; t < len; ++t) {
    const double x = xs[t];
    double val = base[t] + grad_y;  // 0.5 + gx * column term + gy * row term
    // `&`, not `&&`, and one select per condition: no control flow.
    const bool in_disc = dxx[t] + dy2 < r2;
    const bool in_rect = (x >= x0) & (x < x1);
    val = in_disc ? disc[t] : val;
    val = in_rect ? rect[t] : val;
    // u32(w) - 0.5 = (w - 2^31) * 2^-32 exactly: a signed conversion (AVX2 has no unsigned one)
    // and a power-of-two scaling, both exact.
    const auto centred = static_cast<std::int32_t>(noise[t] ^ 0x80000000u);
    val += 0.04 * (static_cast<double>(centred) * 0x1p-32);
    val = val < 0.0 ? 0.0 : val;
    val = val > 1.0 ? 1.0 : val;
    if constexpr (std::is_same_v<T, std::uint8_t>)
      o[t] = static_cast<std::uint8_t>(round_half_away(val * 255));
    else
      o[t] = static_cast<T>(val);
  }
}

__attribute__((target_clones("arch=x86-64-v4", "avx2", "default"))) void run_u8(
    const ImageGenerator::Row& r, std::size_t len, const std::uint32_t* noise, std::uint8_t* out) {
  run_impl(r, len, noise, out);
}

__attribute__((target_clones("arch=x86-64-v4", "avx2", "default"))) void run_f32(
    const ImageGenerator::Row& r, std::size_t len, const std::uint32_t* noise, float* out) {
  run_impl(r, len, noise, out);
}

}  // namespace

ImageGenerator::ImageGenerator(std::size_t h, std::size_t w, std::size_t c)
    : h_(h), c_(c), row_len_(w * c) {
  if (h == 0 || w == 0 || c == 0) throw std::invalid_argument("ImageGenerator: empty image");
  row_term_.resize(h);
  for (std::size_t y = 0; y < h; ++y)
    row_term_[y] = (static_cast<double>(y) + 0.5) / static_cast<double>(h) - 0.5;
  col_term_.resize(row_len_);
  x_.resize(row_len_);
  disc_.resize(row_len_);
  rect_.resize(row_len_);
  base_.resize(row_len_);
  dxx_.resize(row_len_);
  for (std::size_t k = 0; k < row_len_; ++k) {
    x_[k] = static_cast<double>(k / c) + 0.5;
    col_term_[k] = x_[k] / static_cast<double>(w) - 0.5;
  }
}

void ImageGenerator::set_image(const ImageParams& p) {
  p_ = p;
  for (std::size_t k = 0; k < row_len_; ++k) {
    const double ch = 0.1 * static_cast<double>(k % c_);
    disc_[k] = p.disc_level - ch;
    rect_[k] = p.rect_level + ch;
    base_[k] = 0.5 + p.gx * col_term_[k];
    const double dx = x_[k] - p.cx;
    dxx_[k] = dx * dx;
  }
}

ImageGenerator::Row ImageGenerator::row(std::size_t y, std::size_t k0) const {
  if (y >= h_ || k0 > row_len_) throw std::out_of_range("ImageGenerator: outside the image");
  const double yc = static_cast<double>(y) + 0.5;
  const bool in_rect_rows = yc >= p_.y0 && yc < p_.y1;
  const double inf = std::numeric_limits<double>::infinity();
  return Row{base_.data() + k0,
             dxx_.data() + k0,
             x_.data() + k0,
             disc_.data() + k0,
             rect_.data() + k0,
             p_.gy * row_term_[y],
             (yc - p_.cy) * (yc - p_.cy),
             p_.r2,
             in_rect_rows ? p_.x0 : inf,
             in_rect_rows ? p_.x1 : inf};
}

void ImageGenerator::run(std::size_t y, std::size_t k0, std::size_t len, const std::uint32_t* noise,
                         std::uint8_t* out) const {
  if (len > row_len_ - k0) throw std::out_of_range("ImageGenerator: run passes the row's end");
  run_u8(row(y, k0), len, noise, out);
}

void ImageGenerator::run(std::size_t y, std::size_t k0, std::size_t len, const std::uint32_t* noise,
                         float* out) const {
  if (len > row_len_ - k0) throw std::out_of_range("ImageGenerator: run passes the row's end");
  run_f32(row(y, k0), len, noise, out);
}

}  // namespace kernels
