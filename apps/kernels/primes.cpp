#include "kernels/primes.hpp"

#include <algorithm>
#include <cmath>
#include <mutex>
#include <primesieve.hpp>
#include <stdexcept>
#include <string>

namespace kernels {

std::uint64_t count_primes(std::uint64_t a, std::uint64_t b) {
  if (b < a) throw std::invalid_argument("count_primes: b < a");
  if (b > kMaxPrimesUpperBound)
    throw std::invalid_argument("count_primes: b above " + std::to_string(kMaxPrimesUpperBound));
  // libprimesieve counts on every core by default; each rank is one of the pool's workers.
  static std::once_flag one_thread;
  std::call_once(one_thread, [] { primesieve::set_num_threads(1); });
  // primesieve counts the closed interval [a, b - 1].
  return a == b ? 0 : primesieve::count_primes(a, b - 1);
}

std::uint64_t suggested_chunk_size(std::uint64_t a, std::uint64_t b, std::uint64_t workers) {
  if (b < a) throw std::invalid_argument("suggested_chunk_size: b < a");
  const std::uint64_t len = b - a;
  const auto root = static_cast<std::uint64_t>(std::sqrt(static_cast<double>(b)));
  const std::uint64_t lo = std::max<std::uint64_t>(10'000'000, 64 * root);
  const std::uint64_t hi = std::max<std::uint64_t>(lo, 10'000'000'000);
  const std::uint64_t even = len / (4 * std::max<std::uint64_t>(1, workers));
  return std::max<std::uint64_t>(1, std::min(std::clamp(even, lo, hi), len));
}

}  // namespace kernels
