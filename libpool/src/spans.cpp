// Cutting an index space into chunks for map_spans().
#include "libpool/spans.hpp"

#include <algorithm>

#include "libpool/arith.hpp"

namespace libpool::detail {

SpanCutter::SpanCutter(Span whole, const SpanOptions& opt, std::size_t workers)
    : base_(whole.begin) {
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

  rule_.emplace(opt.chunksize, opt.schedule, total_, workers, opt.min_chunk, opt.max_chunk,
                opt.granule);
}

Span SpanCutter::next() {
  if (todo_.empty()) return {};
  Span& front = todo_.front();
  std::uint64_t n = std::min(rule_->next(remaining_), front.size());
  const std::uint64_t granule = rule_->granule();
  if (granule > 1 && n < front.size()) {
    // Chunks end on whole granules of the index space, so a piece that starts off the grid
    // (after a break or a skipped span) gets back onto it.
    const std::uint64_t off = (front.begin + n - base_) % granule;
    if (off != 0) n = n > off ? n - off : std::min(n + (granule - off), front.size());
  }
  const Span s{front.begin, front.begin + n};
  front.begin += n;
  remaining_ -= n;
  if (front.empty()) todo_.pop_front();
  return s;
}

}  // namespace libpool::detail
