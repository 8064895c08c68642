// Prime counting kernel for `poolrun primes`: a segmented sieve of Eratosthenes, no MPI.
//
// The sieve stores one bit per number coprime to 30 (8 bits cover 30 numbers), copies a
// precomputed pattern for the primes 7..163 into each L1 block, crosses off small primes in
// L1-sized blocks, medium primes over the whole L2-sized segment, and keeps primes whose step
// exceeds a segment in per-segment buckets. Counting is a popcount over 64-bit words.
#pragma once

#include <cstdint>
#include <vector>

namespace kernels {

// Largest upper bound B accepted: the sieving primes up to sqrt(1e15) are ~2M (8 MiB).
inline constexpr std::uint64_t kMaxPrimesUpperBound = 1'000'000'000'000'000ULL;

// The sieving primes for every range [a, b) with b <= upper_bound: all primes p with
// p * p < upper_bound. Built once per worker (pool initializer) and shared read-only.
class BasePrimes {
 public:
  // Throws std::invalid_argument if upper_bound > kMaxPrimesUpperBound.
  explicit BasePrimes(std::uint64_t upper_bound);

  // Ranges [a, b) with b <= upper_bound() can be counted.
  std::uint64_t upper_bound() const noexcept { return upper_bound_; }
  // Every prime p with p * p < upper_bound(), ascending.
  const std::vector<std::uint32_t>& primes() const noexcept { return primes_; }

 private:
  std::uint64_t upper_bound_;
  std::vector<std::uint32_t> primes_;
};

// Tuning knobs; the defaults were measured on the target machine (AMD EPYC, 1 MiB L2 and
// 32 KiB L1d per core): 512 KiB segments beat 256 KiB and 1 MiB by 5-10% for pi(1e10).
// Tests use tiny segments to exercise the multi-segment and bucket paths on small ranges.
struct SieveOptions {
  // Bytes per segment (30 numbers per byte); a power of two in [64, 2^26].
  std::uint32_t segment_bytes = 512 * 1024;
  // Small primes are crossed off block by block so the block stays in L1; <= segment_bytes.
  std::uint32_t block_bytes = 32 * 1024;
  // Primes below this are "small" (sieved per block); the rest per segment or in buckets.
  std::uint32_t small_prime_limit = 4096;
};

// Numbers covered by one segment with these options (30 * segment_bytes).
std::uint64_t segment_span(const SieveOptions& options = {});

// Exact number of primes p with a <= p < b. Returns 0 when a == b.
// Throws std::invalid_argument if b < a, if b > base.upper_bound(), or for invalid options.
// Memory per call: one segment plus ~12 bytes per sieving prime up to sqrt(b); the segment
// buffer and prime lists are thread_local and reused across calls.
std::uint64_t count_primes(const BasePrimes& base, std::uint64_t a, std::uint64_t b);
std::uint64_t count_primes(const BasePrimes& base, std::uint64_t a, std::uint64_t b,
                           const SieveOptions& options);

// A chunk size for cutting [a, b) among `workers` ranks: about 16 chunks per worker, at
// least sqrt(b) and one segment span, at most 1024 segment spans (~1 s of work each, so
// progress and load balance stay fine), always a multiple of segment_span(options).
// Any chunking gives the same total; this only affects speed. Throws if b < a.
std::uint64_t suggested_chunk_size(std::uint64_t a, std::uint64_t b, std::uint64_t workers,
                                   const SieveOptions& options = {});

}  // namespace kernels
