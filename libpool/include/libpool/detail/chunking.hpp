#pragma once
// The one chunking rule of map(), map_unordered() and map_spans() (and so of every pass of a
// batch workload): how many items the next chunk takes.

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>

#include "libpool/arith.hpp"
#include "libpool/options.hpp"

namespace libpool::detail {

class ChunkRule {
 public:
  // chunksize: the caller's, 0 for auto; total: the items, when known; workers: the ranks that
  // run tasks; [min_chunk, max_chunk]: the bounds of the automatic size and of guided chunks;
  // granule: sizes are rounded up to a multiple of it.
  //   auto, dynamic: about total / (4 x workers), within the bounds (min_chunk when the total
  //                  is not known);
  //   guided:        remaining / (2 x workers) (at most max_chunk), never below the chunk size
  //                  (the caller's, or min_chunk).
  ChunkRule(std::uint64_t chunksize, Schedule schedule, std::optional<std::uint64_t> total,
            std::uint64_t workers, std::uint64_t min_chunk = 1,
            std::uint64_t max_chunk = std::numeric_limits<std::uint64_t>::max(),
            std::uint64_t granule = 1) noexcept
      : guided_(schedule == Schedule::Guided),
        workers_(std::max<std::uint64_t>(1, workers)),
        min_(std::max<std::uint64_t>(1, min_chunk)),
        max_(std::max(min_, max_chunk)),
        granule_(std::max<std::uint64_t>(1, granule)) {
    if (chunksize != 0)
      fixed_ = chunksize;
    else if (total && !guided_)
      fixed_ = std::clamp<std::uint64_t>(ceil_div(*total, 4 * workers_), min_, max_);
    else
      fixed_ = min_;
    fixed_ = round_to_granule(fixed_);
  }

  // The chunk size: every dynamic chunk's (but the last), the least of the guided ones.
  std::uint64_t fixed() const noexcept { return fixed_; }
  std::uint64_t granule() const noexcept { return granule_; }

  // The size of the next chunk, `remaining` items being left (nullopt: not known).
  std::uint64_t next(std::optional<std::uint64_t> remaining) const noexcept {
    if (!guided_ || !remaining) return fixed_;
    return std::max(fixed_, round_to_granule(std::min(ceil_div(*remaining, 2 * workers_), max_)));
  }

  // n rounded up to a multiple of the granule (down where that would pass 2^64).
  std::uint64_t round_to_granule(std::uint64_t n) const noexcept {
    if (granule_ <= 1) return n;
    const std::uint64_t r = n % granule_;
    if (r == 0) return n;
    return n - r <= std::numeric_limits<std::uint64_t>::max() - granule_ ? n - r + granule_ : n - r;
  }

 private:
  bool guided_;
  std::uint64_t workers_;
  std::uint64_t min_;
  std::uint64_t max_;
  std::uint64_t granule_;
  std::uint64_t fixed_ = 1;
};

}  // namespace libpool::detail
