#pragma once
// Executor: the MPI counterpart of concurrent.futures.ProcessPoolExecutor.
//
//   libpool::Environment env(argc, argv);
//   libpool::Registry registry;
//   registry.add("square", square);
//   libpool::Executor pool(registry);           // collective over the communicator
//   if (pool.is_master()) {                     // workers served inside the constructor
//     auto f = pool.submit(square, 7);          // Future<long>
//     for (long v : pool.map(square, libpool::iota(0, 1'000'000), {.chunksize = 1000})) ...
//   }                                           // destructor: drain, stop the workers
//
// On worker ranks the constructor runs the worker loop until the master shuts the pool down, then
// returns; is_master() is false there. On one rank tasks run inline on the master, so every
// program also works without mpirun.

#include <mpi.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <iterator>
#include <memory>
#include <optional>
#include <ranges>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "libpool/codec.hpp"
#include "libpool/detail/protocol.hpp"
#include "libpool/errors.hpp"
#include "libpool/future.hpp"
#include "libpool/registry.hpp"

namespace libpool {

// How map() cuts its input into chunks.
enum class Schedule {
  Dynamic,  // every chunk `chunksize` items, handed to whichever worker is free
  Guided,   // chunks of remaining / (2 * workers), never below `chunksize`: large first, small last
};

struct MapOptions {
  std::size_t chunksize = 0;  // items per chunk; 0 = auto (about len / (workers * 4))
  Schedule schedule = Schedule::Dynamic;
  // Chunks submitted ahead of the consumer (Python 3.14's buffersize); 0 = auto. Bounds the
  // master's memory, so a map over 10^9 items never materialises them.
  std::size_t buffersize = 0;
  // Python's map(timeout=): iteration raises TimeoutError if a result is not there this long
  // after the call to map(); the map then ends and its queued chunks are cancelled.
  Seconds timeout = kForever;
};

// Whether rank 0 also runs tasks (on a thread of its own) besides dispatching.
enum class MasterWorks { Auto, Yes, No };

class Executor;
struct Span;
struct SpanOptions;
template <class R>
class SpanMap;

namespace detail {
class Master;
class Worker;

// Type-erased initializer: a registered function and its encoded arguments.
struct InitializerSpec {
  ErasedFn fn = nullptr;
  Writer args;
};
}  // namespace detail

struct Options {
  // Tasks each worker holds beyond the one it runs; -1 = adaptive (more for tiny tasks).
  int prefetch = -1;
  // Auto: rank 0 works when the pool has at most 8 ranks (so `mpirun -n 2` uses two cores), and
  // only dispatches in larger pools, where dispatch needs it.
  MasterWorks master_works = MasterWorks::Auto;
  // After this many tasks a worker runs the initializer again (0 = never); like Python's
  // max_tasks_per_child, without restarting the process.
  std::uint64_t max_tasks_per_worker = 0;

  // Liveness. A worker rank runs its tasks on a task thread while its MPI thread keeps answering,
  // and sends the master a heartbeat whenever it has sent nothing for heartbeat_interval.
  Seconds heartbeat_interval{0.5};
  // A worker the master has heard nothing from (no result, no heartbeat) for this long is lost:
  // the pool breaks with WorkerLost on every pending future. 0 = never. At least twice
  // heartbeat_interval. Rank 0's own task thread and inline execution need no heartbeat.
  Seconds worker_timeout{5.0};
  // A task running longer than this, on any rank, breaks the pool with TaskTimeout (0 = no limit).
  // On one rank tasks run inline and cannot be interrupted: the limit is checked when one returns.
  Seconds task_timeout{0.0};
  // A worker runs a task on its MPI thread (saving the hand-off to its task thread, which bounds
  // the rate of tiny tasks) while tasks of that kind (task function) have averaged below this,
  // none took ten times as long lately and none ever a quarter of heartbeat_interval; a kind
  // never seen, and any that may run long, go to the task thread, so that the rank keeps
  // answering. 0 = always on the task thread. With an initializer every task runs on the task
  // thread (where the initializer ran), so thread-local set-up reaches all of them.
  Seconds inline_below{100e-6};

  // Runs once on every rank that executes tasks, before any task; must be registered. Arguments
  // are taken from the master and broadcast. A failure anywhere breaks the pool on every rank.
  template <class... A, class... Args>
  Options& initializer(void (*fn)(A...), Args&&... args) {
    static_assert(sizeof...(A) == sizeof...(Args), "initializer: wrong number of arguments");
    auto spec = std::make_shared<detail::InitializerSpec>();
    spec->fn = reinterpret_cast<detail::ErasedFn>(fn);
    (spec->args.put(std::decay_t<A>(std::forward<Args>(args))), ...);
    init_ = std::move(spec);
    return *this;
  }

 private:
  friend class Executor;
  std::shared_ptr<const detail::InitializerSpec> init_;
};

// A half-open range of integers [first, last) that map() sends as (first, count) per chunk.
template <std::integral I>
auto iota(I first, I last) {
  return std::views::iota(first, std::max(first, last));
}

namespace detail {

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

inline void begin_chunk(Writer& w, ChunkMode mode, std::uint64_t count) {
  w.put(static_cast<std::uint8_t>(mode));
  w.put(count);
}

// One integer argument from an iota view: a chunk is (first, count), nothing per item.
template <class View>
class IotaSource final : public ChunkSource {
 public:
  explicit IotaSource(View v) : next_(*v.begin()), left_(static_cast<std::uint64_t>(v.size())) {}
  std::uint64_t next(Writer& w, std::uint64_t max) override {
    const std::uint64_t n = std::min(max, left_);
    begin_chunk(w, ChunkMode::Iota, n);
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
    begin_chunk(w, ChunkMode::Zip, 0);
    const std::size_t count_at = w.size() - sizeof(std::uint64_t);
    std::uint64_t n = 0;
    for (; n < max && !at_end(); ++n) {
      [&]<std::size_t... I>(std::index_sequence<I...>) {
        (put_item<P>(w, *std::get<I>(its_)), ...);
        (++std::get<I>(its_), ...);
      }
      (std::index_sequence_for<Views...>{});
    }
    std::memcpy(w.data() + count_at, &n, sizeof n);
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

// What map() needs from the executor, kept out of the template code.
struct MapContext {
  Master* master = nullptr;
  std::uint64_t task_hash = 0;
  std::size_t workers = 1;    // ranks that run tasks
  std::size_t in_flight = 2;  // chunks one worker holds at once
};

Master& master_of(Executor& ex);
void enqueue(Master& m, std::shared_ptr<WorkBase> work, TaskKind kind);
void cancel_pending(Master& m, WorkBase& work);
MasterCore& core(Master& m);
void reserve_task_header(Writer& w);

// Chunking and buffering shared by the ordered and unordered maps.
template <class R>
class MapDriver {
 public:
  MapDriver(MapContext ctx, std::unique_ptr<ChunkSource> src, MapOptions opt)
      : ctx_(ctx), src_(std::move(src)), opt_(opt), deadline_(deadline_after(opt.timeout)) {
    buffersize_ = opt.buffersize ? opt.buffersize : 2 * ctx.workers * ctx.in_flight + 2;
    if (opt_.chunksize == 0) {
      if (auto n = src_->remaining(); n && opt_.schedule == Schedule::Dynamic) {
        fixed_ = std::clamp<std::uint64_t>((*n + 4 * ctx.workers - 1) / (4 * ctx.workers), 1,
                                           max_auto_chunk());
      } else {
        fixed_ = 1;
      }
    } else {
      fixed_ = opt_.chunksize;
    }
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
      if (c->state == WorkState::Pending) cancel_pending(*ctx_.master, *c);
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
        c->finish(std::move(unencodable));
        break;
      }
      enqueue(*ctx_.master, c, TaskKind::Chunk);
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
  MasterCore& master() { return core(*ctx_.master); }

 private:
  static constexpr std::uint64_t max_auto_chunk() {
    // Keep one chunk's results near 1 MiB so memory stays bounded for huge maps.
    return std::max<std::uint64_t>(1, (std::uint64_t{1} << 20) / sizeof(R));
  }
  std::uint64_t chunk_size() const {
    if (opt_.schedule != Schedule::Guided) return fixed_;
    const auto left = src_->remaining();
    if (!left) return fixed_;
    const std::uint64_t div = 2 * ctx_.workers;
    const std::uint64_t guided = std::min((*left + div - 1) / div, max_auto_chunk());
    return std::max<std::uint64_t>(guided, fixed_);
  }

  MapContext ctx_;
  std::unique_ptr<ChunkSource> src_;
  MapOptions opt_;
  Clock::time_point deadline_;
  bool waited_ = false;
  std::size_t buffersize_ = 0;
  std::uint64_t fixed_ = 1;
  std::uint64_t chunks_made_ = 0;
  std::uint64_t items_made_ = 0;
  bool exhausted_ = false;
  std::vector<std::shared_ptr<ChunkState<R>>> live_;
  std::vector<decltype(ChunkState<R>::values)> spare_;
};

}  // namespace detail

namespace detail {

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

}  // namespace detail

// The results of map(), in input order. An input range: iterate it once. A chunk that failed
// raises its exception when iteration reaches the chunk's first item, as Python's map does.
template <class R>
class MapResult : private detail::MapDriver<R>, public detail::ResultRange<MapResult<R>, R> {
  using Base = detail::MapDriver<R>;
  friend class detail::ResultIterator<MapResult, R>;

 public:
  using Base::items_submitted;
  MapResult(detail::MapContext ctx, std::unique_ptr<detail::ChunkSource> src, MapOptions opt)
      : Base(ctx, std::move(src), opt) {
    this->fill();
  }

 private:
  std::size_t outstanding() const override { return chunks_.size(); }
  void on_new_chunk(const std::shared_ptr<detail::ChunkState<R>>& c) override {
    chunks_.push_back(c);
  }
  // Drops the chunk just read and makes the next one with results current; false at the end.
  // A failed chunk raises its exception here, at its first item, and ends the map.
  bool next_chunk() {
    if (finished_) return false;
    if (in_front_) {
      in_front_ = false;
      this->forget(chunks_.front());
      chunks_.pop_front();
      this->fill();
    }
    while (!chunks_.empty()) {
      auto front = chunks_.front();
      if (!front->done() && this->out_of_time()) {
        finished_ = true;
        this->timed_out();
      }
      if (!detail::wait_done_until(*front, this->deadline())) {
        finished_ = true;
        if (detail::Clock::now() >= this->deadline()) this->timed_out();
        this->cancel_queued();
        throw Error("pool stopped before the map finished");
      }
      if (front->state == detail::WorkState::Cancelled || front->error) {
        // Python's map ends at the failed item and cancels what is still queued.
        finished_ = true;
        this->forget(front);
        chunks_.pop_front();
        this->cancel_queued();
        if (front->error) std::rethrow_exception(front->error);
        throw CancelledError();
      }
      if (!front->values.empty()) {
        in_front_ = true;
        cur_ = front->values.data();
        end_ = cur_ + front->values.size();
        return true;
      }
      this->forget(front);
      chunks_.pop_front();
      this->fill();
    }
    finished_ = true;
    return false;
  }

  std::deque<std::shared_ptr<detail::ChunkState<R>>> chunks_;
  const R* cur_ = nullptr;  // the current result, inside chunks_.front()
  const R* end_ = nullptr;
  bool in_front_ = false;  // cur_ points into chunks_.front()
  bool finished_ = false;
};

// The results of map_unordered(): each chunk's results as soon as that chunk completes.
template <class R>
class MapUnorderedResult : private detail::MapDriver<R>,
                           public detail::ResultRange<MapUnorderedResult<R>, R> {
  using Base = detail::MapDriver<R>;
  friend class detail::ResultIterator<MapUnorderedResult, R>;

 public:
  using Base::items_submitted;
  MapUnorderedResult(detail::MapContext ctx, std::unique_ptr<detail::ChunkSource> src,
                     MapOptions opt)
      : Base(ctx, std::move(src), opt), ready_(std::make_shared<Ready>()) {
    this->fill();
  }

 private:
  using Ready = std::deque<std::shared_ptr<detail::ChunkState<R>>>;
  std::size_t outstanding() const override { return pending_ + (current_ ? 1 : 0); }
  void on_new_chunk(const std::shared_ptr<detail::ChunkState<R>>& c) override {
    ++pending_;
    // The callback holds the queue weakly: a result that outlives its map is dropped.
    c->add_callback([queue = std::weak_ptr<Ready>(ready_), chunk = std::weak_ptr(c)] {
      if (auto r = queue.lock()) r->push_back(chunk.lock());
    });
  }
  // Drops the chunk just read and makes the next completed one current; false at the end.
  bool next_chunk() {
    if (finished_) return false;
    while (true) {
      if (current_) {
        this->forget(current_);
        current_.reset();
        this->fill();
      }
      if (pending_ == 0) {
        finished_ = true;
        return false;
      }
      if (ready_->empty()) {
        if (this->out_of_time()) {
          finished_ = true;
          this->timed_out();
        }
        this->master().progress_until([&] { return !ready_->empty(); }, this->deadline());
        if (ready_->empty()) {
          finished_ = true;
          if (detail::Clock::now() >= this->deadline()) this->timed_out();
          this->cancel_queued();
          throw Error("pool stopped before the map finished");
        }
      }
      current_ = ready_->front();
      ready_->pop_front();
      --pending_;
      if (current_->state == detail::WorkState::Cancelled || current_->error) {
        // As in the ordered map, iteration ends at the first failure.
        finished_ = true;
        auto failed = std::move(current_);
        this->forget(failed);
        this->cancel_queued();
        if (failed->error) std::rethrow_exception(failed->error);
        throw CancelledError();
      }
      if (!current_->values.empty()) {
        cur_ = current_->values.data();
        end_ = cur_ + current_->values.size();
        return true;
      }
    }
  }

  std::shared_ptr<Ready> ready_;
  std::shared_ptr<detail::ChunkState<R>> current_;
  const R* cur_ = nullptr;  // the current result, inside current_
  const R* end_ = nullptr;
  std::size_t pending_ = 0;
  bool finished_ = false;
};

class Executor {
 public:
  // Collective over comm (default MPI_COMM_WORLD): checks that every rank registered the same
  // tasks, runs the initializer, then on worker ranks serves tasks until the master shuts down.
  // Throws BrokenPool on every rank if the registries differ or an initializer fails.
  explicit Executor(const Registry& registry, const Options& options = {},
                    MPI_Comm comm = MPI_COMM_WORLD);
  // shutdown(wait = true), as Python's `with` exit, also while an exception unwinds: queued work
  // completes, then the workers leave their loops. Never throws.
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  bool is_master() const noexcept { return rank_ == 0; }
  int rank() const noexcept { return rank_; }
  int size() const noexcept { return size_; }
  // Ranks that run tasks: size() - 1, plus rank 0 when it works (always on one rank).
  std::size_t workers() const noexcept;

  // Schedules fn(args...) and returns its future. Arguments are converted to fn's parameter
  // types and encoded now; an encoding error is stored in the future, as Python does.
  template <class R, class... A, class... Args>
  Future<R> submit(R (*fn)(A...), Args&&... args) {
    static_assert(sizeof...(A) == sizeof...(Args), "submit: wrong number of arguments");
    const auto& entry = registry_.entry(fn);
    check_can_submit();
    auto st = std::make_shared<detail::ResultState<R>>();
    st->task_hash = entry.hash;
    detail::reserve_task_header(st->message);
    try {
      (detail::put_as<std::decay_t<A>>(st->message, std::forward<Args>(args)), ...);
    } catch (...) {
      st->master = &detail::core(*master_);
      st->finish(std::current_exception());
      return Future<R>(std::move(st));
    }
    detail::enqueue(*master_, st, detail::TaskKind::Call);
    return Future<R>(std::move(st));
  }

  // fn over the zipped inputs, results in input order, computed chunk by chunk. Inputs are any
  // input ranges (lvalues are referenced, rvalues moved in); libpool::iota(a, b) sends each chunk
  // as two integers.
  template <class R, class... A, class... Ranges>
  MapResult<R> map(R (*fn)(A...), MapOptions opt, Ranges&&... inputs) {
    return MapResult<R>(map_context(fn), make_source<A...>(std::forward<Ranges>(inputs)...), opt);
  }
  template <class R, class... A, class... Ranges>
  requires(sizeof...(Ranges) > 0 && (std::ranges::input_range<Ranges> &&
                                     ...)) MapResult<R> map(R (*fn)(A...), Ranges&&... inputs) {
    return map(fn, MapOptions{}, std::forward<Ranges>(inputs)...);
  }
  // As map(), but yields each chunk's results as soon as it completes.
  template <class R, class... A, class... Ranges>
  MapUnorderedResult<R> map_unordered(R (*fn)(A...), MapOptions opt, Ranges&&... inputs) {
    return MapUnorderedResult<R>(map_context(fn),
                                 make_source<A...>(std::forward<Ranges>(inputs)...), opt);
  }
  template <class R, class... A, class... Ranges>
  requires(sizeof...(Ranges) > 0 && (std::ranges::input_range<Ranges> && ...))
      MapUnorderedResult<R> map_unordered(R (*fn)(A...), Ranges&&... inputs) {
    return map_unordered(fn, MapOptions{}, std::forward<Ranges>(inputs)...);
  }

  // fn(fixed..., begin, end) over chunks of the index space `whole`, each chunk yielded with its
  // span and TaskInfo as soon as it completes (libpool/spans.hpp).
  template <class R, class... A, class... Fixed>
  SpanMap<R> map_spans(R (*fn)(A...), Span whole, SpanOptions opt, Fixed&&... fixed);

  // Stops accepting work. cancel_futures cancels what no worker has started; wait blocks until
  // every started task is done and the workers have left their loops. With wait = false the
  // draining finishes in the destructor. Safe to call more than once. After a WorkerLost or a
  // TaskTimeout it waits for nobody: it tells every worker to leave and returns at once.
  void shutdown(bool wait = true, bool cancel_futures = false);

  // Why the pool is broken (an initializer failed, a rank was lost, a task overran), or nullopt.
  // After a WorkerLost or TaskTimeout the lost rank cannot be made to leave its loop: save what
  // you need, then end the job with libpool::abort_job().
  std::optional<std::string> broken() const;

 private:
  friend detail::Master& detail::master_of(Executor&);
  void check_can_submit() const;
  template <class R, class... A>
  detail::MapContext map_context(R (*fn)(A...)) {
    static_assert(!std::is_void_v<R>, "map: the task must return a value");
    detail::MapContext ctx = map_context_base();
    ctx.task_hash = registry_.entry(fn).hash;
    check_can_submit();
    return ctx;
  }
  detail::MapContext map_context_base() const;

  template <class... A, class... Ranges>
  static std::unique_ptr<detail::ChunkSource> make_source(Ranges&&... inputs) {
    static_assert(sizeof...(A) == sizeof...(Ranges), "map: one input range per task parameter");
    if constexpr (sizeof...(Ranges) == 1 && sizeof...(A) == 1 &&
                  (detail::IsIota<std::remove_cvref_t<Ranges>>::value && ...) &&
                  (std::is_integral_v<std::decay_t<A>> && ...)) {
      return std::make_unique<detail::IotaSource<std::remove_cvref_t<Ranges>...>>(inputs...);
    } else {
      return std::make_unique<
          detail::ZipSource<std::tuple<std::decay_t<A>...>, std::views::all_t<Ranges>...>>(
          std::views::all(std::forward<Ranges>(inputs))...);
    }
  }

  const Registry& registry_;
  int rank_ = 0;
  int size_ = 1;
  std::unique_ptr<detail::Master> master_;  // rank 0 only
};

}  // namespace libpool
