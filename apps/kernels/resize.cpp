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

// The first kernel's rounding (std::nearbyint), which to_output must match.
template <class T>
T to_output_nearbyint(double v) {
  if constexpr (std::is_same_v<T, std::uint8_t>) {
    const double r = std::nearbyint(v);
    return static_cast<std::uint8_t>(r < 0.0 ? 0.0 : (r > 255.0 ? 255.0 : r));
  } else {
    return static_cast<T>(v);
  }
}

template <class T>
T to_output(double v) {
  if constexpr (std::is_same_v<T, std::uint8_t>) {
    // Round to nearest, ties to even, in the default rounding mode: adding and taking away 2^52
    // leaves no fraction bits, so the addition rounds exactly as nearbyint would; inline, where
    // nearbyint is a libm call per pixel without SSE4.1. Outside [0, 2^52): nearbyint itself.
    const double r = v >= 0.0 && v < 0x1p52 ? (v + 0x1p52) - 0x1p52 : std::nearbyint(v);
    return static_cast<std::uint8_t>(r < 0.0 ? 0.0 : (r > 255.0 ? 255.0 : r));
  } else {
    return static_cast<T>(v);
  }
}

// The first kernel: Eigen sparse rows and segments. Kept as the reference the plain loops must
// match bit for bit (tests) and be measured against (tests/bench/resize_bench.cpp).
template <class T>
void resize_eigen(const T* src, std::size_t h, std::size_t w, std::size_t c, T* dst, std::size_t oh,
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
    for (Eigen::Index k = 0; k < out_row; ++k) out[k] = to_output_nearbyint<T>(line[k]);
  }
}

// One axis' weights flattened: output j reads inputs first[j] .. first[j] + count[j] - 1 with
// weights w[start[j] ..], in the order Eigen's InnerIterator visits them (increasing input).
struct AxisWeights {
  std::vector<std::size_t> first, count, start;
  std::vector<double> w;
};

AxisWeights flatten(const Weights& m) {
  AxisWeights a;
  const auto rows = static_cast<std::size_t>(m.rows());
  a.first.resize(rows);
  a.count.resize(rows);
  a.start.resize(rows);
  for (Eigen::Index j = 0; j < m.rows(); ++j) {
    const auto r = static_cast<std::size_t>(j);
    a.start[r] = a.w.size();
    std::size_t n = 0;
    for (Weights::InnerIterator it(m, j); it; ++it, ++n) {
      if (n == 0) a.first[r] = static_cast<std::size_t>(it.col());
      a.w.push_back(it.value());
    }
    a.count[r] = n;  // consecutive columns: an output pixel covers one run of inputs
  }
  return a;
}

// The flattened weights of the last (in, out) asked for.
class CachedWeights {
 public:
  const AxisWeights& get(std::size_t in, std::size_t out) {
    if (in != in_ || out != out_) {
      weights_ = flatten(area_weights(in, out));
      in_ = in;
      out_ = out;
    }
    return weights_;
  }

 private:
  std::size_t in_ = 0, out_ = 0;
  AxisWeights weights_;
};

// Horizontal pass of one output row with C channels known at compile time (0: run-time c).
// Per element the same IEEE operations as the Eigen kernel: 0 + w0 * a0 + w1 * a1 + ...
template <std::size_t C>
void horizontal(const AxisWeights& wx, const double* acc, std::size_t ow, std::size_t c,
                double* line) {
  const std::size_t ch = C != 0 ? C : c;
  for (std::size_t ox = 0; ox < ow; ++ox) {
    const double* wt = wx.w.data() + wx.start[ox];
    const double* in = acc + wx.first[ox] * ch;
    double* out = line + ox * ch;
    for (std::size_t k = 0; k < ch; ++k) out[k] = 0.0;
    for (std::size_t i = 0; i < wx.count[ox]; ++i) {
      const double v = wt[i];
      for (std::size_t k = 0; k < ch; ++k) out[k] += v * in[i * ch + k];
    }
  }
}

// Vertical pass of one output row: acc[k] = 0 + w[0] * in_0[k] + w[1] * in_1[k] + ..., in this
// order (the Eigen kernel's operations). Compiled for AVX-512, AVX2 and the baseline
// (target_clones); without contraction (-ffp-contract=off) each does the same IEEE operations.
template <class T>
[[gnu::always_inline]] inline void vertical_impl(const T* src, std::size_t row, std::size_t first,
                                                 std::size_t n, const double* wt, double* acc) {
  const T* in0 = src + first * row;
  // 0.0 + x, not x: the same bits as the accumulator starting at zero (-0.0 becomes +0.0).
  for (std::size_t k = 0; k < row; ++k) acc[k] = 0.0 + wt[0] * static_cast<double>(in0[k]);
  for (std::size_t i = 1; i < n; ++i) {
    const T* in = src + (first + i) * row;
    const double v = wt[i];
    for (std::size_t k = 0; k < row; ++k) acc[k] += v * static_cast<double>(in[k]);
  }
}

__attribute__((target_clones("arch=x86-64-v4", "avx2", "default"))) void vertical(
    const std::uint8_t* src, std::size_t row, std::size_t first, std::size_t n, const double* wt,
    double* acc) {
  vertical_impl(src, row, first, n, wt, acc);
}

__attribute__((target_clones("arch=x86-64-v4", "avx2", "default"))) void vertical(
    const float* src, std::size_t row, std::size_t first, std::size_t n, const double* wt,
    double* acc) {
  vertical_impl(src, row, first, n, wt, acc);
}

// Plain loops over flattened weights: measured faster than resize_eigen (bench above), with the
// same bits (-ffp-contract=off and the same order of additions).
template <class T>
void resize_plain(const T* src, std::size_t h, std::size_t w, std::size_t c, T* dst, std::size_t oh,
                  std::size_t ow) {
  if (c < 1) throw std::invalid_argument("area_resize: channels must be at least 1");
  check_axis("output height", h, oh);
  check_axis("output width", w, ow);
  // A stack's images share their sizes: the weights are made once a thread, not once an image.
  thread_local CachedWeights cy, cx;
  const AxisWeights& wy = cy.get(h, oh);
  const AxisWeights& wx = cx.get(w, ow);
  const std::size_t row = w * c;
  const std::size_t out_row = ow * c;
  std::vector<double> acc(row);
  std::vector<double> line(out_row);
  for (std::size_t oy = 0; oy < oh; ++oy) {
    vertical(src, row, wy.first[oy], wy.count[oy], wy.w.data() + wy.start[oy], acc.data());
    switch (c) {
      case 1:
        horizontal<1>(wx, acc.data(), ow, c, line.data());
        break;
      case 3:
        horizontal<3>(wx, acc.data(), ow, c, line.data());
        break;
      case 4:
        horizontal<4>(wx, acc.data(), ow, c, line.data());
        break;
      default:
        horizontal<0>(wx, acc.data(), ow, c, line.data());
        break;
    }
    T* out = dst + oy * out_row;
    for (std::size_t k = 0; k < out_row; ++k) out[k] = to_output<T>(line[k]);
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
  resize_plain(src, h, w, c, dst, oh, ow);
}

void area_resize(const float* src, std::size_t h, std::size_t w, std::size_t c, float* dst,
                 std::size_t oh, std::size_t ow) {
  resize_plain(src, h, w, c, dst, oh, ow);
}

namespace detail {
void area_resize_eigen(const std::uint8_t* src, std::size_t h, std::size_t w, std::size_t c,
                       std::uint8_t* dst, std::size_t oh, std::size_t ow) {
  resize_eigen(src, h, w, c, dst, oh, ow);
}
void area_resize_eigen(const float* src, std::size_t h, std::size_t w, std::size_t c, float* dst,
                       std::size_t oh, std::size_t ow) {
  resize_eigen(src, h, w, c, dst, oh, ow);
}
}  // namespace detail

}  // namespace kernels
