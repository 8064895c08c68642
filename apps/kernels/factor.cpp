#include "kernels/factor.hpp"

#include <algorithm>
#include <array>
#include <numeric>

namespace kernels {
namespace {

using u64 = std::uint64_t;
__extension__ typedef unsigned __int128 u128;

constexpr u64 kTrialBound = 1024;  // trial-divide by every prime below this

// Odd primes below kTrialBound with what divisibility by multiplication needs: n % p == 0 iff
// n * inv(p) mod 2^64 <= (2^64 - 1) / p (inv is p's inverse mod 2^64), no division needed.
struct OddPrime {
  u64 p;
  u64 inv;
  u64 max_quotient;
};

constexpr u64 inverse_mod_2_64(u64 a) {
  u64 x = a;  // correct to 3 bits for odd a; each Newton step doubles that
  for (int i = 0; i < 5; ++i) x *= 2 - a * x;
  return x;
}

constexpr std::size_t kOddPrimeCount = [] {
  std::size_t count = 0;
  for (u64 n = 3; n < kTrialBound; n += 2) {
    bool prime = true;
    for (u64 d = 3; d * d <= n; d += 2) prime = prime && n % d != 0;
    count += prime ? 1 : 0;
  }
  return count;
}();

constexpr std::array<OddPrime, kOddPrimeCount> kOddPrimes = [] {
  std::array<OddPrime, kOddPrimeCount> primes{};
  std::size_t i = 0;
  for (u64 n = 3; n < kTrialBound; n += 2) {
    bool prime = true;
    for (u64 d = 3; d * d <= n; d += 2) prime = prime && n % d != 0;
    if (prime) primes[i++] = {n, inverse_mod_2_64(n), ~u64{0} / n};
  }
  return primes;
}();

// Montgomery arithmetic modulo an odd n, R = 2^64. Values live in [0, n).
class Montgomery {
 public:
  explicit Montgomery(u64 n)
      : n_(n),
        n_inv_(inverse_mod_2_64(n)),
        one_(static_cast<u64>((u128{1} << 64) % n)),
        r2_(static_cast<u64>(u128{one_} * one_ % n)) {}

  u64 n() const { return n_; }
  u64 one() const { return one_; }
  u64 to(u64 a) const { return mul(a % n_, r2_); }

  // a * b / R mod n. With m = (ab mod R) * n^-1 mod R, ab - m n is a multiple of R in (-nR, nR),
  // so its high word minus a borrow correction is the exact result.
  u64 mul(u64 a, u64 b) const {
    const u128 t = u128{a} * b;
    const u64 m = static_cast<u64>(t) * n_inv_;
    const auto mn_hi = static_cast<u64>((u128{m} * n_) >> 64);
    const auto t_hi = static_cast<u64>(t >> 64);
    return t_hi >= mn_hi ? t_hi - mn_hi : t_hi - mn_hi + n_;
  }

  u64 add(u64 a, u64 b) const {
    const u64 s = a + b;  // may wrap when n > 2^63: the comparisons below still decide it
    return (s < a || s >= n_) ? s - n_ : s;
  }

  u64 sub(u64 a, u64 b) const { return a >= b ? a - b : a - b + n_; }

  u64 pow(u64 base, u64 e) const {
    u64 r = one_;
    while (e != 0) {
      if (e & 1u) r = mul(r, base);
      base = mul(base, base);
      e >>= 1;
    }
    return r;
  }

 private:
  u64 n_;
  u64 n_inv_;  // n^-1 mod 2^64
  u64 one_;    // R mod n
  u64 r2_;     // R^2 mod n
};

// Deterministic Miller-Rabin for odd n > 37 (these 12 bases are exact below 3.3 * 10^24).
bool miller_rabin(u64 n) {
  const Montgomery m(n);
  u64 d = n - 1;
  const int s = __builtin_ctzll(d);
  d >>= s;
  const u64 minus_one = m.sub(0, m.one());
  for (const u64 a : {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37}) {
    u64 x = m.pow(m.to(a), d);
    if (x == m.one() || x == minus_one) continue;
    bool composite = true;
    for (int r = 1; r < s && composite; ++r) {
      x = m.mul(x, x);
      composite = x != minus_one;
    }
    if (composite) return false;
  }
  return true;
}

// A nontrivial factor of odd composite n (Pollard's rho, Brent's cycle finding, with the
// gcd taken once per batch of products and backtracking when a batch overshoots).
u64 pollard_brent(u64 n) {
  const Montgomery m(n);
  constexpr u64 kBatch = 128;
  for (u64 c0 = 1;; ++c0) {
    const u64 c = m.to(c0);
    const auto f = [&m, c](u64 x) { return m.add(m.mul(x, x), c); };
    u64 y = m.to(2);
    u64 x = y;
    u64 ys = y;
    u64 q = m.one();
    u64 g = 1;
    for (u64 r = 1; g == 1; r *= 2) {
      x = y;
      for (u64 i = 0; i < r; ++i) y = f(y);
      for (u64 k = 0; k < r && g == 1; k += kBatch) {
        ys = y;
        const u64 steps = std::min(kBatch, r - k);
        for (u64 i = 0; i < steps; ++i) {
          y = f(y);
          q = m.mul(q, m.sub(x, y));  // Montgomery scaling by R^-1 keeps gcd with n unchanged
        }
        g = std::gcd(q, n);
      }
    }
    if (g == n) {  // the batch passed the factor: redo it one step at a time
      do {
        ys = f(ys);
        g = std::gcd(m.sub(x, ys), n);
      } while (g == 1);
    }
    if (g != n) return g;
    // x == y mod n as well: this c cycles without splitting n; try the next one.
  }
}

// Smallest prime factor of n >= 2 that has no prime factor below kTrialBound.
u64 smallest_prime_of_rough(u64 n) {
  if (n < kTrialBound * kTrialBound || miller_rabin(n)) return n;
  const u64 d = pollard_brent(n);
  return std::min(smallest_prime_of_rough(d), smallest_prime_of_rough(n / d));
}

}  // namespace

bool is_prime(u64 n) {
  if (n < 2) return false;
  return smallest_factor(n) == 0;
}

u64 smallest_factor(u64 n) {
  if (n < 4) return 0;  // 0, 1: none; 2, 3: prime
  if (n % 2 == 0) return 2;
  for (const OddPrime& p : kOddPrimes) {
    if (p.p * p.p > n) return 0;
    if (n * p.inv <= p.max_quotient) return p.p == n ? 0 : p.p;
  }
  const u64 s = smallest_prime_of_rough(n);
  return s == n ? 0 : s;
}

}  // namespace kernels
