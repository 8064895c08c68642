// poolrun's internals, shared by main.cpp, the workloads and the end-to-end tests.
//
// Every rank runs the same main(): it parses the same command line, registers every workload's
// tasks (the registries must match on all ranks), agrees on the verdict of the checks, then
// builds the pool. Only the master (rank 0) goes on into Workload::run().
#pragma once

#include <libpool/libpool.hpp>

#include <CLI/CLI.hpp>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/cli.hpp"
#include "common/h5.hpp"
#include "common/lock.hpp"
#include "common/output.hpp"

namespace poolrun {

__extension__ typedef unsigned __int128 u128;

// Exit codes, PRODUCT.md §3.
inline constexpr int exit_complete = 0;
inline constexpr int exit_failed = 1;
inline constexpr int exit_usage = 2;
inline constexpr int exit_interrupted = 3;

enum class ProgressMode { automatic, always, never };

// Options shared by every workload (top-level options, so they may come before or after it).
struct CommonOptions {
  std::string output;  // empty: <workload>.h5
  bool force = false;
  std::string chunksize = "auto";
  std::string schedule = "dynamic";
  std::string progress = "auto";
  bool quiet = false;
  bool resume = false;
  bool debug = false;              // HDF5 errors with the call and the whole error stack
  double flush_interval = 5.0;     // seconds; how old the newest chunk on disk may be
  double task_timeout = 0;         // seconds; 0: none
  double progress_interval = 5.0;  // seconds between status lines when not redrawing a bar

  // 0 for "auto".
  std::uint64_t chunksize_value() const;
  bool guided() const { return schedule == "guided"; }
  ProgressMode progress_mode() const;
};

// Set by SIGINT, SIGTERM and SIGUSR1 (Slurm's warning before the time limit).
extern volatile std::sig_atomic_t g_interrupt_signal;
void install_signal_handlers();

// The master's view of a run: pool, output file and its ledger, progress, per-rank statistics.
class Run {
 public:
  Run(libpool::Executor& pool, common::OutputFile& out, common::OutputLock& lock,
      const CommonOptions& options, std::vector<std::string> hosts,
      std::chrono::steady_clock::time_point t0);

  libpool::Executor& pool() { return pool_; }
  common::OutputFile& out() { return out_; }
  const CommonOptions& options() const { return options_; }
  std::uint64_t workers() const { return pool_.workers(); }
  double elapsed() const;
  bool quiet() const { return options_.quiet; }

  // Progress over `total` items; items counted by finished chunks.
  void start_progress(const std::string& label, std::uint64_t total);
  void add_progress(std::uint64_t items);
  void end_progress();

  // The rows of `pass` that earlier attempts completed (--resume), with their partials.
  std::vector<common::ChunkRow> previous(std::string_view pass) const;
  // Chunking from the common options (--chunksize, --schedule), the spans of `pass` that earlier
  // attempts completed to skip, and the workload's bounds for an automatic chunk size.
  libpool::SpanOptions span_options(std::string_view pass, std::uint64_t auto_min = 1,
                                    std::uint64_t auto_max = UINT64_MAX) const;

  // Consumes the chunks of one pass: on_done(chunk, row) merges a completed chunk's result (and
  // may fill the row's partial columns); its row then goes to the ledger. Flushes the ledger
  // every --flush-interval seconds and at once on a signal; stops at the first failure or
  // signal (queued chunks cancelled, running ones drained within a grace period). Returns true
  // if every chunk of the pass completed.
  template <class R>
  bool drive(std::string_view pass, libpool::SpanMap<R>& chunks,
             const std::function<void(libpool::SpanChunk<R>&, common::ChunkRow&)>& on_done);

  // Records a finished (or failed) chunk in /chunks and in the rank statistics.
  void record_chunk(common::ChunkRow row);
  // Records the error that fails the run (the first one wins).
  void record_error(const libpool::RemoteInfo& e, libpool::Span span);
  void record_error(const std::string& message, libpool::Span span);
  void record_error(const std::string& message, libpool::Span span, int rank,
                    const std::string& host);
  bool failed() const { return failed_; }
  // Fails the run because of what the data turned out to be (say, an infinite histogram range):
  // status failed, finish() prints "poolrun: error: <message>" and returns exit_usage.
  void refuse(const std::string& message);
  // A rank was lost (dead, stopped answering, or over --task-timeout): the job must be aborted
  // once the file is written, since that rank cannot be told to stop.
  bool lost_rank() const { return lost_rank_; }
  bool interrupted() const { return g_interrupt_signal != 0; }
  const std::string& error_message() const { return error_message_; }

  // Writes the buffered rows to disk now (data first); also refreshes the output lock.
  void flush_ledger();
  static constexpr std::uint64_t kMaxBufferedRows = 1 << 16;
  // Called before every flush (and at finish): a workload that buffers data writes it here, so
  // that it reaches the disk before the rows that claim it.
  void before_flush(std::function<void()> fn) { before_flush_ = std::move(fn); }

  // Writes /workers, wall_seconds and the status (last); returns the exit code.
  int finish();

 private:
  // Between chunks: flush when due or on a signal, progress, the signal's grace period.
  // Returns false once the drain after a signal has run out of time.
  bool tick(const std::function<void()>& stop);

  libpool::Executor& pool_;
  common::OutputFile& out_;
  common::OutputLock& lock_;
  const CommonOptions& options_;
  std::vector<std::string> hosts_;
  std::chrono::steady_clock::time_point t0_;
  std::vector<std::uint64_t> rank_chunks_;
  std::vector<double> rank_busy_;
  bool failed_ = false;
  bool refused_ = false;
  bool lost_rank_ = false;
  std::string error_message_;
  std::optional<common::ErrorInfo> pending_error_;  // written at finish (not under SWMR)
  std::function<void()> before_flush_;
  double last_flush_ = 0;
  double last_touch_ = 0;
  bool stopping_ = false;  // a signal came: no new chunks, flushed
  double drain_until_ = 0;
  // progress
  std::string label_;
  std::uint64_t total_ = 0;
  std::uint64_t done_ = 0;
  bool live_ = false;      // a redrawn line on a terminal
  bool periodic_ = false;  // a status line every --progress-interval seconds (logs)
  double last_print_ = 0;
  void print_progress(bool final_line);
  void handle_error(std::exception_ptr error, common::ChunkRow& row, libpool::Span span);
};

template <class R>
bool Run::drive(std::string_view pass, libpool::SpanMap<R>& chunks,
                const std::function<void(libpool::SpanChunk<R>&, common::ChunkRow&)>& on_done) {
  const auto stop = [&] { chunks.stop(); };
  if (failed_ || interrupted()) stop();
  while (!chunks.finished()) {
    // A short wait keeps flushes, progress lines and signals responsive while chunks run.
    libpool::SpanChunk<R>* c = chunks.next(std::chrono::milliseconds(100));
    if (c) {
      common::ChunkRow row;
      row.begin = c->span.begin;
      row.end = c->span.end;
      row.rank = c->info.rank;
      row.start_s = c->info.start_s;
      row.end_s = c->info.end_s;
      row.attempt = out_.attempt();
      row.pass = std::string(pass);
      if (c->error) {
        handle_error(c->error, row, c->span);
        stop();
      } else {
        try {
          on_done(*c, row);
          record_chunk(row);
          add_progress(c->span.size());
        } catch (const std::exception& e) {  // a failure on the master (e.g. an overflow)
          row.status = std::string(common::chunk_failed);
          record_chunk(row);
          record_error(e.what(), c->span);
          stop();
        }
      }
    }
    if (!tick(stop)) break;
  }
  return !failed_ && !interrupted() && chunks.finished();
}

// One workload: its options, its tasks, its run on the master.
class Workload {
 public:
  virtual ~Workload() = default;
  virtual const char* name() const = 0;
  virtual const char* description() const = 0;
  virtual void add_options(CLI::App& sub) = 0;
  // Checks the options after parsing (every rank); throws common::UsageError.
  virtual void validate(const CommonOptions& options) const = 0;
  // Called on every rank before validate(): a workload may take a part of the common options
  // (datagen takes "-o FILE.h5:/DSET" apart); throws common::UsageError.
  virtual void adjust_options(CommonOptions& /*options*/) {}
  // The pool's initializer, if the workload needs one.
  virtual void configure(libpool::Options& /*options*/) const {}
  // What a --resume must agree on besides the workload: its own options, seed, input files'
  // identity (common::file_identity), in a fixed order. Called after validate().
  virtual common::Identity identity() const = 0;
  // The files the run reads (none by default): the output may be none of them.
  virtual std::vector<std::string> input_files() const { return {}; }
  // Computes, writes /result, returns the exit code (master only).
  virtual int run(Run& run) = 0;
};

std::unique_ptr<Workload> make_powersum();
std::unique_ptr<Workload> make_primes();
std::unique_ptr<Workload> make_pi();
std::unique_ptr<Workload> make_factor();
std::unique_ptr<Workload> make_seed();
std::unique_ptr<Workload> make_datagen();
std::unique_ptr<Workload> make_stats();
std::unique_ptr<Workload> make_thumbnails();

// Registers every workload's tasks and initializers (the same on every rank).
void register_tasks(libpool::Registry& registry);
void register_powersum(libpool::Registry& registry);
void register_primes(libpool::Registry& registry);
void register_pi(libpool::Registry& registry);
void register_factor(libpool::Registry& registry);
void register_seed(libpool::Registry& registry);
void register_datagen(libpool::Registry& registry);
void register_stats(libpool::Registry& registry);
void register_thumbnails(libpool::Registry& registry);

// An HDF5 input dataset (stats, thumbnails), checked on every rank before the pool starts.
struct InputInfo {
  std::vector<hsize_t> shape;  // {} for a scalar
  h5::Dtype dtype = h5::Dtype::other;
  std::vector<hsize_t> chunk;  // {} when contiguous
  int gzip = 0;
  std::uint64_t elements = 0;
  std::uint64_t element_size = 0;
};
// Opens FILE.h5:/DSET and checks it is a non-empty numeric dataset whose first and last
// elements can be read; throws common::UsageError ("FILE.h5:/DSET: <reason>") otherwise.
InputInfo check_input(const common::cli::DatasetSpec& spec);
// What one task (or the master, for its per-block lists) may hold at once: a quarter of this
// node's physical memory.
std::uint64_t memory_bound();
// UsageError "WHAT: UNIT (dims, size) does not fit in memory ..." when dims x element_size
// bytes exceed memory_bound(): checked before the pool starts, instead of a bad_alloc mid-run.
void check_fits(const std::string& what, const std::vector<hsize_t>& dims,
                std::uint64_t element_size, const std::string& unit);
// UsageError when `file` is a poolrun output whose status is not "complete".
void check_finished(const h5::File& file, const std::string& what);
// The pool initializer of stats and thumbnails: every rank that runs tasks opens the input once
// and keeps it open for its tasks (input_dataset()).
void init_input(std::string file, std::string dataset);
const h5::Dataset& input_dataset();
// Throws e with the input's FILE:/DSET and the rows read in front of its message.
[[noreturn]] void throw_input_error(std::uint64_t begin, std::uint64_t end, const h5::Error& e);

// stats --axis 0 (stats_columns.cpp): the picked columns (all when `columns` is empty) after
// checking that the input is a 2-D table and the indices are its columns, ascending, distinct
// (common::UsageError otherwise); the run itself; its task.
std::vector<std::uint64_t> check_columns(const std::string& what, const InputInfo& info,
                                         std::vector<std::uint64_t> columns);
int run_stats_columns(Run& run, const common::cli::DatasetSpec& input, const InputInfo& info,
                      const std::vector<std::uint64_t>& picked);
void register_stats_columns(libpool::Registry& registry);

// Tasks shared by several workloads (seed reuses the others').
std::uint64_t count_primes_task(std::uint64_t begin, std::uint64_t end);
std::uint64_t pi_inside_task(std::uint64_t seed, std::uint64_t begin, std::uint64_t end);

// Testing aids, unset in normal use: every poolrun task first sleeps POOLRUN_TASK_DELAY_MS
// milliseconds (read once per rank), so that fault tests can kill or signal a run while its
// chunks are in flight; with POOLRUN_TASK_FAIL_AFTER=N every task after a rank's first N raises,
// so that tests can make a failed file of any workload.
void test_delay();

// Formatting for summaries.
std::string human_seconds(double s);
std::string human_rate(double per_second, const std::string& unit);

// The whole program; main() only calls this.
int main(int argc, char** argv);

}  // namespace poolrun
