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
#include "libpool/detail/map.hpp"
#include "libpool/detail/protocol.hpp"
#include "libpool/errors.hpp"
#include "libpool/future.hpp"
#include "libpool/options.hpp"
#include "libpool/registry.hpp"

namespace libpool {

struct Span;
struct SpanOptions;
template <class R>
class SpanMap;

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
  // On the master: the first worker whose Options::stop_flag was set, and the signal it held.
  struct WorkerSignal {
    int rank;
    int signal;
  };
  std::optional<WorkerSignal> worker_signal() const;
  // On the master: sets Options::stop_flag to `signal` on every worker, as if each had received
  // it (tasks that watch the flag stop early). Queued work still runs unless cancelled.
  void signal_workers(int signal);

  // Schedules fn(args...) and returns its future. Arguments are converted to fn's parameter
  // types and encoded now; an encoding error is stored in the future, as Python does.
  template <class R, class... A, class... Args>
  Future<R> submit(R (*fn)(A...), Args&&... args) {
    static_assert(sizeof...(A) == sizeof...(Args), "submit: wrong number of arguments");
    const auto& entry = registry_.entry(fn);
    check_can_submit();
    auto st = std::make_shared<detail::ResultState<R>>();
    st->task_hash = entry.hash;
    st->chunk = submits_++;  // errors name the submit by its position, as the caller counts
    detail::reserve_task_header(st->message);
    try {
      (detail::put_as<std::decay_t<A>>(st->message, std::forward<Args>(args)), ...);
    } catch (...) {
      master_->fail(st, std::current_exception());
      return Future<R>(std::move(st));
    }
    master_->enqueue(st, detail::TaskKind::Call);
    return Future<R>(std::move(st));
  }

  // Anything else passed as the task (a lambda, std::function, functor, member function) does
  // not compile, with a message saying what to do.
  template <class LibpoolTaskMustBeAFunctionPointerPickOneOverloadWithStaticCast, class... Args>
  requires(!detail::FunctionPointer<LibpoolTaskMustBeAFunctionPointerPickOneOverloadWithStaticCast>) void submit(
      LibpoolTaskMustBeAFunctionPointerPickOneOverloadWithStaticCast&&, Args&&...) {
    static_assert(detail::kNotATask<LibpoolTaskMustBeAFunctionPointerPickOneOverloadWithStaticCast>,
                  LIBPOOL_NOT_A_TASK_MESSAGE);
  }
  template <class LibpoolTaskMustBeAFunctionPointerPickOneOverloadWithStaticCast, class... Args>
  requires(!detail::FunctionPointer<LibpoolTaskMustBeAFunctionPointerPickOneOverloadWithStaticCast>) void map(
      LibpoolTaskMustBeAFunctionPointerPickOneOverloadWithStaticCast&&, Args&&...) {
    static_assert(detail::kNotATask<LibpoolTaskMustBeAFunctionPointerPickOneOverloadWithStaticCast>,
                  LIBPOOL_NOT_A_TASK_MESSAGE);
  }
  template <class LibpoolTaskMustBeAFunctionPointerPickOneOverloadWithStaticCast, class... Args>
  requires(!detail::FunctionPointer<LibpoolTaskMustBeAFunctionPointerPickOneOverloadWithStaticCast>) void map_unordered(
      LibpoolTaskMustBeAFunctionPointerPickOneOverloadWithStaticCast&&, Args&&...) {
    static_assert(detail::kNotATask<LibpoolTaskMustBeAFunctionPointerPickOneOverloadWithStaticCast>,
                  LIBPOOL_NOT_A_TASK_MESSAGE);
  }
  template <class LibpoolTaskMustBeAFunctionPointerPickOneOverloadWithStaticCast, class... Args>
  requires(!detail::FunctionPointer<LibpoolTaskMustBeAFunctionPointerPickOneOverloadWithStaticCast>) void map_spans(
      LibpoolTaskMustBeAFunctionPointerPickOneOverloadWithStaticCast&&, Args&&...) {
    static_assert(detail::kNotATask<LibpoolTaskMustBeAFunctionPointerPickOneOverloadWithStaticCast>,
                  LIBPOOL_NOT_A_TASK_MESSAGE);
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
  std::unique_ptr<detail::MasterCore> master_;  // rank 0 only
  std::uint64_t submits_ = 0;                   // submit() calls so far
};

}  // namespace libpool
