// The output file of a run (PRODUCT.md §4).
//
//   OutputFile::check_target(path, force);            // at option parsing, before any work
//   auto out = OutputFile::create(path, force, meta); // writes <path>.partial, status "running"
//   out.result().write_dataset("count", ...);         // the workload's results
//   out.append_chunk({...}); out.flush();             // as chunks complete
//   out.set_workers(rows);
//   out.finish(RunStatus::complete, wall_seconds);    // status last, then rename to <path>
//
// Crash safety: until finish() the data lives in "<path>.partial" with status "running"; finish
// writes everything, sets status last, flushes, closes and renames atomically. A run that dies
// (or an OutputFile destroyed without finish) never leaves a file under <path>, and nothing it
// leaves claims "complete". With --force an existing <path> is replaced only at that rename.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/h5.hpp"
#include "common/table.hpp"

namespace common {

enum class RunStatus { running, complete, failed, partial };
std::string_view to_string(RunStatus status) noexcept;

// Values for ChunkRow::status.
inline constexpr std::string_view chunk_done = "done";      // result recorded
inline constexpr std::string_view chunk_failed = "failed";  // the task raised on the worker
inline constexpr std::string_view chunk_lost = "lost";      // its rank died while running it

struct RunMeta {
  std::string workload;
  std::string config;        // the effective TOML (cli::effective_config)
  std::string command_line;  // join_command_line(argc, argv)
  std::int64_t ranks = 0;
  std::vector<std::string> hosts;
  std::string libpool_version;  // empty: this build's version
};

struct ChunkRow {
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
  std::int64_t rank = 0;
  double start_s = 0;  // seconds since the run started
  double end_s = 0;
  std::int64_t attempt = 1;
  std::string status = std::string(chunk_done);
};

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

class OutputFile {
 public:
  // Throws common::UsageError (one line) when path exists and !force, is a directory, or its
  // directory is missing or not writable. create() checks again; call this before any work.
  static void check_target(const std::filesystem::path& path, bool force);
  static OutputFile create(const std::filesystem::path& path, bool force, const RunMeta& meta);
  // Continues an interrupted (status "partial" or "failed") output: copies it to
  // <path>.partial and appends there; <path> stays untouched until finish().
  static OutputFile resume(const std::filesystem::path& path);

  OutputFile(OutputFile&&) noexcept;
  OutputFile& operator=(OutputFile&&) noexcept;
  // Without finish(): flushes buffered rows into <path>.partial, leaves status "running".
  ~OutputFile();

  const std::filesystem::path& path() const;
  std::filesystem::path partial_path() const;
  h5::File& file();
  h5::Group& result();

  void set_ranks(std::int64_t ranks);
  void set_hosts(std::span<const std::string> hosts);

  // Buffered; written by flush() (and every `auto_flush_rows` rows).
  void append_chunk(const ChunkRow& row);
  // Writes buffered rows and flushes the file: what is flushed survives a crash of this process.
  void flush();
  // Every chunk row so far (flushed or not); for --resume, the rows found in the file.
  std::vector<ChunkRow> chunks();

  // Replaces the /workers table.
  void set_workers(std::span<const WorkerRow> rows);
  // Records the error that failed the run in the /error group.
  void set_error(const ErrorInfo& error);

  // Writes wall_seconds, flushes, sets status (last), closes and renames to path().
  void finish(RunStatus status, double wall_seconds);
  bool finished() const noexcept;

  static constexpr hsize_t auto_flush_rows = 4096;

 private:
  struct State;
  explicit OutputFile(std::unique_ptr<State> state);
  State& state() const;
  std::unique_ptr<State> s_;
};

}  // namespace common
