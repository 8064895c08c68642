// The output file of a run (PRODUCT.md §4) and its crash-safe chunk ledger.
//
//   OutputFile::check_target(path, force);             // at option parsing, before any work
//   auto out = OutputFile::create(path, meta);          // "<path>.partial", status "running"
//   ... create the workload's ledger and data datasets (out.file(), out.result())
//   out.start();                                        // SWMR from here: no new objects
//   out.append_chunk({...});                            // as chunks complete (buffered)
//   out.flush();                                        // at least every flush interval
//   out.end_ledger();                                   // plain writing again
//   out.result().write_scalar(...); out.set_workers(rows);
//   out.finish(RunStatus::complete, wall_seconds);      // status last, then rename to <path>
//
// Crash safety. Until finish() the file is "<path>.partial" with status "running", written in
// HDF5's single-writer/multiple-reader (SWMR) mode, so whenever the process dies the file on
// disk is a consistent HDF5 file as of the last flush: h5py opens it with
// h5py.File(f, "r", swmr=True) (plain readers refuse a file its writer left flagged open until
// `h5clear -s` clears the flag). flush() makes a chunk's data durable (fsync) before the row
// that claims it, so every row in /chunks has its partial result on disk: --resume keeps it.
// A run that dies never leaves a file under <path>, and nothing it leaves claims "complete".
// With --force an existing <path> is replaced only at the final rename.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/h5.hpp"
#include "common/table.hpp"

namespace common {

enum class RunStatus { running, complete, failed, partial };
std::string_view to_string(RunStatus status) noexcept;

// Values for ChunkRow::status.
inline constexpr std::string_view chunk_done = "done";      // result recorded
inline constexpr std::string_view chunk_failed = "failed";  // the task raised on the worker

// What a run must agree on with the run it resumes: the workload, its own options, the seed,
// the input files' identity, the version of the results. Pairs of (name, value), compared one by
// one; the first that differs is named in the refusal.
using Identity = std::vector<std::pair<std::string, std::string>>;

struct RunMeta {
  std::string workload;
  std::string config;        // the effective TOML (cli::effective_config)
  std::string command_line;  // join_command_line(argc, argv)
  std::int64_t ranks = 0;
  std::vector<std::string> hosts;
  std::string libpool_version;  // empty: this build's version
  Identity identity;
  // Provenance (root attributes): the files the run reads and the MPI library it runs on;
  // the working directory, build, compiler and HDF5 version come from this process.
  std::vector<std::string> input_files;
  std::string mpi_library;
};

struct ChunkRow {
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
  std::int64_t rank = 0;
  double start_s = 0;  // seconds since this run (attempt) started
  double end_s = 0;
  std::int64_t attempt = 1;  // 1: the first run of this output; 2: its first --resume; ...
  std::string status = std::string(chunk_done);
  std::string pass;  // the pass or program the chunk belongs to (at most 15 bytes)
  // The chunk's partial result when it is an integer of at most 128 bits (a count, an exact
  // sum): low and high 64 bits, for readers of the file.
  std::uint64_t partial = 0;
  std::uint64_t partial_hi = 0;
  // The chunk's partial result as the workload API stores it (libpool::Codec bytes, any size):
  // kept in /partials at partial_offset, partial_bytes long. Empty: none.
  std::string blob;
  // Read back: whether the row matched its checksum (/chunks/checksum). A damaged row is not
  // trusted: --resume computes its chunk again.
  bool intact = true;
};

// A row's checksum: CRC-32 of what --resume trusts in it (docs/output.md, "/chunks").
std::uint64_t row_checksum(const ChunkRow& row);

struct WorkerRow {
  std::int64_t rank = 0;
  std::string host;
  std::uint64_t chunks = 0;
  double busy_s = 0;
  double idle_s = 0;
};

struct ErrorInfo {
  std::int64_t rank = -1;
  std::string host;
  std::uint64_t chunk_begin = 0;
  std::uint64_t chunk_end = 0;
  std::string message;
};

// What --resume found under the output's name, read before any work starts.
struct ResumeState {
  std::filesystem::path file;  // <path>.partial (a crashed or running run) or <path>
  std::string status;          // as recorded
  bool complete = false;       // nothing to do
  std::uint64_t chunks = 0;    // rows kept
};

class OutputFile {
 public:
  // Throws common::UsageError (one line) when path exists and !force, is a directory, or its
  // directory is missing or not writable. create() checks again; call this before any work.
  static void check_target(const std::filesystem::path& path, bool force);
  // For --resume: finds what a previous run left under path (<path>.partial first), checks that
  // it is a poolrun output of the same identity (UsageError naming what differs otherwise).
  static ResumeState check_resume(const std::filesystem::path& path, const RunMeta& meta);

  static OutputFile create(const std::filesystem::path& path, bool force, const RunMeta& meta);
  // Continues what check_resume() found: moves it to <path>.partial if needed, keeps its rows,
  // records this attempt in /resumes, and sets status "running" again.
  static OutputFile resume(const std::filesystem::path& path, const RunMeta& meta);

  OutputFile(OutputFile&&) noexcept;
  OutputFile& operator=(OutputFile&&) noexcept;
  // Without finish(): flushes what is buffered into <path>.partial, leaves status "running".
  ~OutputFile();

  const std::filesystem::path& path() const;
  std::filesystem::path partial_path() const;
  h5::File& file();
  // The /result group. Once the ledger has started, this ends it first (end_ledger()): results
  // are new objects, which SWMR mode does not allow. Open datasets for the run before start().
  h5::Group& result();
  // True when this output continues an earlier run (its datasets exist already).
  bool resumed() const;
  // This run's attempt number (1 for a new output).
  std::int64_t attempt() const;
  // The rows earlier attempts left (resume), in file order.
  const std::vector<ChunkRow>& previous_chunks() const;

  // Enters SWMR mode: every dataset must exist by now.
  void start();
  bool started() const;

  // Buffered; written by flush().
  void append_chunk(const ChunkRow& row);
  std::uint64_t buffered_rows() const;
  // The current pass's items in all and done so far, for readers of a running file (/progress,
  // written at each flush).
  void set_progress(std::uint64_t total, std::uint64_t done);
  // Makes everything written so far durable, then the buffered rows: a row reaches the disk
  // only after the data it claims.
  void flush();
  // Leaves SWMR mode (flushes, closes and reopens the file): results may be written again.
  void end_ledger();

  // Replaces the /workers table.
  void set_workers(std::span<const WorkerRow> rows);
  // Records the error that failed the run in the /error group.
  void set_error(const ErrorInfo& error);

  // Writes wall_seconds, flushes, sets status (last), closes and renames to path().
  void finish(RunStatus status, double wall_seconds);
  bool finished() const noexcept;

 private:
  struct State;
  explicit OutputFile(std::unique_ptr<State> state);
  State& state() const;
  std::unique_ptr<State> s_;
};

// The committed rows of a /chunks table (the shortest column after a crash).
std::vector<ChunkRow> read_chunk_rows(const h5::Table& chunks);

// "name1=value1\nname2=value2" and back: how an Identity is stored (root attribute "identity").
std::string encode_identity(const Identity& identity);
Identity decode_identity(std::string_view text);
// A file's identity for resume checks: "<size> bytes, modified <mtime ns>".
std::string file_identity(const std::filesystem::path& path);

}  // namespace common
