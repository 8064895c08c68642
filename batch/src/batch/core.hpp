// The run machinery behind the workload API (internal: not installed).
//
// Every rank runs the same driver: it parses the same command line, registers every workload's
// tasks (the registries must match on all ranks), agrees on the verdict of the checks, runs the
// workload's per-rank setup, then builds the pool. Only the master (rank 0) goes on into the
// workload's run, through a RunCore: the pool, the output file and its ledger, progress, signals,
// per-rank statistics and the final status.
#pragma once

#include <libpool/batch.hpp>
#include <libpool/libpool.hpp>

#include <CLI/CLI.hpp>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/cli.hpp"
#include "common/h5.hpp"
#include "common/lock.hpp"
#include "common/output.hpp"

namespace libpool::batch::detail {

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
  double flush_interval = 5.0;     // seconds; how old the newest completed chunk on disk may be
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

// A dataset of /result that passes write row by row (Run::rows): completed chunks' rows wait
// here, coalesced, until the next flush writes them before the ledger rows that claim them.
struct RowsOut {
  h5::Dataset dataset;
  h5::Dtype dtype = h5::Dtype::uint64;
  std::vector<hsize_t> dims;  // rows, then the row's shape
  std::uint64_t row_elements = 1;
  std::size_t element_size = 8;
  std::uint64_t chunk_rows = 1;                             // rows of one HDF5 chunk
  std::map<std::uint64_t, std::vector<std::byte>> pending;  // first row -> rows' bytes
  std::uint64_t pending_bytes = 0;
  std::uint64_t row_bytes() const { return row_elements * element_size; }
  // Writes what waits, as few contiguous slabs as possible.
  void write_pending();
  // Writes the part of a waiting run that ends on an HDF5 chunk boundary, keeps the rest.
  void write_whole_chunks(std::map<std::uint64_t, std::vector<std::byte>>::iterator run);
  void write_slab(std::uint64_t first, std::uint64_t rows, const std::byte* data);
};

// The master's view of a run: pool, output file and its ledger, progress, per-rank statistics.
class RunCore {
 public:
  RunCore(libpool::Executor& pool, common::OutputFile& out, common::OutputLock& lock,
          const CommonOptions& options, std::vector<std::string> hosts,
          std::chrono::steady_clock::time_point t0);

  libpool::Executor& pool() { return pool_; }
  common::OutputFile& out() { return out_; }
  const CommonOptions& options() const { return options_; }
  std::uint64_t workers() const { return pool_.workers(); }
  double elapsed() const;
  bool quiet() const { return options_.quiet; }
  // The public face of this run, for workloads written on the API.
  Run& api() { return api_; }

  // Progress over `total` items; items counted by finished chunks.
  void start_progress(const std::string& label, std::uint64_t total);
  void add_progress(std::uint64_t items);
  void end_progress();
  // Items this attempt computed, over every pass (the summary's rate).
  std::uint64_t items_computed() const { return computed_; }

  // The rows of `pass` that earlier attempts completed (--resume), with their partials.
  std::vector<common::ChunkRow> previous(std::string_view pass) const;
  // Chunking from the common options (--chunksize, --schedule), the spans of `pass` that earlier
  // attempts completed to skip, and the workload's bounds for an automatic chunk size.
  libpool::SpanOptions span_options(std::string_view pass, std::uint64_t auto_min = 1,
                                    std::uint64_t auto_max = UINT64_MAX,
                                    std::uint64_t granule = 1) const;

  // A ledger row for a chunk of this attempt.
  common::ChunkRow row_for(libpool::Span span, const libpool::TaskInfo& info,
                           std::string_view pass) const;
  // Records a finished (or failed) chunk in /chunks and in the rank statistics.
  void record_chunk(common::ChunkRow row);
  // A chunk that failed: its row, and the error that fails the run (or the lost rank).
  void handle_error(std::exception_ptr error, common::ChunkRow& row, libpool::Span span);
  // Records the error that fails the run (the first one wins).
  void record_error(const libpool::RemoteInfo& e, libpool::Span span);
  void record_error(const std::string& message, libpool::Span span);
  void record_error(const std::string& message, libpool::Span span, int rank,
                    const std::string& host);
  bool failed() const { return failed_; }
  // A pass ended before every chunk of it was computed: the run cannot be complete.
  void set_incomplete() { incomplete_ = true; }
  // Fails the run because of what the data turned out to be (say, an infinite histogram range):
  // status failed, finish() prints "<program>: error: <message>" and returns exit_usage.
  void refuse(const std::string& message);
  // A rank was lost (dead, stopped answering, or over --task-timeout): the job must be aborted
  // once the file is written, since that rank cannot be told to stop.
  bool lost_rank() const { return lost_rank_; }
  bool interrupted() const { return g_interrupt_signal != 0; }
  const std::string& error_message() const { return error_message_; }

  // Between chunks: flush when due or on a signal, progress, the signal's grace period.
  // Returns false once the drain after a signal has run out of time.
  bool tick(const std::function<void()>& stop);

  // Writes the buffered rows to disk now (data first); also refreshes the output lock.
  void flush_ledger();
  static constexpr std::uint64_t kMaxBufferedRows = 1 << 16;

  // The datasets passes write row by row (the public Run::rows).
  std::vector<std::unique_ptr<RowsOut>>& rows_out() { return rows_out_; }
  void write_rows_pending();
  // Writes what waits and closes those datasets: the results come next, and the file leaves
  // SWMR mode for them (closing and reopening it).
  void close_rows();

  // Lines for the summary a complete run prints, and its rate's unit.
  void add_summary(const std::string& text) {
    summary_ += text;
    if (!summary_.empty() && summary_.back() != '\n') summary_ += '\n';
  }
  // The workload's name (progress lines), and how many passes it has begun.
  void set_workload(const std::string& name) { workload_ = name; }
  const std::string& workload() const { return workload_; }
  int begin_pass() { return passes_++; }
  std::uint64_t chunk_size() const { return chunk_size_; }
  void set_chunk_size(std::uint64_t n) { chunk_size_ = n; }
  // The pass whose chunks the public API records now.
  void set_api_pass(const std::string& pass) { api_pass_ = pass; }
  const std::string& api_pass() const { return api_pass_; }
  // Fails the run with a message found on the master (status failed, exit 1).
  void fail(const std::string& message);
  void set_unit(const std::string& unit) { unit_ = unit; }
  // Prints the summary and the line with ranks, wall time, rate and output (complete runs,
  // unless --quiet).
  void print_summary(double wall) const;

  // Writes /workers, wall_seconds and the status (last); returns the exit code.
  int finish();

 private:
  libpool::Executor& pool_;
  common::OutputFile& out_;
  common::OutputLock& lock_;
  const CommonOptions& options_;
  std::vector<std::string> hosts_;
  std::chrono::steady_clock::time_point t0_;
  Run api_;
  std::vector<std::uint64_t> rank_chunks_;
  std::vector<double> rank_busy_;
  bool failed_ = false;
  bool refused_ = false;
  bool incomplete_ = false;
  bool lost_rank_ = false;
  int signalled_rank_ = 0;  // the worker that got the signal that stopped the run (0: rank 0)
  std::string error_message_;
  std::optional<common::ErrorInfo> pending_error_;  // written at finish (not under SWMR)
  double last_flush_ = 0;
  double last_touch_ = 0;
  bool stopping_ = false;  // a signal came: no new chunks, flushed
  double drain_until_ = 0;
  std::vector<std::unique_ptr<RowsOut>> rows_out_;
  std::string summary_;
  std::string workload_;
  std::string api_pass_;
  int passes_ = 0;
  std::uint64_t chunk_size_ = 0;
  std::string unit_ = "items";
  std::uint64_t computed_ = 0;
  // progress
  std::string label_;
  std::uint64_t total_ = 0;
  std::uint64_t done_ = 0;
  bool live_ = false;      // a redrawn line on a terminal
  bool periodic_ = false;  // a status line every --progress-interval seconds (logs)
  double last_print_ = 0;
  void print_progress(bool final_line);
};

// What the driver needs of a workload. Workloads written on the public API reach it through an
// adapter (api.cpp).
class Entry {
 public:
  virtual ~Entry() = default;
  virtual std::string name() const = 0;
  virtual std::string description() const = 0;
  virtual void add_options(CLI::App& sub) = 0;
  // Checks the options after parsing (every rank); throws common::UsageError.
  virtual void validate(const CommonOptions& options) const = 0;
  // Called on every rank before validate(): a workload may take a part of the common options
  // (one that writes a dataset takes "-o FILE.h5:/DSET" apart); throws common::UsageError.
  virtual void adjust_options(CommonOptions& /*options*/) {}
  // Registers the workload's tasks (every rank, every workload of the program).
  virtual void register_tasks(libpool::Registry& /*registry*/) const {}
  // Per-rank preparation before the pool starts (every rank, the chosen workload only).
  virtual void setup() {}
  // The pool's initializer, if the workload needs one.
  virtual void configure(libpool::Options& /*options*/) const {}
  // What a --resume must agree on besides the workload: its own options, seed, input files'
  // identity (common::file_identity), in a fixed order. Called after validate().
  virtual common::Identity identity() const = 0;
  // The files the run reads (none by default): the output may be none of them.
  virtual std::vector<std::string> input_files() const { return {}; }
  // Computes, writes /result, returns the exit code (master only).
  virtual int run(RunCore& run) = 0;
};

// Adapts a workload written on the public API.
std::unique_ptr<Entry> adapt(std::unique_ptr<Workload> workload);

// The whole program: parse and check on every rank, agree, build the pool, run on rank 0.
// `program` names the program in messages ("poolrun").
int run_main(int argc, char** argv, std::vector<std::unique_ptr<Entry>> entries,
             const std::string& program, const std::string& about);

// The program's name in messages ("poolrun").
const std::string& program_name();

// Testing aids, unset in normal use: every task that calls this first sleeps
// POOLRUN_TASK_DELAY_MS milliseconds (read once per rank), so that fault tests can kill or
// signal a run while its chunks are in flight; with POOLRUN_TASK_FAIL_AFTER=N every task after a
// rank's first N raises, so that tests can make a failed file of any workload.
void test_delay();
// (The master's test points, POOLRUN_TEST_POINT, are common::test_point: common/run_info.hpp.)

// Formatting for summaries.
std::string human_seconds(double s);
std::string human_rate(double per_second, const std::string& unit);

}  // namespace libpool::batch::detail
