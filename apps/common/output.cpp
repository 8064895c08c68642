#include "common/output.hpp"

#include <unistd.h>

#include <stdexcept>
#include <system_error>

#include "common/errors.hpp"
#include "common/run_info.hpp"

namespace common {

namespace fs = std::filesystem;

std::string_view to_string(RunStatus status) noexcept {
  switch (status) {
    case RunStatus::running:
      return "running";
    case RunStatus::complete:
      return "complete";
    case RunStatus::failed:
      return "failed";
    case RunStatus::partial:
      return "partial";
  }
  return "running";
}

namespace {

std::vector<h5::Column> chunk_columns() {
  return {{"begin", h5::Dtype::uint64},  {"end", h5::Dtype::uint64},
          {"rank", h5::Dtype::int64},    {"start_s", h5::Dtype::float64},
          {"end_s", h5::Dtype::float64}, {"attempt", h5::Dtype::int64},
          {"status", h5::Dtype::string}};
}

std::vector<h5::Column> worker_columns() {
  return {{"rank", h5::Dtype::int64},
          {"host", h5::Dtype::string},
          {"chunks", h5::Dtype::uint64},
          {"busy_s", h5::Dtype::float64},
          {"idle_s", h5::Dtype::float64}};
}

std::string quoted(const fs::path& p) {
  return "'" + p.string() + "'";
}

}  // namespace

struct OutputFile::State {
  h5::PendingFile pending;
  h5::Group result;
  h5::Table chunks;
  bool finished = false;
};

OutputFile::OutputFile(std::unique_ptr<State> state) : s_(std::move(state)) {}
OutputFile::OutputFile(OutputFile&&) noexcept = default;
OutputFile& OutputFile::operator=(OutputFile&&) noexcept = default;

OutputFile::~OutputFile() {
  if (!s_ || s_->finished) return;
  try {
    // Keep what was computed in <path>.partial; its status stays "running".
    s_->chunks.flush();
    s_->pending.file().flush();
  } catch (...) {  // destructors must not throw; the partial file is a best effort
  }
}

OutputFile::State& OutputFile::state() const {
  if (!s_) throw std::logic_error("OutputFile: used after move");
  if (s_->finished) throw std::logic_error("OutputFile: used after finish()");
  return *s_;
}

void OutputFile::check_target(const fs::path& path, bool force) {
  if (path.empty()) throw UsageError("output: empty file name");
  std::error_code ec;
  const auto st = fs::status(path, ec);
  if (fs::exists(st)) {
    if (fs::is_directory(st)) throw UsageError("output " + quoted(path) + " is a directory");
    if (!force)
      throw UsageError("output file " + quoted(path) +
                       " already exists (use --force to overwrite it, or --resume to continue it)");
  }
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  if (!fs::is_directory(dir, ec))
    throw UsageError("output directory " + quoted(dir) + " does not exist");
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    throw UsageError("output directory " + quoted(dir) + " is not writable");
}

OutputFile OutputFile::create(const fs::path& path, bool force, const RunMeta& meta) {
  check_target(path, force);
  auto s = std::make_unique<State>(State{h5::PendingFile(path), {}, {}, false});
  h5::File& f = s->pending.file();
  f.set_attr("workload", meta.workload);
  f.set_attr("status", to_string(RunStatus::running));
  f.set_attr("libpool_version",
             meta.libpool_version.empty() ? std::string(libpool_version()) : meta.libpool_version);
  f.set_attr("created", iso8601_utc_now());
  f.set_attr("wall_seconds", 0.0);
  f.set_attr("ranks", meta.ranks);
  f.set_attr("hosts", std::span<const std::string>(meta.hosts));
  f.set_attr("config", meta.config);
  f.set_attr("command_line", meta.command_line);
  if (auto job = slurm_job_id()) f.set_attr("slurm_job_id", *job);
  s->result = f.create_group("result");
  s->chunks = h5::Table::create(f, "chunks", chunk_columns());
  h5::Table::create(f, "workers", worker_columns());
  f.flush();
  return OutputFile(std::move(s));
}

OutputFile OutputFile::resume(const fs::path& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec))
    throw UsageError("--resume: output file " + quoted(path) + " does not exist");
  {
    if (!h5::File::is_hdf5(path))
      throw UsageError("--resume: " + quoted(path) + " is not an HDF5 file");
    h5::File f = h5::File::open(path);
    if (!f.has_attr("status") || !f.exists("chunks") || !f.exists("result"))
      throw UsageError("--resume: " + quoted(path) + " is not a libpool output file");
    const std::string status = f.attr_string("status");
    if (status == "complete")
      throw UsageError("--resume: " + quoted(path) + " is already complete");
  }
  const fs::path partial = h5::PendingFile::partial_path_for(path);
  fs::copy_file(path, partial, fs::copy_options::overwrite_existing);
  h5::File f = h5::File::open(partial, h5::Access::read_write, true);
  f.set_attr("status", to_string(RunStatus::running));
  h5::Group result = f.open_group("result");
  h5::Table chunks = h5::Table::open(f, "chunks");
  auto s = std::make_unique<State>(State{h5::PendingFile::adopt(path, std::move(f)),
                                         std::move(result), std::move(chunks), false});
  return OutputFile(std::move(s));
}

const fs::path& OutputFile::path() const {
  return state().pending.path();
}
fs::path OutputFile::partial_path() const {
  return state().pending.partial_path();
}
h5::File& OutputFile::file() {
  return state().pending.file();
}
h5::Group& OutputFile::result() {
  return state().result;
}

void OutputFile::set_ranks(std::int64_t ranks) {
  file().set_attr("ranks", ranks);
}

void OutputFile::set_hosts(std::span<const std::string> hosts) {
  file().set_attr("hosts", hosts);
}

void OutputFile::append_chunk(const ChunkRow& r) {
  State& s = state();
  s.chunks.append({r.begin, r.end, r.rank, r.start_s, r.end_s, r.attempt, r.status});
  if (s.chunks.buffered() >= auto_flush_rows) s.chunks.flush();
}

void OutputFile::flush() {
  State& s = state();
  s.chunks.flush();
  s.pending.file().flush();
}

std::vector<ChunkRow> OutputFile::chunks() {
  State& s = state();
  s.chunks.flush();  // so the rows below are read back from one place
  const auto begin = s.chunks.read_column<std::uint64_t>("begin");
  const auto end = s.chunks.read_column<std::uint64_t>("end");
  const auto rank = s.chunks.read_column<std::int64_t>("rank");
  const auto start_s = s.chunks.read_column<double>("start_s");
  const auto end_s = s.chunks.read_column<double>("end_s");
  const auto attempt = s.chunks.read_column<std::int64_t>("attempt");
  const auto status = s.chunks.read_string_column("status");
  std::vector<ChunkRow> rows(begin.size());
  for (std::size_t i = 0; i < rows.size(); ++i)
    rows[i] = {begin[i], end[i], rank[i], start_s[i], end_s[i], attempt[i], status[i]};
  return rows;
}

void OutputFile::set_workers(std::span<const WorkerRow> rows) {
  h5::File& f = file();
  if (f.exists("workers")) f.unlink("workers");
  h5::Table t = h5::Table::create(f, "workers", worker_columns());
  for (const auto& r : rows) t.append({r.rank, r.host, r.chunks, r.busy_s, r.idle_s});
  t.flush();
}

void OutputFile::set_error(const ErrorInfo& e) {
  h5::File& f = file();
  h5::Group g = f.require_group("error");
  g.set_attr("rank", e.rank);
  g.set_attr("host", e.host);
  g.set_attr("chunk_begin", e.chunk_begin);
  g.set_attr("chunk_end", e.chunk_end);
  g.set_attr("message", e.message);
}

void OutputFile::finish(RunStatus status, double wall_seconds) {
  if (status == RunStatus::running)
    throw std::invalid_argument("OutputFile::finish: status must be final");
  State& s = state();
  s.chunks.flush();
  h5::File& f = s.pending.file();
  f.set_attr("wall_seconds", wall_seconds);
  // Everything else is on disk before the status says what the file holds.
  f.flush();
  f.set_attr("status", to_string(status));
  s.result = h5::Group();
  s.chunks = h5::Table();
  s.pending.commit();
  s.finished = true;
}

bool OutputFile::finished() const noexcept {
  return s_ && s_->finished;
}

}  // namespace common
