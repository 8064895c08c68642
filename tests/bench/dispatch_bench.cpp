// Dispatch benchmark: what the pool itself costs per task, per item, and while idle.
//
//   mpirun -n 2 dispatch_bench map N CHUNKSIZE   ordered map of a trivial task over [0, N)
//   mpirun -n 2 dispatch_bench submit N          N submits, a future each, then get() each
//   mpirun -n 2 dispatch_bench idle SECONDS      one long task; the other ranks wait: CPU used
//   mpirun -n K dispatch_bench burn CHUNKS MS    CPU-bound chunks of about MS ms each
//
// Prints one line of key=value pairs; tests/bench/dispatch.sh runs it beside the anchors.

#include <sys/resource.h>
#include <libpool/libpool.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

std::int64_t square(std::int64_t x) {
  return x * x;
}

std::int64_t nap(std::int64_t ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}

// About `ms` milliseconds of integer work that the compiler cannot fold away.
std::uint64_t burn(std::uint64_t seed, std::int64_t ms) {
  std::uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  const std::uint64_t steps = static_cast<std::uint64_t>(ms) * 400'000;
  for (std::uint64_t i = 0; i < steps; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
  }
  return x;
}

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  libpool::Environment env(argc, argv);
  if (argc < 3) {
    if (env.rank() == 0) std::fprintf(stderr, "usage: dispatch_bench map|submit|idle|burn ...\n");
    return 2;
  }
  const std::string mode = argv[1];
  const std::int64_t n = std::atoll(argv[2]);
  libpool::Registry registry;
  registry.add("bench.square", square).add("bench.nap", nap).add("bench.burn", burn);

  // CPU time and wall time over the pool's whole life, on every rank (workers serve inside the
  // constructor): for `idle` this is what waiting costs.
  double wall = 0;
  const double cpu0 = cpu_seconds();
  const auto life0 = std::chrono::steady_clock::now();
  {
    libpool::Options options;
    if (const char* m = std::getenv("LIBPOOL_MASTER_WORKS")) {
      options.master_works =
          std::string(m) == "0" ? libpool::MasterWorks::No : libpool::MasterWorks::Yes;
    }
    libpool::Executor pool(registry, options);
    if (pool.is_master()) {
      // Warm up: connections, buffers, the adaptive in-flight window.
      for (auto v : pool.map(square, {.chunksize = 1}, libpool::iota<std::int64_t>(0, 2000))) {
        (void)v;
      }
      std::int64_t checksum = 0, expect = 0;
      const auto t0 = std::chrono::steady_clock::now();
      if (mode == "map") {
        const std::size_t cs = static_cast<std::size_t>(argc > 3 ? std::atoll(argv[3]) : 1);
        for (auto v : pool.map(square, {.chunksize = cs}, libpool::iota<std::int64_t>(0, n))) {
          checksum += v;
        }
        for (std::int64_t i = 0; i < n; ++i) expect += i * i;
      } else if (mode == "submit") {
        // Batches keep a run's futures from filling memory; each task still has its own future.
        const std::int64_t batch = 65536;
        std::vector<libpool::Future<std::int64_t>> fs;
        fs.reserve(static_cast<std::size_t>(batch));
        for (std::int64_t b = 0; b < n; b += batch) {
          fs.clear();
          for (std::int64_t i = b; i < std::min(n, b + batch); ++i) {
            fs.push_back(pool.submit(square, i));
          }
          for (auto& f : fs) checksum += f.get();
        }
        for (std::int64_t i = 0; i < n; ++i) expect += i * i;
      } else if (mode == "idle") {
        checksum = expect = pool.submit(nap, n * 1000).get();
      } else if (mode == "burn") {
        // A future per chunk, so that each chunk's rank and times show where time went.
        const std::int64_t ms = argc > 3 ? std::atoll(argv[3]) : 10;
        std::vector<libpool::Future<std::uint64_t>> fs;
        for (std::int64_t i = 0; i < n; ++i) {
          fs.push_back(pool.submit(burn, static_cast<std::uint64_t>(i), ms));
        }
        std::vector<double> busy(static_cast<std::size_t>(pool.size()), 0.0);
        std::vector<int> count(static_cast<std::size_t>(pool.size()), 0);
        for (auto& f : fs) {
          checksum += static_cast<std::int64_t>(f.get() & 1);
          busy[static_cast<std::size_t>(f.info().rank)] += f.info().end_s - f.info().start_s;
          ++count[static_cast<std::size_t>(f.info().rank)];
        }
        expect = checksum;
        if (std::getenv("LIBPOOL_BENCH_GAPS")) {
          for (int r = 0; r < pool.size(); ++r) {
            std::vector<std::pair<double, double>> t;
            for (auto& f : fs) {
              if (f.info().rank == r) t.emplace_back(f.info().start_s, f.info().end_s);
            }
            std::sort(t.begin(), t.end());
            for (std::size_t i = 1; i < t.size(); ++i) {
              const double gap = t[i].first - t[i - 1].second;
              if (gap > 2e-4)
                std::fprintf(stderr, "rank %d gap %.2f ms before chunk at %.4f\n", r, 1e3 * gap,
                             t[i].first);
            }
            if (!t.empty())
              std::fprintf(stderr, "rank %d first start %.4f last end %.4f\n", r, t.front().first,
                           t.back().second);
          }
        }
        const double span = seconds_since(t0);
        for (std::size_t r = 0; r < busy.size(); ++r) {
          std::fprintf(stderr, "burn: rank %zu ran %d chunks, busy %.3f s of %.3f s (%.0f%%)\n", r,
                       count[r], busy[r], span, 100 * busy[r] / span);
        }
      } else {
        std::fprintf(stderr, "dispatch_bench: unknown mode %s\n", mode.c_str());
        return 2;
      }
      wall = seconds_since(t0);
      if (checksum != expect) {
        std::fprintf(stderr, "dispatch_bench: wrong checksum %lld != %lld\n",
                     static_cast<long long>(checksum), static_cast<long long>(expect));
        return 1;
      }
    }
  }
  const double life = seconds_since(life0);
  const double cpu = cpu_seconds() - cpu0;
  std::vector<double> cpus(static_cast<std::size_t>(env.size()));
  std::vector<double> lives(static_cast<std::size_t>(env.size()));
  MPI_Gather(&cpu, 1, MPI_DOUBLE, cpus.data(), 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  MPI_Gather(&life, 1, MPI_DOUBLE, lives.data(), 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  if (env.rank() != 0) return 0;
  std::printf("mode=%s n=%lld ranks=%d wall_s=%.4f rate=%.0f", mode.c_str(),
              static_cast<long long>(n), env.size(), wall, static_cast<double>(n) / wall);
  // Share of one core each rank used over the pool's life.
  for (std::size_t r = 0; r < cpus.size(); ++r) {
    std::printf(" core%zu=%.4f", r, cpus[r] / lives[r]);
  }
  std::printf("\n");
  return 0;
}
