#pragma once
// map_spans(): the chunk-level interface, for applications that keep their own books per chunk
// (a ledger, a checkpoint, a progress display).
//
//   std::uint64_t count(std::uint64_t seed, std::uint64_t begin, std::uint64_t end);
//   registry.add("count", count);
//   auto chunks = pool.map_spans(count, libpool::Span{0, n}, {.chunksize = 1 << 20, .skip = done},
//                                seed);
//   while (auto* c = chunks.next(std::chrono::milliseconds(200))) {   // completion order
//     if (c->error) { record_failure(*c); chunks.stop(); continue; }
//     record(c->span, c->value(), c->info);
//   }                                                                 // nullptr: timeout or end
//   ... chunks.finished() is true once every chunk was yielded
//
// The task is fn(fixed..., begin, end): the fixed arguments are encoded once, and each chunk adds
// its half-open span [begin, end) of the index space. The library cuts the index space (minus
// the spans to skip, never across a break) into chunks, keeps at most `buffersize` of them
// submitted ahead of the consumer, and yields each chunk once it is done, failed or not.
// stop() cancels the chunks no worker has started; those already running are still yielded.

#include <algorithm>
#include <cstdint>
#include <deque>
#include <limits>
#include <memory>
#include <optional>
#include <vector>

#include "libpool/detail/chunking.hpp"
#include "libpool/executor.hpp"

namespace libpool {

// A half-open range [begin, end) of an index space.
struct Span {
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
  std::uint64_t size() const noexcept { return end > begin ? end - begin : 0; }
  bool empty() const noexcept { return end <= begin; }
  friend bool operator==(const Span&, const Span&) = default;
};

struct SpanOptions {
  // Items per chunk; 0 = auto: about remaining / (4 * workers), within [min_chunk, max_chunk].
  std::uint64_t chunksize = 0;
  std::uint64_t min_chunk = 1;
  std::uint64_t max_chunk = std::numeric_limits<std::uint64_t>::max();
  // Chunks end on multiples of this many items from the start of the index space (whole HDF5
  // chunks of a dataset, say), except where the index space or a skipped span ends, or at a
  // break; the chunk size is rounded up to a multiple of it.
  std::uint64_t granule = 1;
  // Guided: chunks of remaining / (2 * workers) (at most max_chunk), never below the chunk size.
  Schedule schedule = Schedule::Dynamic;
  // Chunks submitted ahead of the consumer; 0 = auto (what the workers can hold, twice).
  std::size_t buffersize = 0;
  // Spans already done (any order, may overlap): no chunk covers any of their items.
  std::vector<Span> skip = {};
  // Positions a chunk never straddles (a chunk ends at each break inside the index space).
  std::vector<std::uint64_t> breaks = {};
};

// One completed chunk, as map_spans() yields it.
template <class R>
struct SpanChunk {
  Span span;
  std::uint64_t index = 0;   // chunks are numbered in the order they were cut
  TaskInfo info;             // rank and times; rank -1 if it never ran
  std::exception_ptr error;  // what the task (or the decoding of its result) threw

  // The chunk's result; rethrows its error.
  const R& value() const {
    if (error) std::rethrow_exception(error);
    return *state->value;
  }
  R& value() {
    if (error) std::rethrow_exception(error);
    return *state->value;
  }

  std::shared_ptr<detail::ResultState<R>> state;
};

namespace detail {

// Cuts an index space, minus skipped spans and split at breaks, into chunks.
class SpanCutter {
 public:
  SpanCutter(Span whole, const SpanOptions& opt, std::size_t workers);
  // The next chunk, or an empty span at the end.
  Span next();
  // Items not yet handed out.
  std::uint64_t remaining() const noexcept { return remaining_; }
  // Items to compute in all (the index space minus the skipped spans).
  std::uint64_t total() const noexcept { return total_; }
  // The fixed chunk size (dynamic), or the smallest one (guided).
  std::uint64_t chunk_size() const noexcept { return rule_->fixed(); }
  void stop() noexcept {
    todo_.clear();
    remaining_ = 0;
  }

 private:
  std::deque<Span> todo_;  // sorted, disjoint, non-empty
  std::uint64_t total_ = 0;
  std::uint64_t remaining_ = 0;
  std::uint64_t base_ = 0;  // granules are counted from the start of the index space
  std::optional<ChunkRule> rule_;
};

}  // namespace detail

// The chunks of a map_spans(), in completion order. Destroying it cancels what is still queued.
template <class R>
class SpanMap {
 public:
  SpanMap(detail::MapContext ctx, Span whole, const SpanOptions& opt, Writer fixed)
      : ctx_(ctx),
        cutter_(whole, opt, ctx.workers),
        fixed_(std::move(fixed)),
        ready_(std::make_shared<Ready>()) {
    buffersize_ = opt.buffersize ? opt.buffersize : ctx.auto_buffersize();
    fill();
  }
  SpanMap(SpanMap&&) noexcept = default;
  SpanMap(const SpanMap&) = delete;
  SpanMap& operator=(const SpanMap&) = delete;
  ~SpanMap() {
    if (!ctx_.master) return;
    for (auto& s : live_) {
      if (s->state == detail::WorkState::Pending) ctx_.master->cancel(*s);
    }
  }

  // The next completed chunk, waiting up to timeout (driving the pool meanwhile); nullptr on
  // timeout or once every chunk has been yielded (then finished() is true). The chunk stays
  // valid until the next call.
  SpanChunk<R>* next(Seconds timeout = kForever) {
    current_ = SpanChunk<R>{};
    while (true) {
      fill();
      if (live_.empty() && cutter_.remaining() == 0) {
        finished_ = true;
        return nullptr;
      }
      if (ready_->empty()) {
        ctx_.master->progress_until([&] { return !ready_->empty(); },
                                    detail::deadline_after(timeout));
        if (ready_->empty()) {
          if (timeout == kForever) throw Error("pool stopped before map_spans finished");
          return nullptr;
        }
      }
      auto s = std::move(ready_->front());
      ready_->pop_front();
      live_.erase(std::find(live_.begin(), live_.end(), s));
      if (s->state == detail::WorkState::Cancelled) continue;
      ++yielded_;
      items_done_ += s->item_count;
      current_.span = Span{s->item_begin, s->item_begin + s->item_count};
      current_.index = s->chunk;
      current_.info = s->info;
      current_.error = s->error;
      current_.state = std::move(s);
      return &current_;
    }
  }

  // No new chunks; queued ones are cancelled, running ones are still yielded by next().
  void stop() {
    cutter_.stop();
    for (auto& s : live_) {
      if (s->state == detail::WorkState::Pending) ctx_.master->cancel(*s);
    }
  }

  bool finished() const noexcept { return finished_; }
  // Items to compute in all (the index space minus the skipped spans), and yielded so far.
  std::uint64_t items_total() const noexcept { return cutter_.total(); }
  std::uint64_t items_done() const noexcept { return items_done_; }
  // Chunks yielded so far.
  std::uint64_t chunks_done() const noexcept { return yielded_; }
  // The chunk size in use (dynamic), or the smallest chunk (guided).
  std::uint64_t chunk_size() const noexcept { return cutter_.chunk_size(); }

  // Range-for over the chunks (waits as long as it takes).
  class iterator {
   public:
    using value_type = SpanChunk<R>;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    explicit iterator(SpanMap* m) : m_(m), c_(m->next()) {}
    SpanChunk<R>& operator*() const { return *c_; }
    SpanChunk<R>* operator->() const { return c_; }
    iterator& operator++() {
      c_ = m_->next();
      return *this;
    }
    void operator++(int) { ++*this; }
    bool operator==(std::default_sentinel_t) const { return c_ == nullptr; }

   private:
    SpanMap* m_ = nullptr;
    SpanChunk<R>* c_ = nullptr;
  };
  iterator begin() { return iterator(this); }
  std::default_sentinel_t end() const { return {}; }

 private:
  using State = detail::ResultState<R>;
  using Ready = std::deque<std::shared_ptr<State>>;

  void fill() {
    while (live_.size() < buffersize_) {
      const Span s = cutter_.next();
      if (s.empty()) return;
      auto st = std::make_shared<State>();
      st->task_hash = ctx_.task_hash;
      st->message.reserve(sizeof(detail::TaskHeader) + fixed_.size() + 2 * sizeof(std::uint64_t));
      detail::reserve_task_header(st->message);
      st->message.write_bytes(fixed_.data(), fixed_.size());
      st->message.put(s.begin);
      st->message.put(s.end);
      st->item_begin = s.begin;
      st->item_count = s.size();
      // The callback holds the queue weakly: a result that outlives its map is dropped.
      st->add_callback([queue = std::weak_ptr<Ready>(ready_), w = std::weak_ptr<State>(st)] {
        if (auto q = queue.lock()) {
          if (auto p = w.lock()) q->push_back(std::move(p));
        }
      });
      live_.push_back(st);
      ctx_.master->enqueue(st, detail::TaskKind::Call);
      st->chunk = chunks_made_++;
    }
  }

  detail::MapContext ctx_;
  detail::SpanCutter cutter_;
  Writer fixed_;
  std::shared_ptr<Ready> ready_;
  std::vector<std::shared_ptr<State>> live_;  // submitted, not yet yielded
  std::size_t buffersize_ = 0;
  std::uint64_t chunks_made_ = 0;
  std::uint64_t yielded_ = 0;
  std::uint64_t items_done_ = 0;
  bool finished_ = false;
  SpanChunk<R> current_;
};

template <class R, class... A, class... Fixed>
SpanMap<R> Executor::map_spans(R (*fn)(A...), Span whole, SpanOptions opt, Fixed&&... fixed) {
  static_assert(!std::is_void_v<R>, "map_spans: the task must return a value");
  static_assert(sizeof...(A) == sizeof...(Fixed) + 2,
                "map_spans: the task takes the fixed arguments, then (begin, end)");
  using Params = std::tuple<std::decay_t<A>...>;
  static_assert(std::is_integral_v<std::tuple_element_t<sizeof...(A) - 2, Params>> &&
                    std::is_integral_v<std::tuple_element_t<sizeof...(A) - 1, Params>>,
                "map_spans: the task's last two parameters are the span (begin, end)");
  static_assert(sizeof(std::tuple_element_t<sizeof...(A) - 2, Params>) == 8 &&
                    sizeof(std::tuple_element_t<sizeof...(A) - 1, Params>) == 8,
                "map_spans: begin and end are 64-bit integers");
  detail::MapContext ctx = map_context(fn);
  Writer w;
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (detail::put_as<std::tuple_element_t<I, Params>>(w, std::forward<Fixed>(fixed)), ...);
  }
  (std::index_sequence_for<Fixed...>{});
  return SpanMap<R>(ctx, whole, opt, std::move(w));
}

}  // namespace libpool
