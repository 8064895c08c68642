#pragma once
// Area-average image downscaling for `poolrun thumbnails`. Pure C++, no MPI, no HDF5.
//
// Output pixel (oy, ox) covers the input rectangle [oy * H/OH, (oy+1) * H/OH) x
// [ox * W/OW, (ox+1) * W/OW) and is the mean of the input over it, each input pixel weighted by
// the area of it inside the rectangle (OpenCV's INTER_AREA / PIL's BOX filter when shrinking).
// The filter is separable: out = Wy * img * Wx^T per channel, with Wy = area_weights(H, OH) and
// Wx = area_weights(W, OW). It is applied one output row at a time (vertical pass into a row
// accumulator of W * C doubles, then horizontal pass), so memory is O(W * C), not O(H * W).
// Arithmetic is in double with a fixed order, no threads: the same input gives the same bits.
// uint8 output is rounded to nearest, ties to even (std::nearbyint in the default rounding
// mode), then clamped to [0, 255]; float output is the double result rounded to float.

#include <Eigen/SparseCore>

#include <cstddef>
#include <cstdint>

namespace kernels {

// The (out x in) weight matrix of one axis: row j holds, for each input pixel i overlapping
// output pixel j, overlap(i, j) / (in / out) = (integer overlap in units of 1/out) / in, so the
// weights are exact ratios of integers and each row sums to 1 (to rounding). Requires
// 1 <= out <= in < 2^31 (std::invalid_argument otherwise).
Eigen::SparseMatrix<double, Eigen::RowMajor> area_weights(std::size_t in, std::size_t out);

// Area-average downscale of one image (row-major H x W x C, C >= 1 channels) to OH x OW, written
// row-major OH x OW x C to dst (which must not overlap src). Requires 1 <= OH <= H,
// 1 <= OW <= W and C >= 1 (std::invalid_argument otherwise). OH == H and OW == W copies.
void area_resize(const std::uint8_t* src, std::size_t h, std::size_t w, std::size_t c,
                 std::uint8_t* dst, std::size_t oh, std::size_t ow);
void area_resize(const float* src, std::size_t h, std::size_t w, std::size_t c, float* dst,
                 std::size_t oh, std::size_t ow);

namespace detail {
// The same filter through Eigen sparse rows and segments: the first implementation, slower than
// area_resize's plain loops (tests/bench/resize_bench.cpp) and kept as its bit-for-bit reference.
void area_resize_eigen(const std::uint8_t* src, std::size_t h, std::size_t w, std::size_t c,
                       std::uint8_t* dst, std::size_t oh, std::size_t ow);
void area_resize_eigen(const float* src, std::size_t h, std::size_t w, std::size_t c, float* dst,
                       std::size_t oh, std::size_t ow);
}  // namespace detail

}  // namespace kernels
