// The tutorial's first program, compute_heavy(n) = sum(i * i for i in range(n)) for
// n in [10M, 20M, 30M, 40M], on every rank of the pool. Each n is cut into chunks so all ranks
// share the work; partial sums are exact (128-bit) and added in chunk order.

#include <libpool/libpool.hpp>

#include <chrono>
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

namespace {

__extension__ typedef unsigned __int128 u128;  // __extension__: GCC's 128-bit type under -Wpedantic

u128 sum_squares(std::uint64_t begin, std::uint64_t end) {
  u128 s = 0;
  for (std::uint64_t i = begin; i < end; ++i) s += static_cast<u128>(i) * i;
  return s;
}

std::string to_decimal(u128 v) {
  if (v == 0) return "0";
  std::string s;
  while (v != 0) {
    s.insert(s.begin(), static_cast<char>('0' + static_cast<int>(v % 10)));
    v /= 10;
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    libpool::Environment env(argc, argv);
    libpool::Registry registry;
    registry.add("demo.sum_squares", sum_squares);
    libpool::Executor pool(registry);
    if (!pool.is_master()) return 0;

    const std::vector<std::uint64_t> numbers = {10'000'000, 20'000'000, 30'000'000, 40'000'000};
    const std::uint64_t piece = 1'000'000;
    std::vector<std::uint64_t> begins, ends;
    for (auto n : numbers) {
      for (std::uint64_t b = 0; b < n; b += piece) {
        begins.push_back(b);
        ends.push_back(std::min(n, b + piece));
      }
    }
    const auto t0 = std::chrono::steady_clock::now();
    auto partials = pool.map(sum_squares, {.chunksize = 1}, begins, ends).to_vector();
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    std::size_t k = 0;
    std::cout << "compute_heavy on " << pool.size() << " rank(s), " << pool.workers()
              << " computing:\n";
    for (auto n : numbers) {
      u128 total = 0;
      for (std::uint64_t b = 0; b < n; b += piece) total += partials[k++];
      std::cout << "  n=" << n << "  sum(i*i for i < n) = " << to_decimal(total) << "\n";
    }
    std::cout << "  " << partials.size() << " chunks in " << dt << " s\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "seed_demo: " << e.what() << "\n";
    return 1;
  }
}
