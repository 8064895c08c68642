#pragma once
// Codec for Eigen dense matrices and arrays: rows, cols, then the coefficients in storage order.
// Kept apart from codec.hpp so that libpool itself does not depend on Eigen.

#include <Eigen/Core>

#include "libpool/codec.hpp"

namespace libpool {

template <class Derived>
requires std::is_base_of_v<Eigen::PlainObjectBase<Derived>, Derived>
struct Codec<Derived> {
  using Scalar = typename Derived::Scalar;
  static_assert(std::is_trivially_copyable_v<Scalar>, "Eigen codec needs plain scalars");

  static void encode(Writer& w, const Derived& m) {
    const std::int64_t dims[2] = {m.rows(), m.cols()};
    w.write_bytes(dims, sizeof dims);
    w.write_bytes(m.data(), static_cast<std::size_t>(m.size()) * sizeof(Scalar));
  }
  static Derived decode(Reader& r) {
    std::int64_t dims[2];
    r.read_bytes(dims, sizeof dims);
    const auto rows = dims[0], cols = dims[1];
    const bool rows_ok = Derived::RowsAtCompileTime == Eigen::Dynamic
                             ? rows >= 0
                             : rows == Derived::RowsAtCompileTime;
    const bool cols_ok = Derived::ColsAtCompileTime == Eigen::Dynamic
                             ? cols >= 0
                             : cols == Derived::ColsAtCompileTime;
    if (!rows_ok || !cols_ok ||
        (rows != 0 && static_cast<std::uint64_t>(cols) >
                          r.remaining() / sizeof(Scalar) / static_cast<std::uint64_t>(rows))) {
      throw CodecError("corrupt Eigen shape " + std::to_string(rows) + "x" + std::to_string(cols));
    }
    Derived m;
    m.resize(rows, cols);  // not Derived(rows, cols): for a fixed 2-vector that sets coefficients
    r.read_bytes(m.data(), static_cast<std::size_t>(rows * cols) * sizeof(Scalar));
    return m;
  }
};

}  // namespace libpool
