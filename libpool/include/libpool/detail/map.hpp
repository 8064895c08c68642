#pragma once
// The machinery behind map() and map_unordered(): chunk sources that encode a map's inputs, the
// per-chunk result state, and MapDriver (chunking and read-ahead), shared by both result types
// in executor.hpp. map_spans() (spans.hpp) uses MapContext and put_as.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <memory>
#include <optional>
#include <ranges>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "libpool/arith.hpp"
#include "libpool/codec.hpp"
#include "libpool/detail/chunking.hpp"
#include "libpool/detail/protocol.hpp"
#include "libpool/errors.hpp"
#include "libpool/future.hpp"
#include "libpool/options.hpp"

namespace libpool::detail {

// An allocator whose resize() leaves trivially copyable elements uninitialised: chunk results
// are overwritten by memcpy right away, and zeroing them first costs as much as the copy.
template <class T>
struct DefaultInitAllocator : std::allocator<T> {
  template <class U>
  struct rebind {
    using other = DefaultInitAllocator<U>;
  };
  DefaultInitAllocator() = default;
  template <class U>
  DefaultInitAllocator(const DefaultInitAllocator<U>&) noexcept {}
  template <class U>
  void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>) {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

template <class R>
struct ChunkState : WorkBase {
  void decode_result(Reader& r) override {
    const auto n = r.get<std::uint64_t>();
    if (n != item_count) {
      throw CodecError("chunk result holds " + std::to_string(n) + " items, expected " +
                       std::to_string(item_count));
    }
    if constexpr (BitwiseCodec<R>) {
      values.resize(n);
      r.read_bytes(values.data(), n * sizeof(R));
    } else {
      values.reserve(n);
      for (std::uint64_t i = 0; i < n; ++i) values.push_back(r.get<R>());
    }
    r.expect_end();
  }
  std::vector<R, std::conditional_t<BitwiseCodec<R>, DefaultInitAllocator<R>, std::allocator<R>>>
      values;
};

// Produces the payload of the next chunk from the map's inputs.
class ChunkSource {
 public:
  virtual ~ChunkSource() = default;
  // Encodes up to max items into w; returns how many it encoded (0 once the inputs are done).
  virtual std::uint64_t next(Writer& w, std::uint64_t max) = 0;
  // Items not yet encoded, when the inputs know their size.
  virtual std::optional<std::uint64_t> remaining() const = 0;
};

template <class V>
struct IsIota : std::false_type {};
template <class W, class B>
struct IsIota<std::ranges::iota_view<W, B>> : std::bool_constant<std::is_integral_v<W>> {};

template <class P, class X>
void put_as(Writer& w, X&& x) {
  if constexpr (std::is_same_v<std::remove_cvref_t<X>, P>) {
    w.put(static_cast<const P&>(x));
  } else {
    w.put(static_cast<P>(std::forward<X>(x)));
  }
}

// An item of a map's input that could not be converted or encoded. The chunk holding it fails
// with `error`, as submit() stores such an error in its future; an exception thrown by the input
// range itself (reading or advancing it) is not wrapped and leaves the map at once.
struct ItemEncodeFailure {
  std::exception_ptr error;
};

template <class P, class X>
void put_item(Writer& w, X&& x) {
  try {
    put_as<P>(w, std::forward<X>(x));
  } catch (...) {
    throw ItemEncodeFailure{std::current_exception()};
  }
}

// One integer argument from an iota view: a chunk is (first, count), nothing per item.
template <class View>
class IotaSource final : public ChunkSource {
 public:
  explicit IotaSource(View v) : next_(*v.begin()), left_(static_cast<std::uint64_t>(v.size())) {}
  std::uint64_t next(Writer& w, std::uint64_t max) override {
    const std::uint64_t n = std::min(max, left_);
    write_chunk_head(w, ChunkMode::Iota, n);
    w.put(static_cast<std::uint64_t>(next_));
    next_ = static_cast<Value>(static_cast<std::uint64_t>(next_) + n);
    left_ -= n;
    return n;
  }
  std::optional<std::uint64_t> remaining() const override { return left_; }

 private:
  using Value = std::ranges::range_value_t<View>;
  Value next_;
  std::uint64_t left_;
};

// Any input ranges, zipped (stops at the shortest, as Python's map does).
template <class Params, class... Views>
class ZipSource;
template <class... P, class... Views>
class ZipSource<std::tuple<P...>, Views...> final : public ChunkSource {
 public:
  explicit ZipSource(Views... vs)
      : views_(std::move(vs)...),
        its_(std::apply([](auto&... v) { return std::tuple(std::ranges::begin(v)...); }, views_)) {
    if constexpr ((std::ranges::sized_range<Views> && ...)) {
      left_ = std::apply(
          [](auto&... v) {
            return std::min({static_cast<std::uint64_t>(std::ranges::size(v))...});
          },
          views_);
    }
  }
  std::uint64_t next(Writer& w, std::uint64_t max) override {
    write_chunk_head(w, ChunkMode::Zip, 0);
    const std::size_t count_at = chunk_count_offset(w);
    std::uint64_t n = 0;
    for (; n < max && !at_end(); ++n) {
      [&]<std::size_t... I>(std::index_sequence<I...>) {
        (put_item<P>(w, *std::get<I>(its_)), ...);
        (++std::get<I>(its_), ...);
      }
      (std::index_sequence_for<Views...>{});
    }
    patch_chunk_count(w, count_at, n);
    if (left_) *left_ -= n;
    return n;
  }
  std::optional<std::uint64_t> remaining() const override { return left_; }

 private:
  bool at_end() {  // not const: some views (filter) only have non-const end()
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
      return ((std::get<I>(its_) == std::ranges::end(std::get<I>(views_))) || ...);
    }
    (std::index_sequence_for<Views...>{});
  }
  std::tuple<Views...> views_;
  std::tuple<std::ranges::iterator_t<Views>...> its_;
  std::optional<std::uint64_t> left_;
};

// What a map needs from the executor, kept out of the template code.
struct MapContext {
  MasterCore* master = nullptr;
  std::uint64_t task_hash = 0;
  std::size_t workers = 1;  // ranks that run tasks
  std::size_t window = 2;   // tasks one worker holds at once

  // Chunks submitted ahead of the consumer when the caller leaves it to the pool: what the
  // workers can hold, twice.
  std::size_t auto_buffersize() const noexcept { return 2 * workers * window + 2; }
};

// Chunking and buffering shared by the ordered and unordered maps.
template <class R>
class MapDriver {
 public:
  MapDriver(MapContext ctx, std::unique_ptr<ChunkSource> src, MapOptions opt)
      : ctx_(ctx),
        src_(std::move(src)),
        opt_(opt),
        rule_(opt.chunksize, opt.schedule, src_->remaining(), ctx.workers, 1, max_auto_chunk()),
        deadline_(deadline_after(opt.timeout)) {
    buffersize_ = opt.buffersize ? opt.buffersize : ctx.auto_buffersize();
  }
  MapDriver(const MapDriver&) = delete;
  MapDriver& operator=(const MapDriver&) = delete;
  // Items handed to the pool so far (the rest of the input has not been read yet).
  std::uint64_t items_submitted() const noexcept { return items_made_; }
  virtual ~MapDriver() {
    // Nobody will read what is still queued: cancel it (work already running just completes).
    cancel_queued();
  }

 protected:
  // Reads no more input and cancels the chunks no worker has started: the map has ended (a
  // failure or a timeout), as Python's map cancels its futures when its iterator raises.
  void cancel_queued() {
    exhausted_ = true;
    for (auto& c : live_) {
      if (c->state == WorkState::Pending) ctx_.master->cancel(*c);
    }
  }
  Clock::time_point deadline() const noexcept { return deadline_; }
  // Before waiting for a result: true once the timeout has run out. The first wait always
  // takes a step, since on one rank that is what runs a task.
  bool out_of_time() {
    if (!waited_) {
      waited_ = true;
      return false;
    }
    return deadline_ != Clock::time_point::max() && Clock::now() >= deadline_;
  }
  [[noreturn]] void timed_out() {
    cancel_queued();
    throw TimeoutError();
  }

  // Submits chunks until buffersize are outstanding or the inputs run out.
  void fill() {
    while (!exhausted_ && outstanding() < buffersize_) {
      auto c = std::make_shared<ChunkState<R>>();
      if (!spare_.empty()) {  // reuse a consumed chunk's storage: no fresh pages to fault in
        c->values = std::move(spare_.back());
        spare_.pop_back();
      }
      reserve_task_header(c->message);
      std::uint64_t n = 0;
      std::exception_ptr unencodable;
      try {
        n = src_->next(c->message, chunk_size());
      } catch (ItemEncodeFailure& e) {
        unencodable = std::move(e.error);
      }
      if (n == 0 && !unencodable) {
        exhausted_ = true;
        break;
      }
      c->task_hash = ctx_.task_hash;
      c->chunk = chunks_made_++;
      c->item_begin = items_made_;
      c->item_count = n;
      items_made_ += n;
      on_new_chunk(c);
      if (unencodable) {
        // The chunk fails on the master, never sent; the map raises its error when iteration
        // reaches it. The input stopped in the middle of an item: nothing after it is read.
        exhausted_ = true;
        c->message = Writer();
        live_.push_back(c);
        ctx_.master->fail(c, std::move(unencodable));
        break;
      }
      ctx_.master->enqueue(c, TaskKind::Chunk);
      live_.push_back(std::move(c));
    }
  }
  virtual std::size_t outstanding() const = 0;
  virtual void on_new_chunk(const std::shared_ptr<ChunkState<R>>&) {}
  void forget(const std::shared_ptr<ChunkState<R>>& c) {
    live_.erase(std::find(live_.begin(), live_.end(), c));
    if (spare_.size() < 4) {
      spare_.push_back(std::move(c->values));
      spare_.back().clear();
    }
  }
  bool exhausted() const { return exhausted_; }
  MasterCore& master() { return *ctx_.master; }

 private:
  static constexpr std::uint64_t max_auto_chunk() {
    // Keep one chunk's results near 1 MiB so memory stays bounded for huge maps.
    return std::max<std::uint64_t>(1, (std::uint64_t{1} << 20) / sizeof(R));
  }
  std::uint64_t chunk_size() const { return rule_.next(src_->remaining()); }

  MapContext ctx_;
  std::unique_ptr<ChunkSource> src_;
  MapOptions opt_;
  ChunkRule rule_;
  Clock::time_point deadline_;
  bool waited_ = false;
  std::size_t buffersize_ = 0;
  std::uint64_t chunks_made_ = 0;
  std::uint64_t items_made_ = 0;
  bool exhausted_ = false;
  std::vector<std::shared_ptr<ChunkState<R>>> live_;
  std::vector<decltype(ChunkState<R>::values)> spare_;
};

// Input iterator over a map's results: a pointer walk inside the current chunk, and
// Owner::next_chunk() (out of line) to step to the next chunk.
template <class Owner, class R>
class ResultIterator {
 public:
  using value_type = R;
  using difference_type = std::ptrdiff_t;
  ResultIterator() = default;
  explicit ResultIterator(Owner* m) : m_(m->next_chunk() ? m : nullptr) {}
  const R& operator*() const { return *m_->cur_; }
  const R* operator->() const { return m_->cur_; }
  ResultIterator& operator++() {
    if (++m_->cur_ == m_->end_ && !m_->next_chunk()) m_ = nullptr;
    return *this;
  }
  void operator++(int) { ++*this; }
  bool operator==(std::default_sentinel_t) const { return m_ == nullptr; }

 private:
  Owner* m_ = nullptr;
};

// begin()/end()/to_vector() for both kinds of map result.
template <class Owner, class R>
class ResultRange {
 public:
  using iterator = ResultIterator<Owner, R>;
  iterator begin() { return iterator(static_cast<Owner*>(this)); }
  std::default_sentinel_t end() const { return {}; }
  // All (remaining) results in a vector.
  std::vector<R> to_vector() {
    std::vector<R> out;
    for (const auto& v : *this) out.push_back(v);
    return out;
  }
};

}  // namespace libpool::detail
