#include "kernels/resize.hpp"

#include <Eigen/Core>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace kernels {
namespace {

using Weights = Eigen::SparseMatrix<double, Eigen::RowMajor>;

void check_axis(const char* what, std::size_t in, std::size_t out) {
  if (out < 1 || out > in) {
    throw std::invalid_argument(std::string("area_resize: ") + what + " must be in [1, " +
                                std::to_string(in) + "], got " + std::to_string(out));
  }
  if (in > static_cast<std::size_t>(std::numeric_limits<int>::max())) {  // Eigen's index type
    throw std::invalid_argument(std::string("area_resize: ") + what + " input size too large");
  }
}

template <class T>
T to_output(double v) {
  if constexpr (std::is_same_v<T, std::uint8_t>) {
    const double r = std::nearbyint(v);  // ties to even in the default rounding mode
    return static_cast<std::uint8_t>(r < 0.0 ? 0.0 : (r > 255.0 ? 255.0 : r));
  } else {
    return static_cast<T>(v);
  }
}

template <class T>
void resize_impl(const T* src, std::size_t h, std::size_t w, std::size_t c, T* dst, std::size_t oh,
                 std::size_t ow) {
  if (c < 1) throw std::invalid_argument("area_resize: channels must be at least 1");
  check_axis("output height", h, oh);
  check_axis("output width", w, ow);
  const Weights wy = area_weights(h, oh);
  const Weights wx = area_weights(w, ow);
  const auto row = static_cast<Eigen::Index>(w * c);
  const auto out_row = static_cast<Eigen::Index>(ow * c);
  const auto ch = static_cast<Eigen::Index>(c);
  using InRow = Eigen::Array<T, Eigen::Dynamic, 1>;
  Eigen::ArrayXd acc(row);       // vertical pass: weighted sum of input rows
  Eigen::ArrayXd line(out_row);  // horizontal pass: one output row
  for (Eigen::Index oy = 0; oy < static_cast<Eigen::Index>(oh); ++oy) {
    acc.setZero();
    for (Weights::InnerIterator it(wy, oy); it; ++it) {
      const T* in = src + static_cast<std::size_t>(it.col()) * static_cast<std::size_t>(row);
      acc += it.value() * Eigen::Map<const InRow>(in, row).template cast<double>();
    }
    line.setZero();
    for (Eigen::Index ox = 0; ox < static_cast<Eigen::Index>(ow); ++ox) {
      for (Weights::InnerIterator it(wx, ox); it; ++it) {
        line.segment(ox * ch, ch) += it.value() * acc.segment(it.col() * ch, ch);
      }
    }
    T* out = dst + static_cast<std::size_t>(oy) * static_cast<std::size_t>(out_row);
    for (Eigen::Index k = 0; k < out_row; ++k) out[k] = to_output<T>(line[k]);
  }
}

}  // namespace

Eigen::SparseMatrix<double, Eigen::RowMajor> area_weights(std::size_t in, std::size_t out) {
  check_axis("output size", in, out);
  // In units of 1/out of an input pixel: output j covers [j*in, (j+1)*in), input i covers
  // [i*out, (i+1)*out). All products are below 2^64 since in, out < 2^31.
  const std::uint64_t n = in, m = out;
  Weights wt(static_cast<Eigen::Index>(out), static_cast<Eigen::Index>(in));
  wt.reserve(
      Eigen::VectorXi::Constant(static_cast<Eigen::Index>(out), static_cast<int>(in / out + 2)));
  const double scale = static_cast<double>(in);
  for (std::uint64_t j = 0; j < m; ++j) {
    const std::uint64_t a = j * n, b = (j + 1) * n;
    const std::uint64_t first = a / m, last = (b + m - 1) / m;  // inputs [first, last)
    for (std::uint64_t i = first; i < last; ++i) {
      const std::uint64_t lo = a > i * m ? a : i * m;
      const std::uint64_t hi = b < (i + 1) * m ? b : (i + 1) * m;
      wt.insert(static_cast<Eigen::Index>(j), static_cast<Eigen::Index>(i)) =
          static_cast<double>(hi - lo) / scale;
    }
  }
  wt.makeCompressed();
  return wt;
}

void area_resize(const std::uint8_t* src, std::size_t h, std::size_t w, std::size_t c,
                 std::uint8_t* dst, std::size_t oh, std::size_t ow) {
  resize_impl(src, h, w, c, dst, oh, ow);
}

void area_resize(const float* src, std::size_t h, std::size_t w, std::size_t c, float* dst,
                 std::size_t oh, std::size_t ow) {
  resize_impl(src, h, w, c, dst, oh, ow);
}

}  // namespace kernels
