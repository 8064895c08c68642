#pragma once
// Smallest prime factor of a 64-bit integer, exact for every uint64.
//
// Trial division by the primes below 1024, then deterministic Miller-Rabin (bases 2..37, exact
// below 2^64) and Pollard's rho (Brent's variant, Montgomery arithmetic) to split what is left
// into primes, whose minimum is the answer.

#include <cstdint>

namespace kernels {

// The smallest prime p dividing n with p < n; 0 when there is none, that is when n is prime or
// n < 2 (0 and 1 have no prime factorisation to report). This matches the tutorial's
// smallest_factor(), which returns None for those, and poolrun's "0 means prime".
std::uint64_t smallest_factor(std::uint64_t n);

// Whether n is prime (deterministic for every uint64).
bool is_prime(std::uint64_t n);

}  // namespace kernels
