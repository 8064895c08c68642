#include "kernels/primes.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <stdexcept>
#include <string>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
// Function multi-versioning: the binary stays portable and picks AVX-512 where it exists.
#define KERNELS_X86_CLONES 1
#endif

namespace kernels {
namespace {

// Byte j of the sieve holds the numbers 30 j + kResidues[k] in bit k, so bits ascend with the
// numbers they stand for, and a little-endian 64-bit word covers 240 consecutive numbers.
constexpr std::array<std::uint32_t, 8> kResidues = {1, 7, 11, 13, 17, 19, 23, 29};
// Distance from one residue to the next (the last wraps to 31 = 30 + 1).
constexpr std::array<std::uint32_t, 8> kGaps = {6, 4, 2, 4, 2, 4, 6, 2};

constexpr std::array<std::uint8_t, 30> kResidueIndex = [] {
  std::array<std::uint8_t, 30> t{};
  t.fill(0xFF);
  for (std::uint8_t k = 0; k < 8; ++k) t[kResidues[k]] = k;
  return t;
}();

// Number of residues coprime to 30 that are < x, for x in [0, 30].
constexpr std::array<std::uint32_t, 31> kResiduesBelow = [] {
  std::array<std::uint32_t, 31> t{};
  for (std::uint32_t x = 0; x <= 30; ++x)
    for (std::uint32_t r : kResidues) t[x] += r < x ? 1 : 0;
  return t;
}();

// Wheel index of the smallest residue >= x, for x in [0, 29] (29 is a residue, so it exists).
constexpr std::array<std::uint32_t, 30> kNextResidue = [] {
  std::array<std::uint32_t, 30> t{};
  for (std::uint32_t x = 0; x < 30; ++x) t[x] = kResiduesBelow[x];
  return t;
}();

// For a prime p = 30 q + kResidues[ri], its multiple p m with m = 30 t + kResidues[w] lies in
// bit kBit(ri, w); moving m to the next residue moves the byte by q * kGaps[w] + kExtra[ri][w].
constexpr std::array<std::array<std::uint32_t, 8>, 8> kExtra = [] {
  std::array<std::array<std::uint32_t, 8>, 8> t{};
  for (std::size_t ri = 0; ri < 8; ++ri)
    for (std::size_t w = 0; w < 8; ++w) {
      const std::uint32_t r = kResidues[ri];
      t[ri][w] = r * (kResidues[w] + kGaps[w]) / 30 - r * kResidues[w] / 30;
    }
  return t;
}();

constexpr std::array<std::array<std::uint8_t, 8>, 8> kMask = [] {
  std::array<std::array<std::uint8_t, 8>, 8> t{};
  for (std::size_t ri = 0; ri < 8; ++ri)
    for (std::size_t w = 0; w < 8; ++w) {
      const std::uint32_t bit = kResidueIndex[kResidues[ri] * kResidues[w] % 30];
      t[ri][w] = static_cast<std::uint8_t>(~(1U << bit));
    }
  return t;
}();

// Primes removed by the pre-sieve patterns: 7..163, in 15 groups whose product (the pattern
// period in bytes) stays below 32 KiB, so all patterns (~250 KiB) stay in L2 beside the
// segment. Sieving proper starts at the next prime, 167.
constexpr std::size_t kPresieveCount = 15;
constexpr std::array<std::array<std::uint32_t, 3>, kPresieveCount> kPresieveGroups = {{
    {163, 157, 1},
    {151, 149, 1},
    {139, 137, 1},
    {131, 127, 1},
    {113, 109, 1},
    {107, 103, 1},
    {101, 97, 1},
    {89, 83, 1},
    {79, 73, 1},
    {71, 67, 1},
    {61, 59, 7},
    {53, 47, 13},
    {43, 41, 17},
    {37, 31, 23},
    {29, 19, 11},
}};
constexpr std::uint32_t kFirstSievingPrime = 167;
// The presieve fills at most this many bytes per pass; each pattern stores this many bytes
// past its period so a pass never wraps.
constexpr std::size_t kPresieveChunk = 4096;
static_assert(
    [] {
      for (const auto& group : kPresieveGroups)
        if (static_cast<std::size_t>(group[0]) * group[1] * group[2] < kPresieveChunk) return false;
      return true;
    }(),
    "a pass must not wrap a pattern twice");

// 64-byte vectors: one AVX-512 register in the clone for CPUs that have it, 4 SSE2 ones
// otherwise.
using Vec64 = std::uint64_t __attribute__((vector_size(64)));

// dst[0, n) = AND of src[k][0, n) for k < 8, or dst &= that AND when `accumulate`.
#ifdef KERNELS_X86_CLONES
__attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#endif
void and_streams(
    std::uint8_t* __restrict dst, const std::uint8_t* const* src, std::size_t n_src, std::size_t n,
    bool accumulate) {
  const std::uint8_t* s[8];
  for (std::size_t k = 0; k < 8; ++k) s[k] = src[k < n_src ? k : 0];
  std::size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    // Loads through memcpy stay inside this function: a helper returning Vec64 would not
    // share the AVX-512 clone's calling convention.
    Vec64 v;
    std::memcpy(&v, s[0] + i, sizeof v);
    for (std::size_t k = 1; k < 8; ++k) {
      Vec64 w;
      std::memcpy(&w, s[k] + i, sizeof w);
      v &= w;
    }
    if (accumulate) {
      Vec64 w;
      std::memcpy(&w, dst + i, sizeof w);
      v &= w;
    }
    std::memcpy(dst + i, &v, sizeof v);
  }
  for (; i < n; ++i) {
    std::uint8_t v = accumulate ? dst[i] : 0xFF;
    for (std::size_t k = 0; k < 8; ++k) v &= s[k][i];
    dst[i] = v;
  }
}

class Presieve {
 public:
  Presieve() {
    for (std::size_t g = 0; g < kPresieveCount; ++g) {
      std::size_t period = 1;
      for (std::uint32_t p : kPresieveGroups[g]) period *= p;
      std::vector<std::uint8_t> pattern(period + kPresieveChunk, 0xFF);
      // Byte j stands for 30 j + r; every prime divides the period, so byte j and byte
      // j + period agree.
      for (std::uint32_t p : kPresieveGroups[g]) {
        if (p == 1) continue;
        for (std::uint64_t t = 0;; ++t) {
          bool done = false;
          for (std::uint32_t r : kResidues) {
            const std::uint64_t n = p * (30 * t + r);
            if (n / 30 >= pattern.size()) {
              done = true;
              break;
            }
            pattern[n / 30] &= static_cast<std::uint8_t>(~(1U << kResidueIndex[n % 30]));
          }
          if (done) break;
        }
      }
      periods_[g] = period;
      patterns_[g] = std::move(pattern);
    }
  }

  // Fills sieve[0, len) for the bytes starting at absolute byte `first_byte`, with the
  // pre-sieve primes themselves and 1 left as they should be (1 cleared, the primes set).
  void apply(std::uint8_t* sieve, std::size_t len, std::uint64_t first_byte) const {
    std::array<std::size_t, kPresieveCount> offset{};
    for (std::size_t g = 0; g < kPresieveCount; ++g) offset[g] = first_byte % periods_[g];
    for (std::size_t done = 0; done < len;) {
      const std::size_t n = std::min(len - done, kPresieveChunk);
      std::array<const std::uint8_t*, kPresieveCount> src{};
      for (std::size_t g = 0; g < kPresieveCount; ++g) {
        src[g] = patterns_[g].data() + offset[g];
        offset[g] += n;
        if (offset[g] >= periods_[g]) offset[g] -= periods_[g];
      }
      and_streams(sieve + done, src.data(), 8, n, false);
      and_streams(sieve + done, src.data() + 8, kPresieveCount - 8, n, true);
      done += n;
    }
    if (first_byte < 6) {
      // The pattern crossed off the pre-sieve primes themselves (all below 180, in bytes
      // 0..5), and 1 is not prime.
      for (const auto& group : kPresieveGroups) {
        for (std::uint32_t p : group) {
          if (p != 1 && p / 30 >= first_byte && p / 30 < first_byte + len) {
            sieve[p / 30 - first_byte] |= static_cast<std::uint8_t>(1U << kResidueIndex[p % 30]);
          }
        }
      }
      if (first_byte == 0) sieve[0] &= 0xFE;
    }
  }

 private:
  std::array<std::size_t, kPresieveCount> periods_{};
  std::array<std::vector<std::uint8_t>, kPresieveCount> patterns_;
};

const Presieve& presieve() {
  static const Presieve instance;
  return instance;
}

// A small or medium sieving prime: `index` is the byte (relative to the current segment) of
// its next multiple, `wheel` the wheel index of that multiple's cofactor.
struct SievingPrime {
  std::uint32_t prime;
  std::uint32_t index;
  std::uint8_t residue;  // index of prime % 30 in kResidues
  std::uint8_t wheel;
};

// Crosses off the multiples of sp.prime below sieve[end], then rebases sp.index by -rebase.
// One full turn of the wheel (8 multiples) advances exactly `prime` bytes, so the hot loop
// clears 8 bytes at fixed offsets with compile-time masks, as primesieve's EratSmall does.
template <std::size_t Ri>
inline void cross_off(std::uint8_t* sieve, std::uint32_t end, std::uint32_t rebase,
                      SievingPrime& sp) {
  constexpr auto mask = kMask[Ri];
  constexpr auto extra = kExtra[Ri];
  const std::uint32_t p = sp.prime;
  const std::uint32_t q = p / 30;
  std::uint32_t i = sp.index;
  std::uint32_t w = sp.wheel;
  // Finish the turn a previous block stopped in.
  while (w != 0 && i < end) {
    sieve[i] &= mask[w];
    i += q * kGaps[w] + extra[w];
    w = (w + 1) & 7;
  }
  if (w == 0) {
    const std::size_t o1 = q * kGaps[0] + extra[0];
    const std::size_t o2 = o1 + q * kGaps[1] + extra[1];
    const std::size_t o3 = o2 + q * kGaps[2] + extra[2];
    const std::size_t o4 = o3 + q * kGaps[3] + extra[3];
    const std::size_t o5 = o4 + q * kGaps[4] + extra[4];
    const std::size_t o6 = o5 + q * kGaps[5] + extra[5];
    const std::size_t o7 = o6 + q * kGaps[6] + extra[6];
    if (end > o7) {
      std::uint8_t* s = sieve + i;
      std::uint8_t* const limit = sieve + (end - o7);
      for (; s < limit; s += p) {
        s[0] &= mask[0];
        s[o1] &= mask[1];
        s[o2] &= mask[2];
        s[o3] &= mask[3];
        s[o4] &= mask[4];
        s[o5] &= mask[5];
        s[o6] &= mask[6];
        s[o7] &= mask[7];
      }
      i = static_cast<std::uint32_t>(s - sieve);
    }
    // Fewer than 8 multiples remain below end.
    while (i < end) {
      sieve[i] &= mask[w];
      i += q * kGaps[w] + extra[w];
      ++w;
    }
  }
  sp.index = i - rebase;
  sp.wheel = static_cast<std::uint8_t>(w);
}

template <std::size_t Ri>
void cross_off_group(std::uint8_t* sieve, std::uint32_t end, std::uint32_t rebase,
                     std::vector<SievingPrime>& group) {
  for (SievingPrime& sp : group) cross_off<Ri>(sieve, end, rebase, sp);
}

void cross_off_all(std::uint8_t* sieve, std::uint32_t end, std::uint32_t rebase,
                   std::array<std::vector<SievingPrime>, 8>& groups) {
  cross_off_group<0>(sieve, end, rebase, groups[0]);
  cross_off_group<1>(sieve, end, rebase, groups[1]);
  cross_off_group<2>(sieve, end, rebase, groups[2]);
  cross_off_group<3>(sieve, end, rebase, groups[3]);
  cross_off_group<4>(sieve, end, rebase, groups[4]);
  cross_off_group<5>(sieve, end, rebase, groups[5]);
  cross_off_group<6>(sieve, end, rebase, groups[6]);
  cross_off_group<7>(sieve, end, rebase, groups[7]);
}

// A large sieving prime (each step is at least one segment) waiting in the bucket of the
// segment its next multiple falls in.
struct BucketEntry {
  std::uint32_t q_residue;  // (prime / 30) << 3 | residue index
  std::uint32_t position;   // byte within that segment << 3 | wheel index
};

// Counting runs over every sieve byte once; POPCNT and AVX-512 VPOPCNTQ (8 words per
// instruction) versions are picked at run time, so the binary stays portable.
#ifdef KERNELS_X86_CLONES
__attribute__((target_clones("popcnt", "default")))
#endif
std::uint64_t
count_bits_scalar(const std::uint64_t* words, std::size_t n) {
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < n; ++i) total += static_cast<std::uint64_t>(std::popcount(words[i]));
  return total;
}

#ifdef KERNELS_X86_CLONES
__attribute__((target("avx512f,avx512vpopcntdq,popcnt"))) std::uint64_t count_bits_avx512(
    const std::uint64_t* words, std::size_t n) {
  __m512i sum = _mm512_setzero_si512();
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    sum = _mm512_add_epi64(sum, _mm512_popcnt_epi64(_mm512_loadu_si512(words + i)));
  }
  // A store instead of _mm512_reduce_add_epi64, which trips GCC 12's -Wuninitialized.
  alignas(64) std::uint64_t lanes[8];
  _mm512_store_si512(lanes, sum);
  std::uint64_t total = 0;
  for (std::uint64_t lane : lanes) total += lane;
  for (; i < n; ++i) total += static_cast<std::uint64_t>(std::popcount(words[i]));
  return total;
}

#endif

std::uint64_t count_bits(const std::uint64_t* words, std::size_t n) {
#ifdef KERNELS_X86_CLONES
  static const bool vpopcnt =
      __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vpopcntdq");
  if (vpopcnt) return count_bits_avx512(words, n);
#endif
  return count_bits_scalar(words, n);
}

std::uint64_t isqrt(std::uint64_t n) {
  auto r = static_cast<std::uint64_t>(std::sqrt(static_cast<double>(n)));
  while (r > 0 && r * r > n) --r;
  while ((r + 1) * (r + 1) <= n) ++r;
  return r;
}

void validate(const SieveOptions& o) {
  const bool ok = std::has_single_bit(o.segment_bytes) && o.segment_bytes >= 64 &&
                  o.segment_bytes <= (1U << 26) && o.block_bytes >= 8 &&
                  o.block_bytes <= o.segment_bytes;
  if (!ok) {
    throw std::invalid_argument(
        "kernels::SieveOptions: segment_bytes must be a power of two in [64, 2^26] and "
        "block_bytes in [8, segment_bytes]");
  }
}

// Per-thread reusable state so repeated chunk calls do not reallocate.
struct Workspace {
  std::vector<std::uint64_t> words;
  // Grouped by residue index so each group runs one specialization of cross_off and the
  // dispatch on the residue is predictable.
  std::array<std::vector<SievingPrime>, 8> small;
  std::array<std::vector<SievingPrime>, 8> medium;
  std::vector<std::vector<BucketEntry>> buckets;
};

}  // namespace

BasePrimes::BasePrimes(std::uint64_t upper_bound) : upper_bound_(upper_bound) {
  if (upper_bound > kMaxPrimesUpperBound) {
    throw std::invalid_argument("kernels::BasePrimes: upper bound " + std::to_string(upper_bound) +
                                " exceeds the supported maximum " +
                                std::to_string(kMaxPrimesUpperBound));
  }
  // Primes p with p * p < upper_bound, i.e. p <= isqrt(upper_bound - 1).
  const std::uint64_t limit = upper_bound == 0 ? 0 : isqrt(upper_bound - 1);
  if (limit < 2) return;
  // Plain sieve over odd numbers: at most sqrt(1e15) / 2 = 16 MB once per worker.
  const std::size_t odd_count = static_cast<std::size_t>((limit - 1) / 2);  // 3, 5, ..., limit
  std::vector<std::uint8_t> composite(odd_count + 1, 0);
  primes_.push_back(2);
  for (std::size_t i = 1; i <= odd_count; ++i) {
    if (composite[i]) continue;
    const std::uint64_t p = 2 * i + 1;
    primes_.push_back(static_cast<std::uint32_t>(p));
    for (std::uint64_t j = p * p / 2; j <= odd_count; j += p) composite[j] = 1;
  }
}

std::uint64_t segment_span(const SieveOptions& options) {
  return 30 * static_cast<std::uint64_t>(options.segment_bytes);
}

std::uint64_t count_primes(const BasePrimes& base, std::uint64_t a, std::uint64_t b) {
  return count_primes(base, a, b, SieveOptions{});
}

std::uint64_t count_primes(const BasePrimes& base, std::uint64_t a, std::uint64_t b,
                           const SieveOptions& options) {
  if (b < a) {
    throw std::invalid_argument("kernels::count_primes: empty range with b < a (a = " +
                                std::to_string(a) + ", b = " + std::to_string(b) + ")");
  }
  if (b > base.upper_bound()) {
    throw std::invalid_argument("kernels::count_primes: b = " + std::to_string(b) +
                                " exceeds the BasePrimes upper bound " +
                                std::to_string(base.upper_bound()));
  }
  validate(options);
  if (a == b) return 0;

  std::uint64_t count = 0;
  for (std::uint64_t p : {2, 3, 5}) count += (a <= p && p < b) ? 1 : 0;
  if (b <= 7) return count;

  const std::uint32_t seg_bytes = options.segment_bytes;
  const int seg_shift = std::countr_zero(seg_bytes);
  const std::uint64_t first_byte = a / 30;
  const std::uint64_t end_byte = (b + 29) / 30;  // bytes covering every number < b
  const std::vector<std::uint32_t>& primes = base.primes();

  // Large primes: each step (>= 2 q bytes) spans a segment, so at most one hit per segment.
  const std::uint32_t large_limit = 15 * seg_bytes;
  std::size_t n_used = 0;  // primes with p * p < b
  while (n_used < primes.size() &&
         static_cast<std::uint64_t>(primes[n_used]) * primes[n_used] < b) {
    ++n_used;
  }
  const std::uint64_t max_prime = n_used > 0 ? primes[n_used - 1] : 0;
  // The first multiple of a large prime is < 7 (q + 1) + 1 bytes ahead; later steps less.
  const std::uint64_t max_ahead = (7 * (max_prime / 30 + 1) + 1) >> seg_shift;
  const std::size_t n_buckets = std::bit_ceil(static_cast<std::size_t>(max_ahead + 2));

  thread_local Workspace ws;
  const std::size_t n_words = seg_bytes / 8 + 1;
  if (ws.words.size() < n_words) ws.words.resize(n_words);
  auto* const sieve = reinterpret_cast<std::uint8_t*>(ws.words.data());
  for (auto& group : ws.small) group.clear();
  for (auto& group : ws.medium) group.clear();
  if (ws.buckets.size() < n_buckets) ws.buckets.resize(n_buckets);
  for (auto& bucket : ws.buckets) bucket.clear();

  std::size_t next_prime = 0;
  while (next_prime < n_used && primes[next_prime] < kFirstSievingPrime) ++next_prime;

  const Presieve& pre = presieve();
  for (std::uint64_t seg = first_byte, k = 0; seg < end_byte; seg += seg_bytes, ++k) {
    const auto len = static_cast<std::uint32_t>(std::min<std::uint64_t>(seg_bytes, end_byte - seg));
    const std::uint64_t low = 30 * seg;
    const std::uint64_t high = 30 * (seg + len);

    // Activate primes whose square falls before the end of this segment.
    while (next_prime < n_used &&
           static_cast<std::uint64_t>(primes[next_prime]) * primes[next_prime] < high) {
      const std::uint64_t p = primes[next_prime++];
      const std::uint64_t m0 = std::max(p, (low + p - 1) / p);
      const std::uint32_t w = kNextResidue[m0 % 30];
      const std::uint64_t m = m0 - m0 % 30 + kResidues[w];
      const std::uint64_t index = p * m / 30 - seg;
      const auto ri = kResidueIndex[p % 30];
      if (p < options.small_prime_limit || p < large_limit) {
        SievingPrime sp{static_cast<std::uint32_t>(p), static_cast<std::uint32_t>(index), ri,
                        static_cast<std::uint8_t>(w)};
        (p < options.small_prime_limit ? ws.small : ws.medium)[ri].push_back(sp);
      } else {
        const std::uint64_t ahead = index >> seg_shift;
        const auto within = static_cast<std::uint32_t>(index & (seg_bytes - 1));
        ws.buckets[(k + ahead) & (n_buckets - 1)].push_back(
            {static_cast<std::uint32_t>(p / 30) << 3 | ri, within << 3 | w});
      }
    }

    // Small primes: block by block so the bytes they hit many times stay in L1.
    for (std::uint32_t block = 0; block < len; block += options.block_bytes) {
      const std::uint32_t end = std::min(len, block + options.block_bytes);
      const std::uint32_t rebase = end == len ? len : 0;
      pre.apply(sieve + block, end - block, seg + block);
      cross_off_all(sieve, end, rebase, ws.small);
    }
    cross_off_all(sieve, len, len, ws.medium);

    // Large primes: one hit each in this segment, then on to the bucket of their next one.
    auto& bucket = ws.buckets[k & (n_buckets - 1)];
    for (const BucketEntry& e : bucket) {
      const std::uint32_t ri = e.q_residue & 7;
      const std::uint32_t q = e.q_residue >> 3;
      const std::uint32_t w = e.position & 7;
      const std::uint32_t i = e.position >> 3;
      if (i >= len) continue;  // only in the final, shorter segment: nothing left to do
      sieve[i] &= kMask[ri][w];
      const std::uint32_t next = i + q * kGaps[w] + kExtra[ri][w];
      ws.buckets[(k + (next >> seg_shift)) & (n_buckets - 1)].push_back(
          {e.q_residue, (next & (seg_bytes - 1)) << 3 | ((w + 1) & 7)});
    }
    bucket.clear();

    // Keep only numbers in [a, b), then count.
    if (seg == first_byte) sieve[0] &= static_cast<std::uint8_t>(0xFFU << kResiduesBelow[a % 30]);
    if (seg + len == end_byte) {
      const std::uint64_t last = b - 30 * (end_byte - 1);  // in [1, 30]
      sieve[len - 1] &= static_cast<std::uint8_t>((1U << kResiduesBelow[last]) - 1);
    }
    const std::size_t words = (len + 7) / 8;
    std::memset(sieve + len, 0, words * 8 - len);
    count += count_bits(ws.words.data(), words);
  }
  return count;
}

std::uint64_t suggested_chunk_size(std::uint64_t a, std::uint64_t b, std::uint64_t workers,
                                   const SieveOptions& options) {
  if (b < a) throw std::invalid_argument("kernels::suggested_chunk_size: b < a");
  const std::uint64_t span = segment_span(options);
  const auto round_up = [span](std::uint64_t x) { return (x + span - 1) / span * span; };
  const std::uint64_t min_chunk = round_up(std::max<std::uint64_t>(isqrt(b), 1));
  const std::uint64_t max_chunk = std::max(min_chunk, 1024 * span);
  const std::uint64_t target = round_up((b - a) / (16 * std::max<std::uint64_t>(workers, 1)));
  return std::clamp(target, min_chunk, max_chunk);
}

}  // namespace kernels
