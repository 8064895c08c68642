// Single-core benchmark of kernels::count_primes; not part of the CMake build.
// From /work/main:
//   g++ -std=c++20 -O3 -Iapps tests/bench/primes_kernel_bench.cpp apps/kernels/primes.cpp
//       -o /tmp/primes_bench && /tmp/primes_bench 1e10
// Optional: primes_bench B [segment_bytes] [block_bytes] [small_prime_limit]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "kernels/primes.hpp"

namespace {
double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}
}  // namespace

int main(int argc, char** argv) {
  const auto b = static_cast<std::uint64_t>(argc > 1 ? std::strtod(argv[1], nullptr) : 1e10);
  kernels::SieveOptions options;
  if (argc > 2)
    options.segment_bytes = static_cast<std::uint32_t>(std::strtoul(argv[2], nullptr, 0));
  if (argc > 3) options.block_bytes = static_cast<std::uint32_t>(std::strtoul(argv[3], nullptr, 0));
  if (argc > 4) {
    options.small_prime_limit = static_cast<std::uint32_t>(std::strtoul(argv[4], nullptr, 0));
  }
  const double t0 = cpu_seconds();
  const auto wall0 = std::chrono::steady_clock::now();
  const kernels::BasePrimes base(b);
  const std::uint64_t a = argc > 5 ? static_cast<std::uint64_t>(std::strtod(argv[5], nullptr)) : 0;
  const std::uint64_t count = kernels::count_primes(base, a, b, options);
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  std::printf(
      "pi[%llu, %llu) = %llu  cpu %.3f s  wall %.3f s  (segment %u, block %u, small < %u)\n",
      static_cast<unsigned long long>(a), static_cast<unsigned long long>(b),
      static_cast<unsigned long long>(count), cpu_seconds() - t0, wall, options.segment_bytes,
      options.block_bytes, options.small_prime_limit);
  return 0;
}
