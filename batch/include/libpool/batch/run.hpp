#pragma once
// What a workload's run() calls on the master: passes over an index space, and the result.
//
//   std::uint64_t count(std::uint64_t seed, std::uint64_t begin, std::uint64_t end);  // a task
//
//   void run(libpool::batch::Run& run) override {
//     auto inside = run.reduce<std::uint64_t>(
//         {.name = "samples", .space = {0, samples_}, .unit = "samples"}, 0,
//         std::plus<>(), count, seed_);
//     if (!inside) return;                      // failed or interrupted: the library says so
//     run.result().scalar("inside", *inside);
//     run.summary("inside: " + std::to_string(*inside));
//   }
//
// A pass cuts its index space into chunks (--chunksize, --schedule, and the pass's bounds for
// "auto"), runs task(fixed..., begin, end) on the workers, and hands each chunk's partial result
// to the workload in span order - whatever the rank count, chunk size or completion order, and
// with the partials of earlier attempts (--resume) read back from the ledger in their place. So
// a floating-point merge gives the same bits at any rank count, provided a chunk's partial does
// not depend on where the chunk was cut (a sum of integers, or per-block partials over fixed
// blocks: see `granule`).
//
// Everything else is the library's: the ledger (/chunks, with each chunk's partial, flushed
// every --flush-interval), progress, signals (SIGINT/SIGTERM/SIGUSR1 drain and leave a resumable
// file), a lost rank, --task-timeout, the status and the exit code.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "libpool/codec.hpp"
#include "libpool/executor.hpp"
#include "libpool/spans.hpp"

namespace libpool::batch {

namespace detail {
class RunCore;
}

// One pass over an index space.
struct Pass {
  // The ledger's name for the pass (/chunks/pass, at most 15 bytes); a workload with several
  // passes gives each its own.
  std::string name;
  // The items, half open.
  libpool::Span space;
  // What an item is, for progress and the summary's rate ("samples" -> "1.2 Gsamples/s";
  // empty: the summary gives no rate).
  std::string unit = "items";
  // The one chunking rule. --chunksize N gives N items a chunk; "auto" gives about
  // remaining / (4 x workers), clamped to [min_chunk, max_chunk]. Either way a chunk is a
  // multiple of `granule` items (a workload that reads whole HDF5 chunks of 4096 rows says 4096;
  // the last chunk before the end or a break may be shorter), and never straddles a break.
  std::uint64_t min_chunk = 1;
  std::uint64_t max_chunk = UINT64_MAX;
  std::uint64_t granule = 1;
  std::vector<std::uint64_t> breaks = {};
  // Spans of `space` that hold no items (an index space with gaps).
  std::vector<libpool::Span> holes = {};
  // A chunk size of the pass's own, whatever --chunksize and --schedule say (a program whose
  // chunking is part of what it reproduces); 0: the user's.
  std::uint64_t chunksize = 0;
};

// A value for a result or an attribute.
using Value = std::variant<std::int64_t, std::uint64_t, double, std::string>;

// The element types of a dataset of rows.
enum class Type { int8, uint8, int16, uint16, int32, uint32, int64, uint64, float32, float64 };
template <class T>
constexpr Type type_of() {
  static_assert(std::is_arithmetic_v<T> && !std::is_same_v<T, bool> && sizeof(T) <= 8,
                "batch::Rows: integers or floating point");
  if constexpr (std::is_floating_point_v<T>) {
    return sizeof(T) == 4 ? Type::float32 : Type::float64;
  } else if constexpr (std::is_signed_v<T>) {
    return sizeof(T) == 1   ? Type::int8
           : sizeof(T) == 2 ? Type::int16
           : sizeof(T) == 4 ? Type::int32
                            : Type::int64;
  } else {
    return sizeof(T) == 1   ? Type::uint8
           : sizeof(T) == 2 ? Type::uint16
           : sizeof(T) == 4 ? Type::uint32
                            : Type::uint64;
  }
}

// A dataset of /result whose rows passes write at their place as chunks complete (Run::rows).
// In an unfinished file only the rows of the spans that /chunks lists hold data.
template <class T>
class Rows {
 public:
  Rows() = default;
  // Writes rows [first, first + values.size() / row size) (row-major). Whole HDF5 chunks go to
  // the file at once; the rest waits, coalesced, and reaches the disk at the next flush, before
  // the ledger rows that claim it.
  void write(std::uint64_t first, std::span<const T> values);
  // Stores one whole HDF5 chunk, rows [first, first + chunk rows), as deflate_chunk() returned
  // it (a dataset declared with gzip; the edge chunk padded with zeros to the whole chunk).
  void write_chunk(std::uint64_t first, std::span<const std::uint8_t> stored);
  // The dataset's name under /result.
  const std::string& name() const { return name_; }

 private:
  friend class Run;
  Rows(detail::RunCore* core, std::size_t id, std::string name)
      : core_(core), id_(id), name_(std::move(name)) {}
  detail::RunCore* core_ = nullptr;
  std::size_t id_ = 0;
  std::string name_;
};

// For a dataset of rows declared with gzip: one HDF5 chunk's values (its whole extent, the edge
// chunk padded with zeros) shuffled and deflated as HDF5's filters would. Call it in the task, so
// every worker compresses its own chunks, and store the bytes with Rows::write_chunk.
std::vector<std::uint8_t> deflate_chunk(std::span<const std::byte> values, std::size_t element_size,
                                        int level);
template <class T>
std::vector<std::uint8_t> deflate_chunk(std::span<const T> values, int level) {
  return deflate_chunk(std::as_bytes(values), sizeof(T), level);
}

// The /result group of the output file. Written after the passes (results are not written while
// chunks run: the file is then in HDF5's SWMR mode, which creates nothing new).
class Result {
 public:
  // A scalar dataset /result/NAME.
  void scalar(const std::string& name, const Value& value);
  // A 1-D dataset /result/NAME.
  void values(const std::string& name, std::span<const std::uint64_t> data);
  void values(const std::string& name, std::span<const std::int64_t> data);
  void values(const std::string& name, std::span<const double> data);
  void strings(const std::string& name, const std::vector<std::string>& data);
  // An attribute of /result, or of the dataset /result/DATASET.
  void attr(const std::string& name, const Value& value);
  void attr(const std::string& dataset, const std::string& name, const Value& value);
  // The group /result/NAME (created on first use), written the same way.
  Result group(const std::string& name) const { return Result(core_, prefix_ + name + "/"); }

 private:
  friend class Run;
  explicit Result(detail::RunCore* core, std::string prefix = {})
      : core_(core), prefix_(std::move(prefix)) {}
  detail::RunCore* core_;
  std::string prefix_;  // "" for /result itself, "NAME/" for a group below it
};

// The run of one workload, on the master (rank 0).
class Run {
 public:
  // The pool: ranks in all, and ranks that compute (at -n 2 the master computes too).
  int ranks() const;
  std::uint64_t workers() const;
  libpool::Executor& pool();
  // The output file's path, and whether the user asked for no summary.
  const std::string& output() const;
  bool quiet() const;
  // Seconds since the pool started.
  double elapsed() const;
  // The chunking of the last pass begun: its chunk size in items (dynamic; the smallest chunk
  // when guided) and --schedule. A floating result records them beside the seed.
  std::uint64_t chunk_size() const;
  std::string schedule() const;

  // Runs one pass; consume(span, partial) sees every chunk's partial in span order (earlier
  // attempts' included). Returns true when every chunk of the pass is done; false when the run
  // failed (a task raised, a rank was lost, consume threw) or was interrupted - then the
  // workload writes no result and returns: the library records the status and the exit code.
  template <class P, class Consume, class... A, class... Fixed>
  bool ordered(const Pass& pass, Consume&& consume, P (*task)(A...), Fixed&&... fixed);

  // A pass folded into one value: acc = merge(acc, partial) in span order, from init.
  template <class P, class Merge, class... A, class... Fixed>
  std::optional<P> reduce(const Pass& pass, std::type_identity_t<P> init, Merge merge,
                          P (*task)(A...), Fixed&&... fixed);

  // A pass whose results go to datasets at their place, not through a merge: write(span, P&)
  // runs on the master as each chunk completes (in completion order), writes the chunk's rows
  // with Rows::write, and returns a count that the ledger keeps (/chunks/partial: primes found,
  // tasks failed, ...). Chunks done by earlier attempts are skipped (their rows are in the file).
  // Returns the sum of the counts over every chunk of the pass, earlier attempts' included, or
  // nullopt when the run failed or was interrupted.
  template <class P, class Write, class... A, class... Fixed>
  std::optional<std::uint64_t> write_rows(const Pass& pass, Write&& write, P (*task)(A...),
                                          Fixed&&... fixed);

  // A pass whose chunks are records handed over as they complete (a command farm: each task's
  // exit status and output), every partial kept in the ledger (/partials). On --resume, seen(span,
  // P&) first sees each record that earlier attempts left for the pass, in ledger order (a span
  // computed again has several); then again(span) is asked once for each span with a record:
  // true computes it again. Then done(span, P&) sees each chunk of this attempt in completion
  // order and returns whether to record it: false leaves the chunk not done (its task was
  // interrupted) and the pass incomplete. A failure found in done() (Run::fail) stops the pass;
  // chunks then running still arrive. The same pass may run again in one attempt over other
  // spans (`holes` leaving out the rest): a round of retries, say. Returns true when every chunk
  // of the pass is done.
  template <class P, class Seen, class Again, class Done, class... A, class... Fixed>
  bool each(const Pass& pass, Seen&& seen, Again&& again, Done&& done, P (*task)(A...),
            Fixed&&... fixed);

  // Declares /result/NAME (or NAME itself when it starts with '/', its groups created), `rows`
  // rows of `row_shape` elements of T (1-D when row_shape is empty), chunked by `chunk_rows` rows
  // (0: about 1 MiB a chunk), deflated at level `gzip` with byte shuffle (0: not compressed).
  // Before the first pass: the file then enters SWMR mode, where nothing new is created. A
  // resumed run reopens it.
  template <class T>
  Rows<T> rows(const std::string& name, std::uint64_t rows,
               const std::vector<std::uint64_t>& row_shape = {}, std::uint64_t chunk_rows = 0,
               int gzip = 0) {
    return Rows<T>(core_, rows_(name, type_of<T>(), rows, row_shape, chunk_rows, gzip), name);
  }

  // The result group (after the passes); group(name) is a group below it.
  Result& result() { return result_; }
  // Fails the run with a message found on the master (an overflow of the final sum, say):
  // status failed, exit code 1, the message in /error.
  void fail(const std::string& message);
  // Ends the run because of what the data turned out to be, found only once passes read it (a
  // histogram range that is not finite): status failed, the message in /error and on stderr as
  // one line, exit code 2 as for a usage error found before the run.
  void refuse(const std::string& message);
  bool failed() const;
  // Lines printed on stdout when the run completes (unless --quiet), before the library's line
  // with ranks, wall time, rate and output.
  void summary(const std::string& text);

  // The partials of earlier attempts of a pass, as stored (libpool::Codec bytes).
  struct Stored {
    libpool::Span span;
    std::string bytes;
  };

 private:
  friend class detail::RunCore;
  explicit Run(detail::RunCore* core) : core_(core), result_(core) {}

  // Consumes the chunks of a pass in completion order: on_done(chunk) for a computed one, the
  // failure recorded (and the pass stopped) for one that raised; flushes, progress and signals
  // between chunks.
  template <class P, class OnDone>
  void drive_(libpool::SpanMap<P>& chunks, OnDone&& on_done);

  // The non-template half of a pass (the library's .so).
  // Starts a pass; with `stored`, returns the partials earlier attempts kept for it.
  std::vector<Stored> begin_pass_(const Pass& pass, bool stored);
  libpool::SpanOptions span_options_(const Pass& pass) const;
  void started_(const Pass& pass, std::uint64_t items, std::uint64_t chunk_size);
  void chunk_done_(const libpool::Span& span, const libpool::TaskInfo& info,
                   const libpool::Writer& bytes, std::uint64_t lo, std::uint64_t hi);
  void chunk_failed_(const libpool::Span& span, const libpool::TaskInfo& info,
                     std::exception_ptr error);
  bool tick_(const std::function<void()>& stop);
  std::size_t rows_(const std::string& name, Type type, std::uint64_t rows,
                    const std::vector<std::uint64_t>& row_shape, std::uint64_t chunk_rows,
                    int gzip);
  void chunk_counted_(const libpool::Span& span, const libpool::TaskInfo& info,
                      std::uint64_t count);
  std::uint64_t counted_before_(const Pass& pass);
  template <class T>
  friend class Rows;
  static void write_rows_(detail::RunCore* core, std::size_t id, std::uint64_t first,
                          const void* data, std::size_t elements);
  static void write_chunk_(detail::RunCore* core, std::size_t id, std::uint64_t first,
                           std::span<const std::uint8_t> stored);
  bool stopped_() const;
  // Ends a pass; an incomplete one makes the run partial (or failed), whatever comes after.
  void end_pass_(bool complete);

  detail::RunCore* core_;
  Result result_;
};

// ---- implementation ------------------------------------------------------------------------

namespace detail {
#ifdef __SIZEOF_INT128__
__extension__ typedef unsigned __int128 U128;
__extension__ typedef __int128 I128;
#endif
// An integer partial of at most 128 bits also goes to /chunks/partial (low 64 bits) and
// /chunks/partial_hi, where readers of the file see it without decoding.
template <class P>
void integer_view(const P& v, std::uint64_t& lo, std::uint64_t& hi) {
  if constexpr (std::is_integral_v<P> && sizeof(P) <= 8) {
    lo = static_cast<std::uint64_t>(v);
    if constexpr (std::is_signed_v<P>) hi = v < 0 ? ~std::uint64_t{0} : 0;
#ifdef __SIZEOF_INT128__
  } else if constexpr (std::is_same_v<P, U128> || std::is_same_v<P, I128>) {
    lo = static_cast<std::uint64_t>(v);
    hi = static_cast<std::uint64_t>(static_cast<U128>(v) >> 64);
#endif
  }
}
}  // namespace detail

template <class P, class OnDone>
void Run::drive_(libpool::SpanMap<P>& chunks, OnDone&& on_done) {
  const auto stop = [&] { chunks.stop(); };
  while (!chunks.finished()) {
    // A short wait keeps flushes, progress lines and signals responsive while chunks run.
    libpool::SpanChunk<P>* c = chunks.next(std::chrono::milliseconds(100));
    if (c) {
      if (c->error) {
        chunk_failed_(c->span, c->info, c->error);
        stop();
      } else {
        try {
          on_done(*c);
        } catch (const std::exception&) {  // a failure on the master (an overflow, say)
          chunk_failed_(c->span, c->info, std::current_exception());
          stop();
        }
      }
    }
    if (!tick_(stop)) break;
  }
}

template <class P, class Consume, class... A, class... Fixed>
bool Run::ordered(const Pass& pass, Consume&& consume, P (*task)(A...), Fixed&&... fixed) {
  static_assert(std::is_invocable_v<Consume&, const libpool::Span&, P&>,
                "ordered: consume(const libpool::Span&, P&)");
  // Partials wait here until every chunk before them has been consumed.
  std::map<std::uint64_t, std::pair<libpool::Span, P>> waiting;
  // The holes, in order: consumption steps over them.
  std::map<std::uint64_t, std::uint64_t> holes;
  for (const libpool::Span& h : pass.holes)
    if (!h.empty()) holes[h.begin] = std::max(holes[h.begin], h.end);
  std::uint64_t pos = pass.space.begin;
  const auto skip_holes = [&] {
    for (auto h = holes.begin(); h != holes.end() && h->first <= pos; h = holes.erase(h))
      pos = std::max(pos, h->second);
  };
  const auto drain = [&] {
    skip_holes();
    for (auto it = waiting.begin(); it != waiting.end() && it->first <= pos;
         it = waiting.erase(it)) {
      // A span that starts before pos is covered already (not in a sound ledger).
      if (it->first < pos) continue;
      consume(std::as_const(it->second.first), it->second.second);
      pos = it->second.first.end;
      skip_holes();
    }
  };
  const std::vector<Stored> previous = begin_pass_(pass, true);
  for (const Stored& s : previous) {
    libpool::Reader r(reinterpret_cast<const std::byte*>(s.bytes.data()), s.bytes.size());
    P value = r.get<P>();
    r.expect_end();
    waiting.emplace(s.span.begin, std::pair<libpool::Span, P>(s.span, std::move(value)));
  }
  auto chunks =
      pool().map_spans(task, pass.space, span_options_(pass), std::forward<Fixed>(fixed)...);
  started_(pass, chunks.items_total(), chunks.chunk_size());
  const auto stop = [&] { chunks.stop(); };
  try {
    drain();
  } catch (const std::exception& e) {
    fail(e.what());
  }
  if (stopped_()) stop();
  drive_(chunks, [&](libpool::SpanChunk<P>& c) {
    P& value = c.value();
    libpool::Writer w;
    w.put(value);
    std::uint64_t lo = 0, hi = 0;
    detail::integer_view(value, lo, hi);
    const libpool::Span span = c.span;
    waiting.emplace(span.begin, std::pair<libpool::Span, P>(span, std::move(value)));
    drain();
    chunk_done_(span, c.info, w, lo, hi);
  });
  // What was computed decides, not a signal that came after the last chunk.
  const bool complete = !failed() && chunks.finished() && pos >= pass.space.end;
  end_pass_(complete);
  return complete;
}

template <class T>
void Rows<T>::write(std::uint64_t first, std::span<const T> values) {
  Run::write_rows_(core_, id_, first, values.data(), values.size());
}

template <class T>
void Rows<T>::write_chunk(std::uint64_t first, std::span<const std::uint8_t> stored) {
  Run::write_chunk_(core_, id_, first, stored);
}

template <class P, class Write, class... A, class... Fixed>
std::optional<std::uint64_t> Run::write_rows(const Pass& pass, Write&& write, P (*task)(A...),
                                             Fixed&&... fixed) {
  static_assert(std::is_invocable_r_v<std::uint64_t, Write&, const libpool::Span&, P&>,
                "write_rows: write(const libpool::Span&, P&) returns the chunk's count");
  begin_pass_(pass, false);
  std::uint64_t total = counted_before_(pass);
  auto chunks =
      pool().map_spans(task, pass.space, span_options_(pass), std::forward<Fixed>(fixed)...);
  started_(pass, chunks.items_total(), chunks.chunk_size());
  if (stopped_()) chunks.stop();
  std::uint64_t items = 0;  // written by this attempt (a stopped pass yields no cancelled chunk)
  drive_(chunks, [&](libpool::SpanChunk<P>& c) {
    const std::uint64_t n = write(std::as_const(c.span), c.value());
    total += n;
    items += c.span.size();
    chunk_counted_(c.span, c.info, n);
  });
  // What was computed decides, not a signal that came after the last chunk.
  const bool complete = !failed() && chunks.finished() && items == chunks.items_total();
  end_pass_(complete);
  if (!complete) return std::nullopt;
  return total;
}

template <class P, class Seen, class Again, class Done, class... A, class... Fixed>
bool Run::each(const Pass& pass, Seen&& seen, Again&& again, Done&& done, P (*task)(A...),
               Fixed&&... fixed) {
  static_assert(std::is_invocable_v<Seen&, const libpool::Span&, P&>,
                "each: seen(const libpool::Span&, P&)");
  static_assert(std::is_invocable_r_v<bool, Again&, const libpool::Span&>,
                "each: again(const libpool::Span&) returns whether to compute the span again");
  static_assert(std::is_invocable_r_v<bool, Done&, const libpool::Span&, P&>,
                "each: done(const libpool::Span&, P&) returns whether to record the chunk");
  libpool::SpanOptions options = span_options_(pass);
  options.skip.assign(pass.holes.begin(), pass.holes.end());
  std::vector<libpool::Span> recorded;
  for (const Stored& s : begin_pass_(pass, true)) {
    libpool::Reader r(reinterpret_cast<const std::byte*>(s.bytes.data()), s.bytes.size());
    P value = r.get<P>();
    r.expect_end();
    seen(std::as_const(s.span), value);
    recorded.push_back(s.span);
  }
  std::sort(recorded.begin(), recorded.end(), [](const libpool::Span& a, const libpool::Span& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  recorded.erase(std::unique(recorded.begin(), recorded.end(),
                             [](const libpool::Span& a, const libpool::Span& b) {
                               return a.begin == b.begin && a.end == b.end;
                             }),
                 recorded.end());
  for (const libpool::Span& s : recorded)
    if (!again(s)) options.skip.push_back(s);
  auto chunks = pool().map_spans(task, pass.space, options, std::forward<Fixed>(fixed)...);
  started_(pass, chunks.items_total(), chunks.chunk_size());
  if (stopped_()) chunks.stop();
  std::uint64_t items = 0;  // recorded by this attempt
  drive_(chunks, [&](libpool::SpanChunk<P>& c) {
    P& value = c.value();
    const bool record = done(std::as_const(c.span), value);
    if (failed()) chunks.stop();
    if (!record) return;
    libpool::Writer w;
    w.put(value);
    std::uint64_t lo = 0, hi = 0;
    detail::integer_view(value, lo, hi);
    chunk_done_(c.span, c.info, w, lo, hi);
    items += c.span.size();
  });
  // What was computed decides, not a signal that came after the last chunk.
  const bool complete = !failed() && chunks.finished() && items == chunks.items_total();
  end_pass_(complete);
  return complete;
}

template <class P, class Merge, class... A, class... Fixed>
std::optional<P> Run::reduce(const Pass& pass, std::type_identity_t<P> init, Merge merge,
                             P (*task)(A...), Fixed&&... fixed) {
  P acc = std::move(init);
  const bool complete = ordered(
      pass, [&](const libpool::Span&, P& part) { acc = merge(std::move(acc), part); }, task,
      std::forward<Fixed>(fixed)...);
  if (!complete) return std::nullopt;
  return acc;
}

}  // namespace libpool::batch
