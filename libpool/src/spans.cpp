// Cutting an index space into chunks for map_spans().
#include "libpool/spans.hpp"

#include <algorithm>

#include "libpool/arith.hpp"

namespace libpool::detail {

SpanCutter::SpanCutter(Span whole, const SpanOptions& opt, std::size_t workers)
    : base_(whole.begin),
      granule_(std::max<std::uint64_t>(1, opt.granule)),
      guided_(opt.schedule == Schedule::Guided),
      workers_(std::max<std::uint64_t>(1, workers)) {
  // The index space minus the skipped spans...
  std::vector<Span> skip;
  for (const Span& s : opt.skip) {
    if (!s.empty()) skip.push_back(s);
  }
  std::sort(skip.begin(), skip.end(),
            [](const Span& a, const Span& b) { return a.begin < b.begin; });
  std::vector<Span> todo;
  std::uint64_t at = whole.begin;
  for (const Span& s : skip) {
    if (s.begin > at) todo.push_back({at, std::min(s.begin, whole.end)});
    at = std::max(at, s.end);
    if (at >= whole.end) break;
  }
  if (at < whole.end) todo.push_back({at, whole.end});
  // ... split at every break.
  std::vector<std::uint64_t> breaks = opt.breaks;
  std::sort(breaks.begin(), breaks.end());
  auto b = breaks.begin();
  for (Span s : todo) {
    if (s.empty()) continue;
    b = std::upper_bound(breaks.begin(), breaks.end(), s.begin);
    for (; b != breaks.end() && *b < s.end; ++b) {
      todo_.push_back({s.begin, *b});
      s.begin = *b;
    }
    todo_.push_back(s);
  }
  for (const Span& s : todo_) total_ += s.size();
  remaining_ = total_;

  max_ = std::max<std::uint64_t>(1, opt.max_chunk);
  if (opt.chunksize != 0) {
    fixed_ = opt.chunksize;
  } else if (guided_) {
    fixed_ = std::max<std::uint64_t>(1, opt.min_chunk);
  } else {
    fixed_ = std::clamp<std::uint64_t>(ceil_div(total_, 4 * workers_),
                                       std::max<std::uint64_t>(1, opt.min_chunk), max_);
  }
  fixed_ = round_to_granule(fixed_);
}

std::uint64_t SpanCutter::round_to_granule(std::uint64_t n) const noexcept {
  if (granule_ <= 1) return n;
  const std::uint64_t r = n % granule_;
  if (r == 0) return n;
  return n - r <= UINT64_MAX - granule_ ? n - r + granule_ : n - r;
}

Span SpanCutter::next() {
  if (todo_.empty()) return {};
  Span& front = todo_.front();
  std::uint64_t n = fixed_;
  if (guided_)
    n = std::max(n, round_to_granule(std::min(ceil_div(remaining_, 2 * workers_), max_)));
  n = std::min(n, front.size());
  if (granule_ > 1 && n < front.size()) {
    // Chunks end on whole granules of the index space, so a piece that starts off the grid
    // (after a break or a skipped span) gets back onto it.
    const std::uint64_t off = (front.begin + n - base_) % granule_;
    if (off != 0) n = n > off ? n - off : std::min(n + (granule_ - off), front.size());
  }
  const Span s{front.begin, front.begin + n};
  front.begin += n;
  remaining_ -= n;
  if (front.empty()) todo_.pop_front();
  return s;
}

}  // namespace libpool::detail
