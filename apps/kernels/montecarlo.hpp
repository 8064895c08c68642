#pragma once
// Monte Carlo pi from a counter-based random stream (Random123 Philox4x32-10), pure C++, no MPI.
//
// The stream, exactly (so a chunk's result never depends on which rank computes it):
//   key      = {seed & 0xffffffff, seed >> 32}                       (Philox4x32 key, 2 x uint32)
//   block j  = Philox4x32-10(counter = {j & 0xffffffff, j >> 32, 0, 0}, key) -> r[0..3] (uint32)
//   sample i = block j = i / 2; sample 2j is (x, y) = (r[0], r[1]), sample 2j+1 is (r[2], r[3]).
//   A sample (x, y) stands for the point (x / 2^32, y / 2^32) in [0,1)^2, and it is inside the
//   quarter disc when x^2 + y^2 <= 2^64, evaluated exactly in integers (no floating point).
//   Because x, y < 2^32, x^2 + y^2 == 2^64 has no solution, so "inside" is the same as
//   x^2 + y^2 < 2^64: the 64-bit sum of the two squares does not carry.
// The scalar path is r123::Philox4x32 (10 rounds) from <Random123/philox.h> itself; the SIMD
// paths are checked bit for bit against it by the tests.
//
// count_inside() picks the widest SIMD path the CPU has at run time (AVX-512F, AVX2, scalar), so
// the binary runs on any x86-64; every path gives the same counts.

#include <array>
#include <cstddef>
#include <cstdint>

namespace kernels {

// One Philox4x32-10 block: r123::Philox4x32()(counter, key).
std::array<std::uint32_t, 4> philox4x32_10(std::array<std::uint32_t, 4> counter,
                                           std::array<std::uint32_t, 2> key) noexcept;

// Block j of the pi stream for `seed` (see above).
std::array<std::uint32_t, 4> pi_block(std::uint64_t seed, std::uint64_t block) noexcept;

// Whether the sample (x, y) (as uint32 words of the stream) lies in the quarter disc.
constexpr bool inside_quarter_disc(std::uint32_t x, std::uint32_t y) noexcept {
  const std::uint64_t xx = std::uint64_t{x} * x;
  const std::uint64_t yy = std::uint64_t{y} * y;
  return xx <= ~yy;  // xx + yy < 2^64, i.e. the sum does not carry
}

enum class SimdPath { scalar, avx2, avx512 };

// Whether this CPU (and OS) can run `path`; the widest such path is what the dispatch uses.
bool simd_path_supported(SimdPath path) noexcept;
SimdPath best_simd_path() noexcept;
const char* to_string(SimdPath path) noexcept;

// Writes the 4 words of blocks [first_block, first_block + count) to out[4*count] using `path`
// (for tests and benchmarks of the raw stream). Throws std::invalid_argument if `path` is not
// supported here, std::out_of_range if the block range passes 2^64.
void pi_blocks(SimdPath path, std::uint64_t seed, std::uint64_t first_block, std::size_t count,
               std::uint32_t* out);

// Number of samples i in [first, first + count) inside the quarter disc, for `seed`.
// Throws std::out_of_range if first + count > 2^64 - 1 (sample indices are uint64).
std::uint64_t count_inside(std::uint64_t seed, std::uint64_t first, std::uint64_t count);
// The same through a given path (std::invalid_argument if not supported on this CPU).
std::uint64_t count_inside(SimdPath path, std::uint64_t seed, std::uint64_t first,
                           std::uint64_t count);

struct PiEstimate {
  double pi = 0.0;              // 4 * inside / samples
  double standard_error = 0.0;  // 4 * sqrt(p (1 - p) / samples), p = inside / samples
};

// The estimate from `inside` hits out of `samples` (std::invalid_argument if samples == 0 or
// inside > samples).
PiEstimate estimate_pi(std::uint64_t inside, std::uint64_t samples);

}  // namespace kernels
