// Prime counting kernel for `poolrun primes` and `poolrun seed`: libprimesieve (Kim Walisch's
// segmented sieve, Debian's libprimesieve-dev), one thread per call, no MPI. It replaced the
// project's own mod-30 wheel sieve after both were measured in one run (tests/bench/primes.sh,
// README "Kernels"): libprimesieve was faster over the four ranges together and 1.3-1.5x at
// 1e14; the hand sieve stayed faster at pi(1e10).
#pragma once

#include <cstdint>

namespace kernels {

// Largest upper bound B accepted by `poolrun primes` (libprimesieve itself goes to ~2^64).
inline constexpr std::uint64_t kMaxPrimesUpperBound = 1'000'000'000'000'000ULL;

// Exact number of primes p with a <= p < b, on the calling thread only (the pool's ranks are
// the parallelism). Returns 0 when a == b. Throws std::invalid_argument if b < a or
// b > kMaxPrimesUpperBound.
std::uint64_t count_primes(std::uint64_t a, std::uint64_t b);

// A chunk size for cutting [a, b) among `workers` ranks: about 4 chunks per worker (each call
// first sieves the primes up to sqrt(b), so chunks stay >= 64 sqrt(b) and >= 1e7), at most 1e10
// numbers (~1-2 s of work, so progress and load balance stay fine). Any chunking gives the
// same total; this only affects speed. Throws std::invalid_argument if b < a.
std::uint64_t suggested_chunk_size(std::uint64_t a, std::uint64_t b, std::uint64_t workers);

}  // namespace kernels
