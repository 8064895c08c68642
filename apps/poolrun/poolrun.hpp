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

  // 0 for "auto".
  std::uint64_t chunksize_value() const;
  bool guided() const { return schedule == "guided"; }
  ProgressMode progress_mode() const;
};

// A half-open span of a workload's index space: numbers, samples, n values, list positions.
struct Span {
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
  std::uint64_t size() const { return end - begin; }
};

// Cuts [begin, end) into chunks: fixed size (dynamic) or remaining / (2 * workers), never below
// `min_size` (guided), the schedules of libpool::MapOptions.
class Chunker {
 public:
  Chunker(Span whole, std::uint64_t size, bool guided, std::uint64_t workers);
  std::optional<Span> next();
  std::uint64_t size() const { return size_; }

 private:
  Span whole_;
  std::uint64_t next_;
  std::uint64_t size_;
  bool guided_;
  std::uint64_t workers_;
};

// Set by SIGINT, SIGTERM and SIGUSR1 (Slurm's warning before the time limit).
extern volatile std::sig_atomic_t g_interrupt_signal;
void install_signal_handlers();

// The master's view of a run: pool, output file, progress, per-rank statistics.
class Run {
 public:
  Run(libpool::Executor& pool, common::OutputFile& out, const CommonOptions& options,
      std::vector<std::string> hosts, std::chrono::steady_clock::time_point t0);

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

  // Records a finished (or failed) chunk in /chunks and in the rank statistics.
  void record_chunk(Span span, const libpool::TaskInfo& info, std::string_view status);
  // Records the error that fails the run (the first one wins).
  void record_error(const libpool::RemoteError& e, Span span);
  void record_error(const std::string& message, Span span);
  bool failed() const { return failed_; }
  bool interrupted() const { return g_interrupt_signal != 0; }
  const std::string& error_message() const { return error_message_; }

  // Writes /workers, wall_seconds and the status (last); returns the exit code.
  int finish();

 private:
  libpool::Executor& pool_;
  common::OutputFile& out_;
  const CommonOptions& options_;
  std::vector<std::string> hosts_;
  std::chrono::steady_clock::time_point t0_;
  std::vector<std::uint64_t> rank_chunks_;
  std::vector<double> rank_busy_;
  bool failed_ = false;
  std::string error_message_;
  // progress
  std::string label_;
  std::uint64_t total_ = 0;
  std::uint64_t done_ = 0;
  bool live_ = false;      // a redrawn line on a terminal
  bool periodic_ = false;  // a status line every few seconds (logs)
  double last_print_ = 0;
  void print_progress(bool final_line);
};

// Runs chunks through the pool with a bounded number in flight: submit(span) schedules one,
// on_done(span, result) consumes it. Stops submitting at the first failure or on a signal,
// cancels what is queued and drains what runs. Returns true if every chunk completed.
template <class R>
bool run_chunks(Run& run, const std::function<std::optional<Span>()>& next,
                const std::function<libpool::Future<R>(Span)>& submit,
                const std::function<void(Span, const R&)>& on_done) {
  struct Pending {
    libpool::Future<R> future;
    Span span;
  };
  const std::size_t window = std::max<std::size_t>(4, 4 * run.workers());
  std::vector<Pending> pending;
  bool stop = false;
  bool exhausted = false;
  auto settle = [&](const Pending& p) {
    if (p.future.cancelled()) return;
    try {
      const R& r = p.future.get();
      on_done(p.span, r);
      run.record_chunk(p.span, p.future.info(), common::chunk_done);
      run.add_progress(p.span.size());
    } catch (const libpool::RemoteError& e) {
      run.record_chunk(p.span, p.future.info(), common::chunk_failed);
      run.record_error(e, p.span);
      stop = true;
    } catch (const std::exception& e) {  // a failure on the master (e.g. overflow of a total)
      run.record_chunk(p.span, p.future.info(), common::chunk_failed);
      run.record_error(e.what(), p.span);
      stop = true;
    }
  };
  while (true) {
    stop = stop || run.interrupted();
    while (!stop && !exhausted && pending.size() < window) {
      auto span = next();
      if (!span) {
        exhausted = true;
        break;
      }
      pending.push_back({submit(*span), *span});
    }
    if (pending.empty()) break;
    if (stop) {
      // Queued work is cancelled; what a worker already has is waited for and kept.
      for (auto& p : pending) p.future.cancel();
      for (auto& p : pending) {
        p.future.wait();
        settle(p);
      }
      pending.clear();
      break;
    }
    std::vector<libpool::Future<R>> fs;
    fs.reserve(pending.size());
    for (auto& p : pending) fs.push_back(p.future);
    // A timeout keeps progress lines and signals responsive while chunks run.
    libpool::wait(fs, libpool::ReturnWhen::FirstCompleted, std::chrono::milliseconds(200));
    std::vector<Pending> still;
    for (auto& p : pending) {
      if (p.future.done()) {
        settle(p);
      } else {
        still.push_back(std::move(p));
      }
    }
    pending = std::move(still);
    run.add_progress(0);
  }
  return !run.failed() && !run.interrupted();
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
// The pool initializer of stats and thumbnails: every rank that runs tasks opens the input once
// and keeps it open for its tasks (input_dataset()).
void init_input(std::string file, std::string dataset);
const h5::Dataset& input_dataset();

// Tasks shared by several workloads (seed reuses the others').
u128 power_sum_task(unsigned k, std::uint64_t begin, std::uint64_t end);
std::uint64_t count_primes_task(std::uint64_t begin, std::uint64_t end);
void init_base_primes(std::uint64_t upper_bound);
std::uint64_t pi_inside_task(std::uint64_t seed, std::uint64_t first, std::uint64_t count);
std::uint64_t smallest_factor_task(std::uint64_t n);

// Formatting for summaries.
std::string human_seconds(double s);
std::string human_rate(double per_second, const std::string& unit);

// The whole program; main() only calls this.
int main(int argc, char** argv);

}  // namespace poolrun
