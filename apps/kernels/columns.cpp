#include "kernels/columns.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <vector>

namespace kernels {
namespace {

using Row = Eigen::Array<double, 1, Eigen::Dynamic>;
// A sub-block seen as `groups` rows of lanes * columns values: one Eigen row holds `lanes`
// table rows, so that the per-row expressions run over >= 64 doubles even for one column.
using Wide =
    Eigen::Map<const Eigen::Array<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>;

constexpr double kInf = std::numeric_limits<double>::infinity();
// Eigen 3.4's min/max that ignore a NaN operand (vectorized; ArrayBase has no spelling for it).
using MinNum = Eigen::internal::scalar_min_op<double, double, Eigen::PropagateNumbers>;
using MaxNum = Eigen::internal::scalar_max_op<double, double, Eigen::PropagateNumbers>;

// Accumulators, kept between sub-blocks so a task allocates once.
struct Scratch {
  Row s, nan, mn, mx, mean, sd, sq, d;
  std::vector<double> buf;
};

// Lane l of column j sits at l * columns + j; lanes are combined left to right.
double fold_sum(const Row& r, std::size_t j, std::size_t columns, std::size_t lanes) {
  double t = r[static_cast<Eigen::Index>(j)];
  for (std::size_t l = 1; l < lanes; ++l) t += r[static_cast<Eigen::Index>(l * columns + j)];
  return t;
}

// The statistics of one sub-block of `rows` (<= layout.rows) table rows, merged into acc.
void sub_block(const double* data, std::size_t rows, std::size_t width,
               std::span<const std::uint64_t> picked, bool identity, const ColumnLayout& layout,
               Scratch& w, std::span<Moments> acc) {
  const std::size_t c = picked.size();
  const std::size_t lanes = layout.lanes;
  const std::size_t groups = (rows + lanes - 1) / lanes;  // rows <= layout.rows: no overflow
  const std::size_t padded = groups * lanes - rows;       // NaN rows that fill the last group
  const auto W = static_cast<Eigen::Index>(lanes * c);
  const double* p = data;
  if (!identity || padded != 0) {
    // Gather the picked columns (and pad with NaN, which is left out like any NaN).
    w.buf.resize(groups * lanes * c);
    for (std::size_t r = 0; r < rows; ++r) {
      const double* src = data + r * width;
      double* dst = w.buf.data() + r * c;
      if (identity) {
        std::memcpy(dst, src, c * sizeof(double));
      } else {
        for (std::size_t j = 0; j < c; ++j) dst[j] = src[picked[j]];
      }
    }
    std::fill(w.buf.begin() + static_cast<std::ptrdiff_t>(rows * c), w.buf.end(),
              std::numeric_limits<double>::quiet_NaN());
    p = w.buf.data();
  }
  const Wide a(p, static_cast<Eigen::Index>(groups), W);

  // Pass 1: sums, min, max. Without NaNs a plain sum; a NaN in any lane sends the sub-block
  // through the masked expressions (the choice depends on the data only).
  w.s.setZero(W);
  w.mn.setConstant(W, kInf);
  w.mx.setConstant(W, -kInf);
  // Without NaNs, Eigen's plain min and max (one instruction a packet) are exact.
  for (Eigen::Index g = 0; g < a.rows(); ++g) {
    w.s += a.row(g);
    w.mn = w.mn.min(a.row(g));
    w.mx = w.mx.max(a.row(g));
  }
  const bool masked = w.s.isNaN().any();
  w.nan.setZero(W);
  if (masked) {
    w.s.setZero(W);
    w.mn.setConstant(W, kInf);
    w.mx.setConstant(W, -kInf);
    for (Eigen::Index g = 0; g < a.rows(); ++g) {
      const auto v = a.row(g);
      w.s += (v == v).select(v, 0.0);
      w.nan += (v != v).cast<double>();
      w.mn = w.mn.binaryExpr(v, MinNum());
      w.mx = w.mx.binaryExpr(v, MaxNum());
    }
  }

  // Per column: counts, sum, min, max, and which columns need the second pass.
  std::vector<Moments> part(c);
  w.mean.setZero(W);
  bool second = false;
  for (std::size_t j = 0; j < c; ++j) {
    Moments& m = part[j];
    m.nan_count = static_cast<std::uint64_t>(fold_sum(w.nan, j, c, lanes)) - padded;
    m.count = rows - m.nan_count;
    m.sum = fold_sum(w.s, j, c, lanes);
    for (std::size_t l = 0; l < lanes; ++l) {
      const auto k = static_cast<Eigen::Index>(l * c + j);
      m.min = w.mn[k] < m.min ? w.mn[k] : m.min;
      m.max = w.mx[k] > m.max ? w.mx[k] : m.max;
    }
    if (m.count == 0) {
      m.sum = 0.0;
    } else if (std::isinf(m.min) || std::isinf(m.max)) {
      // numpy's mean and variance with infinities: +-inf, NaN with both; variance NaN.
      const bool pos = m.max == kInf, neg = m.min == -kInf;
      m.mean = pos && neg ? std::numeric_limits<double>::quiet_NaN() : pos ? m.max : m.min;
      m.m2 = std::numeric_limits<double>::quiet_NaN();
    } else if (m.min == m.max) {
      m.mean = m.min;  // all equal: exact mean, no spread
    } else {
      m.mean = m.sum / static_cast<double>(m.count);
      if (std::isinf(m.mean)) {
        m.m2 = kInf;  // finite values whose sum overflows: numpy's mean and variance are inf
      } else {
        second = true;
        for (std::size_t l = 0; l < lanes; ++l)
          w.mean[static_cast<Eigen::Index>(l * c + j)] = m.mean;
      }
    }
  }

  // Pass 2: the corrected two-pass M2 around the sub-block mean (Chan, Golub & LeVeque).
  if (second) {
    w.sd.setZero(W);
    w.sq.setZero(W);
    for (Eigen::Index g = 0; g < a.rows(); ++g) {
      const auto v = a.row(g);
      if (masked) {
        w.d = (v == v).select(v - w.mean, 0.0);
        w.sd += w.d;
        w.sq += w.d.square();
      } else {
        w.sd += v - w.mean;
        w.sq += (v - w.mean).square();
      }
    }
    for (std::size_t j = 0; j < c; ++j) {
      Moments& m = part[j];
      if (m.count == 0 || !std::isfinite(m.mean) || m.min == m.max || std::isinf(m.m2)) continue;
      const double n = static_cast<double>(m.count);
      const double tsd = fold_sum(w.sd, j, c, lanes);
      const double tsq = fold_sum(w.sq, j, c, lanes);
      double m2 = tsq - tsd * tsd / n;
      if (std::isinf(tsq)) m2 = tsq;  // a squared deviation overflowed: so does the true m2
      m.mean = m.mean + tsd / n;
      m.m2 = m2 > 0.0 ? m2 : 0.0;
    }
  }
  for (std::size_t j = 0; j < c; ++j) acc[j] = merge(acc[j], part[j]);
}

}  // namespace

ColumnLayout column_layout(std::size_t columns) {
  ColumnLayout l;
  const std::size_t c = std::max<std::size_t>(1, columns);
  l.lanes = c >= 64 ? 1 : (64 + c - 1) / c;
  const std::size_t per_group = l.lanes * c;
  l.rows = std::max<std::size_t>(4, 8192 / per_group) * l.lanes;
  return l;
}

void column_moments(const double* data, std::size_t rows, std::size_t width,
                    std::span<const std::uint64_t> picked, std::span<Moments> acc) {
  if (acc.size() != picked.size())
    throw std::invalid_argument("column_moments: one accumulator per picked column");
  bool identity = picked.size() == width;
  for (std::size_t j = 0; j < picked.size(); ++j) {
    if (picked[j] >= width) throw std::invalid_argument("column_moments: column out of range");
    identity = identity && picked[j] == j;
  }
  if (picked.empty() || rows == 0) return;
  const ColumnLayout layout = column_layout(picked.size());
  thread_local Scratch w;
  for (std::size_t r = 0; r < rows; r += layout.rows) {
    const std::size_t n = std::min(layout.rows, rows - r);
    sub_block(data + r * width, n, width, picked, identity, layout, w, acc);
  }
  if (w.buf.capacity() > (std::size_t{8} << 20) / sizeof(double)) std::vector<double>().swap(w.buf);
}

}  // namespace kernels
