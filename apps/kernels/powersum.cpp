#include "kernels/powersum.hpp"

#include <limits>
#include <stdexcept>

namespace kernels {
namespace {

using u64 = std::uint64_t;
constexpr u64 kU64Max = std::numeric_limits<u64>::max();

[[noreturn]] void throw_overflow() {
  throw std::overflow_error("sum of i^k for i < n exceeds 2^128");
}

// base^k in *out; false if it is >= 2^128.
bool checked_pow(u128 base, unsigned k, u128* out) {
  u128 result = 1;
  for (;;) {
    if (k & 1u) {
      if (__builtin_mul_overflow(result, base, &result)) return false;
    }
    k >>= 1;
    if (k == 0) break;
    // Squaring an overflowing base only matters if a later bit uses it, and then it overflows.
    if (__builtin_mul_overflow(base, base, &base)) return false;
  }
  *out = result;
  return true;
}

// The largest i with i^k < 2^64 (k >= 1).
u64 largest_u64_base(unsigned k) {
  if (k <= 1) return kU64Max;
  // Binary search on the exact predicate; at most 64 steps, once per call.
  u64 lo = 1;                                       // 1^k fits
  u64 hi = k >= 64 ? 2 : (u64{1} << (64 / k + 1));  // hi^k >= 2^64
  while (hi - lo > 1) {
    const u64 mid = lo + (hi - lo) / 2;
    u128 p = 0;
    if (checked_pow(mid, k, &p) && p <= kU64Max) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return lo;
}

template <unsigned K>
inline u64 pow_u64(u64 x) {
  u64 r = x;
  for (unsigned j = 1; j < K; ++j) r *= x;
  return r;
}

inline u64 pow_u64(u64 x, unsigned k) {
  u64 r = 1;
  for (unsigned j = 0; j < k; ++j) r *= x;
  return r;
}

// Sum of i^k over [b, e) where every term fits in 64 bits. The sum of fewer than 2^64 terms each
// below 2^64 is below 2^128, so no overflow check is needed. Four (low word, carry count)
// accumulators keep the add/carry chains independent.
template <unsigned K>
u128 sum_u64_terms(u64 b, u64 e, unsigned k) {
  u64 lo[4] = {0, 0, 0, 0};
  u64 carries[4] = {0, 0, 0, 0};
  const auto term = [k](u64 x) { return K != 0 ? pow_u64<K>(x) : pow_u64(x, k); };
  u64 i = b;
  for (; e - i >= 4; i += 4) {
    for (unsigned u = 0; u < 4; ++u) {
      const u64 t = term(i + u);
      lo[u] += t;
      carries[u] += lo[u] < t ? 1 : 0;
    }
  }
  for (; i < e; ++i) {
    const u64 t = term(i);
    lo[0] += t;
    carries[0] += lo[0] < t ? 1 : 0;
  }
  u128 s = 0;
  for (unsigned u = 0; u < 4; ++u) s += (u128{carries[u]} << 64) + lo[u];
  return s;
}

u128 sum_u64_terms(unsigned k, u64 b, u64 e) {
  switch (k) {
    case 1:
      return sum_u64_terms<1>(b, e, k);
    case 2:
      return sum_u64_terms<2>(b, e, k);
    case 3:
      return sum_u64_terms<3>(b, e, k);
    case 4:
      return sum_u64_terms<4>(b, e, k);
    case 5:
      return sum_u64_terms<5>(b, e, k);
    default:
      return sum_u64_terms<0>(b, e, k);
  }
}

// Sum of i^k over [b, e) for terms of 64 bits or more, where the caller has shown the sum is
// below 2^128 (so unchecked 128-bit arithmetic is exact).
template <unsigned K>
u128 sum_u128_terms(u64 b, u64 e, unsigned k) {
  u128 acc[4] = {0, 0, 0, 0};
  const auto term = [k](u64 x) {
    u128 r = x;
    const unsigned n = K != 0 ? K : k;
    for (unsigned j = 1; j < n; ++j) r *= x;
    return r;
  };
  u64 i = b;
  for (; e - i >= 4; i += 4) {
    for (unsigned u = 0; u < 4; ++u) acc[u] += term(i + u);
  }
  for (; i < e; ++i) acc[0] += term(i);
  return acc[0] + acc[1] + acc[2] + acc[3];
}

u128 sum_u128_terms(unsigned k, u64 b, u64 e) {
  switch (k) {
    case 2:
      return sum_u128_terms<2>(b, e, k);
    case 3:
      return sum_u128_terms<3>(b, e, k);
    case 4:
      return sum_u128_terms<4>(b, e, k);
    default:
      return sum_u128_terms<0>(b, e, k);
  }
}

}  // namespace

u128 checked_add(u128 a, u128 b) {
  u128 s = 0;
  if (__builtin_add_overflow(a, b, &s)) throw_overflow();
  return s;
}

u128 power_sum(unsigned k, u64 begin, u64 end) {
  if (begin > end) throw std::invalid_argument("power_sum: begin > end");
  if (begin == end) return 0;
  if (k == 0) return end - begin;  // every term is 1, 0^0 included

  // Cheap early refusals, so a hopeless range fails at once instead of after hours of looping:
  // the last term alone, or the upper half of the range (each term >= mid^k), reaching 2^128.
  u128 last_term = 0;
  if (!checked_pow(end - 1, k, &last_term)) throw_overflow();
  const u64 mid = begin + (end - begin) / 2;
  u128 mid_term = 0;
  u128 lower_bound = 0;
  if (!checked_pow(mid, k, &mid_term) ||
      __builtin_mul_overflow(mid_term, u128{end - mid}, &lower_bound)) {
    throw_overflow();
  }

  const u64 split = largest_u64_base(k);  // terms i <= split fit in 64 bits
  u128 sum = 0;
  u64 i = begin;
  if (i <= split) {
    const u64 e = end - 1 <= split ? end : split + 1;
    sum = sum_u64_terms(k, i, e);
    i = e;
  }
  if (i == end) return sum;
  // Terms of 64 bits or more. If (count * largest term) fits, nothing here can overflow and the
  // loop runs unchecked; otherwise every step is checked (the sum may reach 2^128).
  u128 bound = 0;
  if (!__builtin_mul_overflow(last_term, u128{end - i}, &bound)) {
    return checked_add(sum, sum_u128_terms(k, i, end));
  }
  for (; i < end; ++i) {
    u128 t = 0;
    if (!checked_pow(i, k, &t)) throw_overflow();
    sum = checked_add(sum, t);
  }
  return sum;
}

std::string to_decimal(u128 v) {
  // Peel 19 digits at a time with 64-bit arithmetic: few 128-bit divisions.
  constexpr u64 kChunk = 10'000'000'000'000'000'000u;  // 10^19
  char buf[40];
  char* p = buf + sizeof buf;
  do {
    auto chunk = static_cast<u64>(v % kChunk);
    v /= kChunk;
    for (int d = 0; d < 19 && (v != 0 || chunk != 0); ++d) {
      *--p = static_cast<char>('0' + chunk % 10);
      chunk /= 10;
    }
  } while (v != 0);
  if (p == buf + sizeof buf) *--p = '0';
  return std::string(p, static_cast<std::size_t>(buf + sizeof buf - p));
}

u128 parse_decimal(std::string_view text) {
  const auto bad = [&text]() {
    return std::invalid_argument("not a decimal integer: '" + std::string(text) + "'");
  };
  if (text.empty() || text.front() == '_' || text.back() == '_') throw bad();
  u128 v = 0;
  char prev = 0;
  for (const char c : text) {
    if (c == '_') {
      if (prev == '_') throw bad();
    } else if (c >= '0' && c <= '9') {
      if (__builtin_mul_overflow(v, u128{10}, &v) ||
          __builtin_add_overflow(v, u128{static_cast<unsigned>(c - '0')}, &v)) {
        throw std::overflow_error("decimal integer exceeds 2^128 - 1: '" + std::string(text) + "'");
      }
    } else {
      throw bad();
    }
    prev = c;
  }
  return v;
}

}  // namespace kernels
