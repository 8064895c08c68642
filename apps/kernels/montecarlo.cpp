#include "kernels/montecarlo.hpp"

#include <Random123/philox.h>
#include <immintrin.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

// SIMD layout: one 64-bit lane per Philox block, holding the block's 32-bit word in its low half.
// _mm*_mul_epu32 multiplies exactly those low halves into the full 64-bit product, so hi = p >> 32
// and lo = p (upper half left as is: every later multiply ignores it, and XOR never moves it down).
// This costs one multiply per product and no shuffles. Several vectors are in flight per step
// because a round is a dependent multiply-shift-xor chain.

// GCC 12's _mm*_undefined_* helpers (used inside mul_epu32, cvtepi64_epi32, reduce_add...) are
// self-initialised on purpose; once inlined here they trip -W(maybe-)uninitialized.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace kernels {
namespace {

// The SIMD paths' constants; the scalar path is Random123's own r123::Philox4x32.
constexpr std::uint32_t kM0 = 0xD2511F53u;  // PHILOX_M4x32_0
constexpr std::uint32_t kM1 = 0xCD9E8D57u;  // PHILOX_M4x32_1
constexpr std::uint32_t kW0 = 0x9E3779B9u;  // PHILOX_W32_0 (key bump)
constexpr std::uint32_t kW1 = 0xBB67AE85u;  // PHILOX_W32_1
constexpr int kRounds = 10;

struct KeySchedule {
  std::uint32_t k0[kRounds];
  std::uint32_t k1[kRounds];
};

KeySchedule key_schedule(std::uint64_t seed) noexcept {
  KeySchedule ks{};
  auto a = static_cast<std::uint32_t>(seed);
  auto b = static_cast<std::uint32_t>(seed >> 32);
  for (int r = 0; r < kRounds; ++r) {
    ks.k0[r] = a;
    ks.k1[r] = b;
    a += kW0;
    b += kW1;
  }
  return ks;
}

// Block `block` of the stream keyed by ks (its first round's key is the Philox key).
std::array<std::uint32_t, 4> philox_scheduled(std::uint64_t block, const KeySchedule& ks) noexcept {
  return philox4x32_10(
      {static_cast<std::uint32_t>(block), static_cast<std::uint32_t>(block >> 32), 0, 0},
      {ks.k0[0], ks.k1[0]});
}

std::uint64_t count_blocks_scalar(const KeySchedule& ks, std::uint64_t first,
                                  std::uint64_t n) noexcept {
  std::uint64_t inside = 0;
  for (std::uint64_t j = first; j != first + n; ++j) {
    const auto r = philox_scheduled(j, ks);
    inside += inside_quarter_disc(r[0], r[1]) ? 1 : 0;
    inside += inside_quarter_disc(r[2], r[3]) ? 1 : 0;
  }
  return inside;
}

// ---------------------------------------------------------------------------------- AVX-512F
#define KERNELS_AVX512 __attribute__((target("avx512f")))
constexpr int kU512 = 4;  // zmm vectors (8 blocks each) in flight

struct State512 {
  __m512i x0[kU512], x1[kU512], x2[kU512], x3[kU512];
};

KERNELS_AVX512 inline __attribute__((always_inline)) void philox512(std::uint64_t first,
                                                                    const KeySchedule& ks,
                                                                    State512& s) {
  const __m512i m0 = _mm512_set1_epi64(kM0);
  const __m512i m1 = _mm512_set1_epi64(kM1);
  const __m512i lanes = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
  const __m512i base = _mm512_add_epi64(_mm512_set1_epi64(static_cast<long long>(first)), lanes);
  const __m512i k00 = _mm512_set1_epi64(ks.k0[0]);
  const __m512i k10 = _mm512_set1_epi64(ks.k1[0]);
  // Round 0: counter words 2 and 3 are zero, so the second product is zero.
  for (int u = 0; u < kU512; ++u) {
    const __m512i j = _mm512_add_epi64(base, _mm512_set1_epi64(8 * u));
    const __m512i p0 = _mm512_mul_epu32(j, m0);
    s.x0[u] = _mm512_xor_si512(_mm512_srli_epi64(j, 32), k00);
    s.x1[u] = _mm512_setzero_si512();
    s.x2[u] = _mm512_xor_si512(_mm512_srli_epi64(p0, 32), k10);
    s.x3[u] = p0;
  }
  for (int r = 1; r < kRounds; ++r) {
    const __m512i k0 = _mm512_set1_epi64(ks.k0[r]);
    const __m512i k1 = _mm512_set1_epi64(ks.k1[r]);
    for (int u = 0; u < kU512; ++u) {
      const __m512i p0 = _mm512_mul_epu32(s.x0[u], m0);
      const __m512i p1 = _mm512_mul_epu32(s.x2[u], m1);
      // 0x96 = a ^ b ^ c
      s.x0[u] = _mm512_ternarylogic_epi64(_mm512_srli_epi64(p1, 32), s.x1[u], k0, 0x96);
      s.x2[u] = _mm512_ternarylogic_epi64(_mm512_srli_epi64(p0, 32), s.x3[u], k1, 0x96);
      s.x1[u] = p1;
      s.x3[u] = p0;
    }
  }
}

KERNELS_AVX512 std::uint64_t count_blocks_avx512(const KeySchedule& ks, std::uint64_t first,
                                                 std::uint64_t n) {
  constexpr std::uint64_t kStep = 8 * kU512;
  const __m512i one = _mm512_set1_epi64(1);
  __m512i acc = _mm512_setzero_si512();
  std::uint64_t done = 0;
  for (; n - done >= kStep; done += kStep) {
    State512 s{};
    philox512(first + done, ks, s);
    for (int u = 0; u < kU512; ++u) {
      // inside <=> x^2 + y^2 does not carry out of 64 bits <=> sum >= x^2 (unsigned)
      const __m512i a = _mm512_mul_epu32(s.x0[u], s.x0[u]);
      const __m512i b = _mm512_mul_epu32(s.x1[u], s.x1[u]);
      const __m512i c = _mm512_mul_epu32(s.x2[u], s.x2[u]);
      const __m512i d = _mm512_mul_epu32(s.x3[u], s.x3[u]);
      acc =
          _mm512_mask_add_epi64(acc, _mm512_cmpge_epu64_mask(_mm512_add_epi64(a, b), a), acc, one);
      acc =
          _mm512_mask_add_epi64(acc, _mm512_cmpge_epu64_mask(_mm512_add_epi64(c, d), c), acc, one);
    }
  }
  const auto vec = static_cast<std::uint64_t>(_mm512_reduce_add_epi64(acc));
  return vec + count_blocks_scalar(ks, first + done, n - done);
}

KERNELS_AVX512 void blocks_avx512(const KeySchedule& ks, std::uint64_t first, std::size_t n,
                                  std::uint32_t* out) {
  constexpr std::size_t kStep = 8 * kU512;
  std::size_t done = 0;
  for (; n - done >= kStep; done += kStep) {
    State512 s{};
    philox512(first + done, ks, s);
    // Words 0|1 and 2|3 of each block paired into 64-bit lanes (the high halves of x0..x3 hold
    // leftovers of the products: the blends and shifts drop them), then the pairs interleaved
    // so that each block's four words lie in order: two 64-byte stores per 8 blocks.
    const __m512i lo_half = _mm512_set_epi64(11, 3, 10, 2, 9, 1, 8, 0);
    const __m512i hi_half = _mm512_set_epi64(15, 7, 14, 6, 13, 5, 12, 4);
    for (int u = 0; u < kU512; ++u) {
      const __m512i w01 = _mm512_mask_blend_epi32(0xAAAA, s.x0[u], _mm512_slli_epi64(s.x1[u], 32));
      const __m512i w23 = _mm512_mask_blend_epi32(0xAAAA, s.x2[u], _mm512_slli_epi64(s.x3[u], 32));
      std::uint32_t* o = out + 4 * (done + 8 * static_cast<std::size_t>(u));
      _mm512_storeu_si512(o, _mm512_permutex2var_epi64(w01, lo_half, w23));
      _mm512_storeu_si512(o + 16, _mm512_permutex2var_epi64(w01, hi_half, w23));
    }
  }
  for (; done < n; ++done) {
    const auto r = philox_scheduled(first + done, ks);
    for (int k = 0; k < 4; ++k) out[4 * done + k] = r[k];
  }
}

// ---------------------------------------------------------------------------------- AVX2
#define KERNELS_AVX2 __attribute__((target("avx2")))
constexpr int kU256 = 4;  // ymm vectors (4 blocks each) in flight

struct State256 {
  __m256i x0[kU256], x1[kU256], x2[kU256], x3[kU256];
};

KERNELS_AVX2 inline __attribute__((always_inline)) void philox256(std::uint64_t first,
                                                                  const KeySchedule& ks,
                                                                  State256& s) {
  const __m256i m0 = _mm256_set1_epi64x(kM0);
  const __m256i m1 = _mm256_set1_epi64x(kM1);
  const __m256i base = _mm256_add_epi64(_mm256_set1_epi64x(static_cast<long long>(first)),
                                        _mm256_set_epi64x(3, 2, 1, 0));
  const __m256i k00 = _mm256_set1_epi64x(ks.k0[0]);
  const __m256i k10 = _mm256_set1_epi64x(ks.k1[0]);
  for (int u = 0; u < kU256; ++u) {
    const __m256i j = _mm256_add_epi64(base, _mm256_set1_epi64x(4 * u));
    const __m256i p0 = _mm256_mul_epu32(j, m0);
    s.x0[u] = _mm256_xor_si256(_mm256_srli_epi64(j, 32), k00);
    s.x1[u] = _mm256_setzero_si256();
    s.x2[u] = _mm256_xor_si256(_mm256_srli_epi64(p0, 32), k10);
    s.x3[u] = p0;
  }
  for (int r = 1; r < kRounds; ++r) {
    const __m256i k0 = _mm256_set1_epi64x(ks.k0[r]);
    const __m256i k1 = _mm256_set1_epi64x(ks.k1[r]);
    for (int u = 0; u < kU256; ++u) {
      const __m256i p0 = _mm256_mul_epu32(s.x0[u], m0);
      const __m256i p1 = _mm256_mul_epu32(s.x2[u], m1);
      s.x0[u] = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(p1, 32), s.x1[u]), k0);
      s.x2[u] = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(p0, 32), s.x3[u]), k1);
      s.x1[u] = p1;
      s.x3[u] = p0;
    }
  }
}

KERNELS_AVX2 std::uint64_t count_blocks_avx2(const KeySchedule& ks, std::uint64_t first,
                                             std::uint64_t n) {
  constexpr std::uint64_t kStep = 4 * kU256;
  // AVX2 has only a signed 64-bit compare: flip the sign bits to compare unsigned.
  const __m256i sign = _mm256_set1_epi64x(std::numeric_limits<long long>::min());
  __m256i outside = _mm256_setzero_si256();  // counts carries (samples outside), as -(-1)s
  std::uint64_t done = 0;
  for (; n - done >= kStep; done += kStep) {
    State256 s{};
    philox256(first + done, ks, s);
    for (int u = 0; u < kU256; ++u) {
      const __m256i a = _mm256_mul_epu32(s.x0[u], s.x0[u]);
      const __m256i b = _mm256_mul_epu32(s.x1[u], s.x1[u]);
      const __m256i c = _mm256_mul_epu32(s.x2[u], s.x2[u]);
      const __m256i d = _mm256_mul_epu32(s.x3[u], s.x3[u]);
      const __m256i ab = _mm256_xor_si256(_mm256_add_epi64(a, b), sign);
      const __m256i cd = _mm256_xor_si256(_mm256_add_epi64(c, d), sign);
      // carry <=> a > a + b (unsigned); the compare yields -1 per carry
      outside = _mm256_sub_epi64(outside, _mm256_cmpgt_epi64(_mm256_xor_si256(a, sign), ab));
      outside = _mm256_sub_epi64(outside, _mm256_cmpgt_epi64(_mm256_xor_si256(c, sign), cd));
    }
  }
  alignas(32) std::uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), outside);
  const std::uint64_t vec = 2 * done - (lanes[0] + lanes[1] + lanes[2] + lanes[3]);
  return vec + count_blocks_scalar(ks, first + done, n - done);
}

KERNELS_AVX2 void blocks_avx2(const KeySchedule& ks, std::uint64_t first, std::size_t n,
                              std::uint32_t* out) {
  constexpr std::size_t kStep = 4 * kU256;
  std::size_t done = 0;
  for (; n - done >= kStep; done += kStep) {
    State256 s{};
    philox256(first + done, ks, s);
    // As in blocks_avx512: pairs of words in 64-bit lanes, then the lanes interleaved.
    for (int u = 0; u < kU256; ++u) {
      const __m256i w01 = _mm256_blend_epi32(s.x0[u], _mm256_slli_epi64(s.x1[u], 32), 0xAA);
      const __m256i w23 = _mm256_blend_epi32(s.x2[u], _mm256_slli_epi64(s.x3[u], 32), 0xAA);
      const __m256i even = _mm256_unpacklo_epi64(w01, w23);  // blocks 0, 2
      const __m256i odd = _mm256_unpackhi_epi64(w01, w23);   // blocks 1, 3
      auto* o = reinterpret_cast<__m256i*>(out + 4 * (done + 4 * static_cast<std::size_t>(u)));
      _mm256_storeu_si256(o, _mm256_permute2x128_si256(even, odd, 0x20));
      _mm256_storeu_si256(o + 1, _mm256_permute2x128_si256(even, odd, 0x31));
    }
  }
  for (; done < n; ++done) {
    const auto r = philox_scheduled(first + done, ks);
    for (int k = 0; k < 4; ++k) out[4 * done + k] = r[k];
  }
}

using CountFn = std::uint64_t (*)(const KeySchedule&, std::uint64_t, std::uint64_t);

CountFn count_fn(SimdPath path) {
  if (!simd_path_supported(path)) {
    throw std::invalid_argument(std::string("SIMD path not supported on this CPU: ") +
                                to_string(path));
  }
  switch (path) {
    case SimdPath::avx512:
      return count_blocks_avx512;
    case SimdPath::avx2:
      return count_blocks_avx2;
    case SimdPath::scalar:
      break;
  }
  return count_blocks_scalar;
}

}  // namespace

std::array<std::uint32_t, 4> philox4x32_10(std::array<std::uint32_t, 4> counter,
                                           std::array<std::uint32_t, 2> key) noexcept {
  const r123::Philox4x32::ctr_type c = {{counter[0], counter[1], counter[2], counter[3]}};
  const r123::Philox4x32::key_type k = {{key[0], key[1]}};
  const r123::Philox4x32::ctr_type r = r123::Philox4x32()(c, k);
  return {r[0], r[1], r[2], r[3]};
}

std::array<std::uint32_t, 4> pi_block(std::uint64_t seed, std::uint64_t block) noexcept {
  return philox4x32_10(
      {static_cast<std::uint32_t>(block), static_cast<std::uint32_t>(block >> 32), 0, 0},
      {static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)});
}

bool simd_path_supported(SimdPath path) noexcept {
  __builtin_cpu_init();  // harmless if done; needed when called before static constructors ran
  switch (path) {
    case SimdPath::avx512:
      return __builtin_cpu_supports("avx512f") != 0;
    case SimdPath::avx2:
      return __builtin_cpu_supports("avx2") != 0;
    case SimdPath::scalar:
      return true;
  }
  return false;
}

SimdPath best_simd_path() noexcept {
  static const SimdPath best = simd_path_supported(SimdPath::avx512) ? SimdPath::avx512
                               : simd_path_supported(SimdPath::avx2) ? SimdPath::avx2
                                                                     : SimdPath::scalar;
  return best;
}

const char* to_string(SimdPath path) noexcept {
  switch (path) {
    case SimdPath::avx512:
      return "avx512";
    case SimdPath::avx2:
      return "avx2";
    case SimdPath::scalar:
      return "scalar";
  }
  return "?";
}

void pi_blocks(SimdPath path, std::uint64_t seed, std::uint64_t first_block, std::size_t count,
               std::uint32_t* out) {
  if (!simd_path_supported(path)) {
    throw std::invalid_argument(std::string("SIMD path not supported on this CPU: ") +
                                to_string(path));
  }
  if (count > std::numeric_limits<std::uint64_t>::max() - first_block) {
    throw std::out_of_range("pi_blocks: block range passes 2^64");
  }
  const KeySchedule ks = key_schedule(seed);
  switch (path) {
    case SimdPath::avx512:
      blocks_avx512(ks, first_block, count, out);
      return;
    case SimdPath::avx2:
      blocks_avx2(ks, first_block, count, out);
      return;
    case SimdPath::scalar:
      break;
  }
  for (std::size_t i = 0; i < count; ++i) {
    const auto r = philox_scheduled(first_block + i, ks);
    for (int k = 0; k < 4; ++k) out[4 * i + k] = r[k];
  }
}

std::uint64_t count_inside(SimdPath path, std::uint64_t seed, std::uint64_t first,
                           std::uint64_t count) {
  const CountFn fn = count_fn(path);
  if (count > std::numeric_limits<std::uint64_t>::max() - first) {
    throw std::out_of_range("count_inside: sample range passes 2^64 - 1");
  }
  if (count == 0) return 0;
  const KeySchedule ks = key_schedule(seed);
  std::uint64_t inside = 0;
  if (first % 2 == 1) {  // odd start: the second sample of a block
    const auto r = philox_scheduled(first / 2, ks);
    inside += inside_quarter_disc(r[2], r[3]) ? 1 : 0;
    ++first;
    --count;
  }
  inside += fn(ks, first / 2, count / 2);
  if (count % 2 == 1) {  // odd end: the first sample of a block
    const auto r = philox_scheduled((first + count) / 2, ks);
    inside += inside_quarter_disc(r[0], r[1]) ? 1 : 0;
  }
  return inside;
}

std::uint64_t count_inside(std::uint64_t seed, std::uint64_t first, std::uint64_t count) {
  return count_inside(best_simd_path(), seed, first, count);
}

PiEstimate estimate_pi(std::uint64_t inside, std::uint64_t samples) {
  if (samples == 0) throw std::invalid_argument("estimate_pi: no samples");
  if (inside > samples) throw std::invalid_argument("estimate_pi: inside > samples");
  const double p = static_cast<double>(inside) / static_cast<double>(samples);
  return {4.0 * p, 4.0 * std::sqrt(p * (1.0 - p) / static_cast<double>(samples))};
}

}  // namespace kernels

#pragma GCC diagnostic pop
