// The master's bookkeeping for a run: chunk rows, rank statistics, progress, the final status.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "batch/core.hpp"
#include "common/cli.hpp"
#include "common/errors.hpp"

namespace libpool::batch::detail {

volatile std::sig_atomic_t g_interrupt_signal = 0;

namespace {
extern "C" void on_signal(int sig) {
  g_interrupt_signal = sig;
}
}  // namespace

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;  // MPI and HDF5 calls must not see EINTR
  for (int sig : {SIGINT, SIGTERM, SIGUSR1}) sigaction(sig, &sa, nullptr);
}

std::uint64_t CommonOptions::chunksize_value() const {
  if (chunksize == "auto") return 0;
  const auto v = common::cli::parse_u64(chunksize, "--chunksize");
  if (v == 0) throw common::UsageError("--chunksize: must be positive or 'auto'");
  return v;
}

ProgressMode CommonOptions::progress_mode() const {
  if (progress == "always") return ProgressMode::always;
  if (progress == "never") return ProgressMode::never;
  return ProgressMode::automatic;
}

RunCore::RunCore(libpool::Executor& pool, common::OutputFile& out, common::OutputLock& lock,
                 const CommonOptions& options, std::vector<std::string> hosts,
                 std::chrono::steady_clock::time_point t0)
    : pool_(pool),
      out_(out),
      lock_(lock),
      options_(options),
      hosts_(std::move(hosts)),
      t0_(t0),
      api_(this),
      rank_chunks_(static_cast<std::size_t>(pool.size()), 0),
      rank_busy_(static_cast<std::size_t>(pool.size()), 0.0) {
  std::size_t damaged = 0;
  if (out_.resumed())
    for (const auto& r : out_.previous_chunks()) damaged += r.intact ? 0 : 1;
  if (damaged > 0)
    std::cerr << program_name() << ": " << damaged << " ledger row(s) of " << options_.output
              << " fail their checksum (damaged); their chunks are computed again\n";
}

double RunCore::elapsed() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
}

std::vector<common::ChunkRow> RunCore::previous(std::string_view pass) const {
  std::vector<common::ChunkRow> rows;
  for (const auto& r : out_.previous_chunks()) {
    if (r.pass == pass && r.status == common::chunk_done && r.intact) rows.push_back(r);
  }
  return rows;
}

libpool::SpanOptions RunCore::span_options(std::string_view pass, std::uint64_t auto_min,
                                           std::uint64_t auto_max, std::uint64_t granule) const {
  libpool::SpanOptions opt;
  opt.chunksize = options_.chunksize_value();
  opt.min_chunk = auto_min;
  opt.max_chunk = auto_max;
  opt.granule = granule;
  opt.schedule = options_.guided() ? libpool::Schedule::Guided : libpool::Schedule::Dynamic;
  for (const auto& r : previous(pass)) opt.skip.push_back({r.begin, r.end});
  return opt;
}

common::ChunkRow RunCore::row_for(libpool::Span span, const libpool::TaskInfo& info,
                                  std::string_view pass) const {
  common::ChunkRow row;
  row.begin = span.begin;
  row.end = span.end;
  row.rank = info.rank;
  row.start_s = info.start_s;
  row.end_s = info.end_s;
  row.attempt = out_.attempt();
  row.pass = std::string(pass);
  return row;
}

void RunCore::record_chunk(common::ChunkRow row) {
  out_.append_chunk(row);
  // Tiny chunks: rows wait in memory only up to a bound, then go out (data first) early.
  if (out_.buffered_rows() >= kMaxBufferedRows) flush_ledger();
  if (row.rank >= 0 && static_cast<std::size_t>(row.rank) < rank_chunks_.size()) {
    const auto r = static_cast<std::size_t>(row.rank);
    ++rank_chunks_[r];
    rank_busy_[r] += std::max(0.0, row.end_s - row.start_s);
  }
}

void RunCore::handle_error(std::exception_ptr error, common::ChunkRow& row, libpool::Span span) {
  try {
    std::rethrow_exception(error);
  } catch (const libpool::RemoteInfo& e) {  // a task's failure, whatever its type
    row.status = std::string(common::chunk_failed);
    record_chunk(row);
    record_error(e, span);
  } catch (const libpool::BrokenPool& e) {
    // A rank is gone (or the pool broke): the chunk was not computed, nothing to record but why
    // and where: /error names the rank and host that were lost, not the master.
    if (!lost_rank_ && !failed_) {
      lost_rank_ = true;
      int rank = 0;
      std::string host = hosts_.empty() ? std::string() : hosts_[0];
      if (const auto* lost = dynamic_cast<const libpool::WorkerLost*>(&e)) {
        rank = lost->rank();
        host = lost->host();
      } else if (const auto* late = dynamic_cast<const libpool::TaskTimeout*>(&e)) {
        rank = late->rank();
        host = late->host();
      }
      record_error(e.what(), span, rank, host);
    }
  } catch (const std::exception& e) {
    row.status = std::string(common::chunk_failed);
    record_chunk(row);
    record_error(e.what(), span);
  }
}

void RowsOut::write_slab(std::uint64_t first, std::uint64_t rows, const std::byte* data) {
  std::vector<hsize_t> offset(dims.size(), 0), count = dims;
  offset[0] = first;
  count[0] = rows;
  dataset.write_raw(dtype, offset, count, rows * row_elements, data);
}

void RowsOut::write_pending() {
  auto it = pending.begin();
  std::vector<std::byte> run;
  while (it != pending.end()) {
    const std::uint64_t first = it->first;
    std::uint64_t at = first;
    run.clear();
    while (it != pending.end() && it->first == at) {
      run.insert(run.end(), it->second.begin(), it->second.end());
      at += it->second.size() / row_bytes();
      it = pending.erase(it);
    }
    write_slab(first, at - first, run.data());
  }
  pending_bytes = 0;
}

void RowsOut::write_whole_chunks(std::map<std::uint64_t, std::vector<std::byte>>::iterator run) {
  const std::uint64_t first = run->first;
  const std::uint64_t end = first + run->second.size() / row_bytes();
  // The dataset's last rows end its edge chunk.
  const std::uint64_t boundary = end == dims[0] ? end : end / chunk_rows * chunk_rows;
  if (boundary <= first) return;
  const std::uint64_t rows = boundary - first;
  write_slab(first, rows, run->second.data());
  pending_bytes -= rows * row_bytes();
  if (boundary == end) {
    pending.erase(run);
    return;
  }
  std::vector<std::byte> rest(run->second.begin() + static_cast<std::ptrdiff_t>(rows * row_bytes()),
                              run->second.end());
  pending.erase(run);
  pending.emplace(boundary, std::move(rest));
}

void RunCore::write_rows_pending() {
  for (auto& r : rows_out_)
    if (r->dataset.valid()) r->write_pending();
}

void RunCore::close_rows() {
  write_rows_pending();
  for (auto& r : rows_out_) r->dataset = h5::Dataset();
}

void RunCore::flush_ledger() {
  write_rows_pending();
  out_.flush();
  last_flush_ = elapsed();
  lock_.touch();
  last_touch_ = last_flush_;
}

bool RunCore::tick(const std::function<void()>& stop) {
  const double now = elapsed();
  // A worker that got SIGINT, SIGTERM or SIGUSR1 (an administrator's kill, a node going down):
  // the run stops as it would for the same signal to rank 0 - drained, flushed, resumable -
  // instead of going on without being told, or losing that rank's work at mpirun's next step.
  if (!interrupted()) {
    if (const auto w = pool_.worker_signal()) {
      signalled_rank_ = w->rank;
      g_interrupt_signal = w->signal;
    }
  }
  if (interrupted() && !stopping_) {
    // The flush comes first: mpirun SIGKILLs its ranks about a second after forwarding
    // SIGTERM/SIGINT, so whatever draining follows is a bonus.
    stopping_ = true;
    stop();
    flush_ledger();
    // Slurm's warning (SIGUSR1) leaves time to finish what runs; TERM and INT do not.
    drain_until_ = elapsed() + (g_interrupt_signal == SIGUSR1 ? 30.0 : 0.5);
    return true;
  }
  if (stopping_ && now > drain_until_) return false;
  if (now - last_flush_ >= options_.flush_interval) {
    flush_ledger();
  } else if (now - last_touch_ >= 5.0) {
    lock_.touch();
    last_touch_ = now;
  }
  add_progress(0);
  return true;
}

void RunCore::record_error(const libpool::RemoteInfo& e, libpool::Span span) {
  if (failed_) return;
  failed_ = true;
  error_message_ = "rank " + std::to_string(e.rank()) + " on " + e.host() + ", task " + e.task() +
                   ", chunk [" + std::to_string(span.begin) + ", " + std::to_string(span.end) +
                   "): " + e.type() + ": " + e.message();
  pending_error_ =
      common::ErrorInfo{e.rank(), e.host(), span.begin, span.end, e.type() + ": " + e.message()};
}

void RunCore::record_error(const std::string& message, libpool::Span span) {
  record_error(message, span, 0, hosts_.empty() ? std::string() : hosts_[0]);
}

void RunCore::record_error(const std::string& message, libpool::Span span, int rank,
                           const std::string& host) {
  if (failed_) return;
  failed_ = true;
  error_message_ = lost_rank_ ? message
                              : "chunk [" + std::to_string(span.begin) + ", " +
                                    std::to_string(span.end) + "): " + message;
  pending_error_ = common::ErrorInfo{rank, host, span.begin, span.end, message};
}

void RunCore::fail(const std::string& message) {
  if (failed_) return;
  failed_ = true;
  error_message_ = message;
  pending_error_ = common::ErrorInfo{0, hosts_.empty() ? std::string() : hosts_[0], 0, 0, message};
}

void RunCore::refuse(const std::string& message) {
  if (failed_) return;
  failed_ = true;
  refused_ = true;
  error_message_ = message;
  pending_error_ = common::ErrorInfo{0, hosts_.empty() ? std::string() : hosts_[0], 0, 0, message};
}

void RunCore::start_progress(const std::string& label, std::uint64_t total) {
  label_ = label;
  total_ = total;
  done_ = 0;
  last_print_ = elapsed();
  out_.set_progress(total_, 0);
  // auto: a redrawn bar when stderr is a terminal, a line per --progress-interval otherwise.
  // Under mpirun rank 0's stderr is a pipe to mpirun even when mpirun writes to a terminal, so
  // no rank can tell: `always` draws the bar on whatever stderr is (the user says it is shown
  // on a terminal).
  const auto mode = options_.progress_mode();
  const bool tty = ::isatty(STDERR_FILENO) != 0;
  const bool show = !options_.quiet && mode != ProgressMode::never;
  live_ = show && (tty || mode == ProgressMode::always);
  periodic_ = show && !live_;
}

void RunCore::add_progress(std::uint64_t items) {
  done_ += items;
  computed_ += items;
  out_.set_progress(total_, done_);
  if (!live_ && !periodic_) return;
  const double now = elapsed();
  // A terminal redraws often; a log gets a line per --progress-interval.
  const double every = live_ ? 0.2 : options_.progress_interval;
  if (now - last_print_ < every) return;
  last_print_ = now;
  print_progress(false);
}

void RunCore::end_progress() {
  if (live_) print_progress(true);
  live_ = periodic_ = false;
}

void RunCore::print_progress(bool final_line) {
  const double t = elapsed();
  const double frac = total_ ? static_cast<double>(done_) / static_cast<double>(total_) : 1.0;
  const double rate = t > 0 ? static_cast<double>(done_) / t : 0.0;
  std::ostringstream line;
  // "poolrun pi: ...", or "collatz: ..." for a program named after its one workload.
  line << program_name();
  if (label_ != program_name()) line << ' ' << label_;
  line << ": ";
  char pct[16];
  std::snprintf(pct, sizeof pct, "%5.1f%%", 100.0 * frac);
  line << pct << "  " << done_ << "/" << total_ << "  " << human_rate(rate, "/s") << "  "
       << human_seconds(t);
  if (frac > 0 && frac < 1) line << "  ETA " << human_seconds(t / frac - t);
  if (live_) {
    const int bar = 20;
    const int full = static_cast<int>(frac * bar);
    std::cerr << "\r[" << std::string(static_cast<std::size_t>(full), '#')
              << std::string(static_cast<std::size_t>(bar - full), ' ') << "] " << line.str()
              << "\x1b[K" << (final_line ? "\n" : "") << std::flush;
  } else {
    std::cerr << line.str() << '\n' << std::flush;
  }
}

int RunCore::finish() {
  end_progress();
  close_rows();  // the datasets close before the file leaves SWMR mode
  const double wall = elapsed();
  std::vector<common::WorkerRow> rows;
  for (std::size_t r = 0; r < rank_chunks_.size(); ++r) {
    common::WorkerRow w;
    w.rank = static_cast<std::int64_t>(r);
    w.host = r < hosts_.size() ? hosts_[r] : std::string();
    w.chunks = rank_chunks_[r];
    w.busy_s = rank_busy_[r];
    w.idle_s = std::max(0.0, wall - rank_busy_[r]);
    rows.push_back(w);
  }
  out_.set_workers(rows);
  if (pending_error_) out_.set_error(*pending_error_);
  // The status is what was computed: every pass complete (and the workload's results written)
  // is complete, even when a signal came after the last chunk; a pass cut short is partial.
  common::RunStatus status = common::RunStatus::complete;
  int code = exit_complete;
  if (failed_) {
    status = common::RunStatus::failed;
    code = refused_ ? exit_usage : exit_failed;
  } else if (incomplete_) {
    status = common::RunStatus::partial;
    code = exit_interrupted;
  }
  out_.result().set_attr("complete", std::int64_t{status == common::RunStatus::complete});
  out_.finish(status, wall);
  lock_.release();  // the file is final: another run may take it from here
  if (refused_) {
    std::cerr << program_name() << ": error: " << error_message_ << '\n';
  } else if (failed_ && lost_rank_) {
    std::cerr << program_name() << ": error: " << error_message_ << "; " << options_.output
              << " has status failed, resume it with --resume\n";
  } else if (failed_) {
    std::cerr << program_name() << ": error: task failed: " << error_message_ << " ("
              << options_.output << ", status failed)\n";
  } else if (incomplete_) {
    std::cerr << program_name() << ": interrupted"
              << (interrupted() ? " by signal " + std::to_string(g_interrupt_signal) : "")
              << (signalled_rank_ > 0 ? " (to rank " + std::to_string(signalled_rank_) + ")" : "")
              << "; " << options_.output << " has status partial (continue it with --resume)\n";
  }
  return code;
}

void RunCore::print_summary(double wall) const {
  if (options_.quiet) return;
  std::cout << summary_;
  if (!summary_.empty() && summary_.back() != '\n') std::cout << '\n';
  // The rate counts what this attempt computed, not the chunks kept from earlier ones.
  const double rate = wall > 0 ? static_cast<double>(computed_) / wall : 0.0;
  std::cout << "  on " << pool_.size() << " rank(s) in " << human_seconds(wall);
  if (!unit_.empty()) std::cout << ", " << human_rate(rate, unit_ + "/s");
  if (!unit_.empty() && pool_.workers() > 1)
    std::cout << " (" << human_rate(rate / static_cast<double>(pool_.workers()), unit_ + "/s")
              << " per computing rank)";
  std::cout << " -> " << options_.output << '\n';
}

void test_delay() {
  static const long ms = [] {
    const char* v = std::getenv("POOLRUN_TASK_DELAY_MS");
    return v ? std::strtol(v, nullptr, 10) : 0L;
  }();
  if (ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  // Another testing aid: POOLRUN_TASK_FAIL_AFTER=N makes every task after a rank's first N raise,
  // so that a failed file of any workload can be made (most cannot fail on real input).
  static const long fail_after = [] {
    const char* v = std::getenv("POOLRUN_TASK_FAIL_AFTER");
    return v ? std::strtol(v, nullptr, 10) : -1L;
  }();
  static std::atomic<long> calls{0};
  if (fail_after >= 0 && calls.fetch_add(1) >= fail_after)
    throw std::runtime_error(
        "task failed on purpose (POOLRUN_TASK_FAIL_AFTER=" + std::to_string(fail_after) + ")");
}

std::string human_seconds(double s) {
  char buf[32];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%.3g s", s);
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s / 60), static_cast<int>(s) % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(s / 3600),
                  static_cast<int>(s / 60) % 60);
  }
  return buf;
}

std::string human_rate(double per_second, const std::string& unit) {
  const char* prefixes[] = {"", "k", "M", "G", "T", "P"};
  int i = 0;
  while (per_second >= 1000 && i < 5) {
    per_second /= 1000;
    ++i;
  }
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.3g %s%s", per_second, prefixes[i], unit.c_str());
  return buf;
}

}  // namespace libpool::batch::detail
