// poolreport: reads a poolrun output file (docs/output.md) and reports what it holds.
//
//   auto r = poolreport::read_report("pi.h5");   // FILE.h5, or FILE.h5.partial as SWMR reader
//   std::cout << poolreport::to_text(r);          // or to_json(r)
//   poolreport::write_timeline(r, "pi.svg");      // one lane per rank, one box per chunk
#pragma once

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/output.hpp"
#include "exec_record.hpp"

namespace poolreport {

// A file that is missing or not a poolrun output: one line, exit 2.
class ReportError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

using Chunk = common::ChunkRow;

// One value of /result: a scalar (json is its JSON text, text its plain text), or a dataset
// too large to print (shape and dtype only), or a group of such values.
struct Value {
  std::string name;
  bool scalar = false;
  std::string text, json;
  std::vector<std::uint64_t> shape;
  std::string dtype;
  std::vector<Value> members;  // a group
  bool group = false;
};

struct RankRow {
  std::int64_t rank = 0;
  std::string host;
  std::uint64_t chunks = 0;
  double busy_s = 0;
  double busy_pct = 0, idle_pct = 0;
};

struct Failure {
  std::string message;
  std::int64_t rank = -1;
  std::string host;
  std::uint64_t count = 0;  // failed rows (or 1 for /error alone)
  std::uint64_t begin = 0, end = 0;
};

// A task of poolrun exec whose last record says it failed.
struct FailedTask {
  std::uint64_t index = 0;  // 0-based; its number ({#}) is index + 1
  poolrun::ExecRecord record;
};

struct Resume {
  std::string time;
  std::int64_t attempt = 0, ranks = 0;
  std::string hosts;
  std::uint64_t chunks_kept = 0, chunks_done = 0;
  std::string previous_status, previous_error;
};

// An input file as the run recorded it (provenance).
struct InputFile {
  std::string path, mtime, checksum;
  std::uint64_t size = 0;
};

struct Report {
  std::filesystem::path file;
  bool swmr = false;            // opened as a SWMR reader (a running or crashed file)
  std::string last_flush;       // the .partial file's modification time (ISO 8601 UTC)
  double since_flush_s = 0;     // seconds since then
  bool partial_beside = false;  // FILE.h5 read while FILE.h5.partial exists (a resume writes)
  std::string workload, status, created, libpool_version, command_line, config;
  std::vector<std::pair<std::string, std::string>> identity;
  // Provenance: working directory, build, libraries (name, value), and the input files.
  std::vector<std::pair<std::string, std::string>> provenance;
  std::vector<InputFile> inputs;
  // /progress as of the last flush: the current pass's items and those done (0, 0: unknown).
  std::uint64_t progress_total = 0, progress_done = 0;
  std::vector<Value> result;
  bool has_wall = false;
  double wall_s = 0;  // wall_seconds of the last attempt (or, without it, its last chunk's end)
  std::int64_t ranks = 0;
  std::string hosts;
  std::vector<Chunk> chunks;  // the shortest column's rows
  std::uint64_t done = 0, failed = 0, items_done = 0;
  std::int64_t last_attempt = 1;
  std::uint64_t last_attempt_items = 0;  // items of done rows of the last attempt
  double throughput = 0;                 // last_attempt_items / wall_s
  double attempt_span_s = 0;             // the last attempt's last chunk end (pool seconds)
  std::vector<RankRow> per_rank;         // the last attempt
  double imbalance = 0;                  // max busy / mean busy over ranks that computed
  std::vector<Chunk> slowest;            // at most 5, slowest first
  bool has_error = false;
  Failure error;                  // /error
  std::vector<Failure> failures;  // failed rows grouped by (message, rank)
  std::vector<Resume> resumes;
  // poolrun exec: the tasks whose last record failed, in task order.
  std::vector<FailedTask> failed_tasks;
};

// Throws ReportError for a missing or non-poolrun file.
Report read_report(const std::filesystem::path& path);
std::string to_text(const Report& r);
// poolrun exec: the failed tasks' commands, one a line.
std::string failed_task_commands(const Report& r);
std::string to_json(const Report& r);
// Lanes per rank; boxes narrower than a pixel at `width` merge, one per lane and pixel column.
std::string timeline_svg(const Report& r, int width = 1200);

// Watches a run writing `path` (FILE.h5 or FILE.h5.partial) until it ends: a redrawn block on a
// terminal, a line per `interval` seconds otherwise. Returns 0 (complete), 1 (failed), 3
// (partial), 4 (the writer died and left FILE.h5.partial), 2 (no such run).
int follow(const std::filesystem::path& path, double interval, bool terminal, std::ostream& out);
// One status line of a running (or final) file: progress, rate, ETA, per-rank chunks and busy %.
std::string follow_line(const Report& r);

// JSON string body escaping (quotes not included); XML text/attribute escaping.
std::string json_escape(std::string_view s);
std::string xml_escape(std::string_view s);

int main(int argc, char** argv);

}  // namespace poolreport
