// collatz: the distribution of Collatz stopping times over a range of integers - a workload of
// its own, written on libpool's workload API in one file.
//
// For every n in [A, B) it counts the steps n -> n/2 (even) or 3n+1 (odd) take to reach 1, and
// writes the histogram of those counts, the longest one, and the first n that takes it. Run it as
//
//   mpirun -n 4 collatz --range 1:100_000_000 -o collatz.h5
//
// and it gets everything poolrun's built-in workloads have: --resume after a crash or a time
// limit, the ledger, the lock, progress, provenance, poolreport, the Slurm script.
#include <libpool/batch.hpp>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

// A chunk's partial: any type libpool's codec carries. The histogram's length is known only when
// the chunk is done (the longest count in it), so partials differ in size from chunk to chunk.
struct Tally {
  std::vector<std::uint64_t> counts;  // counts[s]: how many n take s steps
  std::uint64_t argmax = 0;           // the first n of the span with the most steps
  auto libpool_fields() { return std::tie(counts, argmax); }
  auto libpool_fields() const { return std::tie(counts, argmax); }
};

std::uint64_t steps(std::uint64_t n) {
  std::uint64_t s = 0;
  while (n != 1) {
    if (n % 2 == 0) {
      n /= 2;
    } else if (n > (UINT64_MAX - 1) / 3) {
      throw std::overflow_error("the trajectory leaves 64 bits");
    } else {
      n = 3 * n + 1;
    }
    ++s;
  }
  return s;
}

// The task: runs on any rank, for the half-open span [begin, end) of the range.
Tally tally(std::uint64_t begin, std::uint64_t end) {
  Tally t;
  std::uint64_t best = 0;
  for (std::uint64_t n = begin; n < end; ++n) {
    const std::uint64_t s = steps(n);
    if (s >= t.counts.size()) t.counts.resize(s + 1, 0);
    ++t.counts[s];
    if (s > best || n == begin) {
      best = s;
      t.argmax = n;
    }
  }
  return t;
}

class Collatz final : public libpool::batch::Workload {
 public:
  std::string name() const override { return "collatz"; }
  std::string description() const override {
    return "the distribution of Collatz stopping times of every n in [A, B)";
  }
  void options(libpool::batch::Options& o) override {
    o.add("--range", range_, "The integers n, A:B (half open)").required();
  }
  void check() const override {
    if (range_.begin == 0) throw libpool::batch::UsageError("--range: n starts at 1");
    if (range_.empty()) throw libpool::batch::UsageError("--range: the range is empty");
  }
  void tasks(libpool::Registry& registry) const override { registry.add("collatz.tally", tally); }

  void run(libpool::batch::Run& run) override {
    // Partials arrive in span order (earlier attempts' included), so "the first n" is the same
    // whatever the ranks, chunks or interruptions.
    Tally all;
    std::uint64_t most = 0;
    const bool done = run.ordered(
        {.name = "numbers", .space = range_, .unit = "numbers", .min_chunk = 10'000},
        [&](const libpool::Span&, Tally& t) {
          if (t.counts.size() > all.counts.size()) all.counts.resize(t.counts.size(), 0);
          for (std::size_t s = 0; s < t.counts.size(); ++s) all.counts[s] += t.counts[s];
          if (t.counts.size() - 1 > most || all.argmax == 0) {
            most = t.counts.size() - 1;
            all.argmax = t.argmax;
          }
        },
        tally);
    if (!done) return;  // failed or interrupted: the library records it
    auto& result = run.result();
    result.values("counts", all.counts);
    result.scalar("max_steps", most);
    result.scalar("argmax", all.argmax);
    result.attr("range", std::to_string(range_.begin) + ":" + std::to_string(range_.end));
    run.summary("collatz: the longest in [" + std::to_string(range_.begin) + ", " +
                std::to_string(range_.end) + ") is " + std::to_string(all.argmax) + ", " +
                std::to_string(most) + " steps");
  }

 private:
  libpool::Span range_;
};

}  // namespace

int main(int argc, char** argv) {
  return libpool::batch::main<Collatz>(argc, argv);
}
