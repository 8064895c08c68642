#pragma once
// Per-column statistics of a row-major table (`poolrun stats --axis 0`), written with Eigen
// array expressions. Pure C++, no MPI, no HDF5.
//
// Determinism: the rows are taken in sub-blocks of ColumnLayout::rows rows, counted from the
// first row given; within one, every column's values are spread over `lanes` accumulators (row
// r goes to lane r % lanes), each summed row by row, and the lanes are combined left to right.
// Sub-blocks are merged into the running result left to right with merge() (Chan). The layout
// depends on the number of picked columns only, so a column's bits are a function of the data,
// the block boundaries the caller chooses and that number: not of threads, ranks or SIMD width.
// NaNs are counted and left out, as in moments() (reduce.hpp); with an infinity the mean is
// +-inf (NaN with both) and the variance NaN; finite values whose sum overflows give an infinite
// mean, as numpy does.

#include <cstddef>
#include <cstdint>
#include <span>

#include "kernels/reduce.hpp"

namespace kernels {

struct ColumnLayout {
  std::size_t lanes = 1;  // accumulators per column, so that a row of lanes is >= 64 doubles
  std::size_t rows = 1;   // rows per sub-block (a multiple of lanes), ~64 KiB of doubles
};
ColumnLayout column_layout(std::size_t columns);

// Merges the statistics of rows [0, rows) of `data` (row-major, `width` values a row) into
// acc[j] for column picked[j], in sub-blocks of column_layout(picked.size()).rows rows from
// data's first row. A caller that cuts a block into several calls must start each one (but a
// block's last) on a multiple of that many rows, so the sub-blocks do not move.
// Throws std::invalid_argument if acc and picked differ in size or an index is >= width.
void column_moments(const double* data, std::size_t rows, std::size_t width,
                    std::span<const std::uint64_t> picked, std::span<Moments> acc);

}  // namespace kernels
