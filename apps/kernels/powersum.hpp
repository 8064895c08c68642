#pragma once
// Exact power sums S_k over [begin, end): sum of i^k, in unsigned 128-bit integers.
//
// 0^0 is 1 (as Python's 0**0), so S_0 over [begin, end) is end - begin. Every term is computed
// and added (no closed forms); terms that fit in 64 bits take a fast path that adds 64-bit terms
// into 128-bit partial sums. A sum of 2^128 or more throws std::overflow_error, never wraps.

#include <cstdint>
#include <string>
#include <string_view>

namespace kernels {

__extension__ typedef unsigned __int128 u128;

// Sum of i^k for begin <= i < end (0 when begin == end). Throws std::invalid_argument if
// begin > end, std::overflow_error("sum of i^k for i < n exceeds 2^128") if the sum is >= 2^128.
// Split a large range in chunks and join the partial sums with checked_add: the result is the
// same as one call over the whole range.
u128 power_sum(unsigned k, std::uint64_t begin, std::uint64_t end);

// S_k(n): sum of i^k for 0 <= i < n.
inline u128 power_sum(unsigned k, std::uint64_t n) {
  return power_sum(k, 0, n);
}

// a + b, or std::overflow_error (same message as power_sum) if that is >= 2^128.
u128 checked_add(u128 a, u128 b);

// Decimal digits of v, as Python's str(int) prints it ("0" for zero).
std::string to_decimal(u128 v);

// Parses decimal digits, optionally grouped with single '_' between digits as Python allows
// ("10_000"). Throws std::invalid_argument for anything else (empty, sign, space, letters) and
// std::overflow_error if the value is >= 2^128.
u128 parse_decimal(std::string_view text);

}  // namespace kernels
