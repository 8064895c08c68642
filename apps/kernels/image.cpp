#include "kernels/image.hpp"

#include <type_traits>

namespace kernels {

namespace {

// std::lround for v in [0, 255]: half away from zero. v - trunc(v) is exact there, so this
// rounds as lround does, without a libm call; the comparison is added, not selected, which
// vectorizes.
inline std::uint8_t round_half_away(double v) {
  const auto t = static_cast<std::int32_t>(v);
  return static_cast<std::uint8_t>(t + (v - static_cast<double>(t) >= 0.5 ? 1 : 0));
}

// A loop without branches or divisions that GCC vectorizes, given this file's
// -fno-trapping-math (data.cmake): with trapping-math it keeps the selects as branches. Every value
// takes the operations of the formulas in datagen.cpp, in the same order; with -ffp-contract=off
// no clone fuses a multiply-add, so every CPU gives the same bits.
template <class T>
[[gnu::always_inline]] inline void image_run_impl(const ImageParams& p, const ImageRow& row,
                                                  std::size_t k0, std::size_t len,
                                                  const std::uint32_t* noise, T* o) {
  const double* ex = row.elem_x + k0;
  const double* ec = row.elem_col + k0;
  const double* eh = row.elem_ch + k0;
  // Every parameter in a local: a uint8_t store may alias anything, so loads through p or row
  // would stay in the loop (conditional ones at that), and the loop would not vectorize.
  const double gx = p.gx, cx = p.cx, r2 = p.r2, disc = p.disc_level, rect = p.rect_level;
  const double grad_y = row.grad_y, dy2 = row.dy2, x0 = row.x0, x1 = row.x1;
  for (std::size_t t = 0; t < len; ++t) {
    const double x = ex[t];
    const double ch = eh[t];  // loaded whatever the selects pick: no conditional loads
    double val = 0.5 + gx * ec[t] + grad_y;
    const double dx = x - cx;
    // `&`, not `&&`, and one select per condition: no control flow.
    const bool in_disc = dx * dx + dy2 < r2;
    const bool in_rect = (x >= x0) & (x < x1);
    val = in_disc ? disc - ch : val;
    val = in_rect ? rect + ch : val;
    // noise[t] * 2^-32 through a signed conversion (AVX2 has no unsigned one): both steps exact.
    const auto biased = static_cast<std::int32_t>(noise[t] ^ 0x80000000u);
    val += 0.04 * ((static_cast<double>(biased) + 0x1p31) * 0x1p-32 - 0.5);
    val = val < 0.0 ? 0.0 : val;
    val = val > 1.0 ? 1.0 : val;
    if constexpr (std::is_same_v<T, std::uint8_t>)
      o[t] = round_half_away(val * 255);
    else
      o[t] = static_cast<T>(val);
  }
}

}  // namespace

__attribute__((target_clones("arch=x86-64-v4", "avx2", "default"))) void image_run(
    const ImageParams& p, const ImageRow& row, std::size_t k0, std::size_t len,
    const std::uint32_t* noise, std::uint8_t* out) {
  image_run_impl(p, row, k0, len, noise, out);
}

__attribute__((target_clones("arch=x86-64-v4", "avx2", "default"))) void image_run(
    const ImageParams& p, const ImageRow& row, std::size_t k0, std::size_t len,
    const std::uint32_t* noise, float* out) {
  image_run_impl(p, row, k0, len, noise, out);
}

}  // namespace kernels
