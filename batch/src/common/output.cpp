#include "common/output.hpp"

#include <zlib.h>

#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
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
  return {{"begin", h5::Dtype::uint64},
          {"end", h5::Dtype::uint64},
          {"rank", h5::Dtype::int64},
          {"start_s", h5::Dtype::float64},
          {"end_s", h5::Dtype::float64},
          {"attempt", h5::Dtype::int64},
          {"status", h5::Dtype::string},
          {"pass", h5::Dtype::string},
          {"partial", h5::Dtype::uint64},
          {"partial_hi", h5::Dtype::uint64},
          {"partial_offset", h5::Dtype::uint64},
          {"partial_bytes", h5::Dtype::uint64},
          {"checksum", h5::Dtype::uint64}};
}

// /partials: the bytes of every chunk's partial result, one after the other (a /chunks row's
// partial_offset and partial_bytes point into it). A 1-D extendible uint8 dataset: SWMR readers
// read it as they read the columns, and no variable-length type is involved. Not in /chunks,
// whose members are all columns of one length.
constexpr hsize_t kHeapChunk = 64 * 1024;

h5::Dataset create_heap(h5::Group& root) {
  h5::DatasetOptions o;
  o.chunk = {kHeapChunk};
  o.max_dims = {h5::unlimited};
  return root.create_dataset("partials", h5::Dtype::uint8, {0}, o);
}

std::vector<h5::Column> worker_columns() {
  return {{"rank", h5::Dtype::int64},
          {"host", h5::Dtype::string},
          {"chunks", h5::Dtype::uint64},
          {"busy_s", h5::Dtype::float64},
          {"idle_s", h5::Dtype::float64}};
}

std::vector<h5::Column> resume_columns() {
  return {{"time", h5::Dtype::string},
          {"attempt", h5::Dtype::int64},
          {"ranks", h5::Dtype::int64},
          {"hosts", h5::Dtype::string},
          {"chunks_kept", h5::Dtype::uint64},
          {"chunks_done", h5::Dtype::uint64},
          {"previous_status", h5::Dtype::string},
          {"previous_error", h5::Dtype::string}};
}

// /chunks is appended under SWMR: fixed-size strings, and no attribute to update.
constexpr h5::TableOptions kChunkTable{1024, 0, 16, false};

std::string quoted(const fs::path& p) {
  return "'" + p.string() + "'";
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
  return s;
}

// Opens an output to read its attributes: plainly, or as a SWMR reader when its writer died
// and left it flagged open for SWMR writing, or past the flag when it died with the file open
// without SWMR (at a reopen, or early in a --resume).
h5::File open_for_reading(const fs::path& file) {
  try {
    return h5::File::open(file);
  } catch (const h5::Error&) {
  }
  try {
    return h5::File::open(file, h5::Access::read_only, false, h5::OpenMode::swmr_read);
  } catch (const h5::Error&) {
    return h5::File::open(file, h5::Access::read_only, false, h5::OpenMode::clear_write_flag);
  }
}

// What a user needs to repeat the run: where it ran, on what inputs, built how (docs/output.md,
// "Provenance"). Read before the output is touched: an unreadable input is refused first.
struct Provenance {
  std::vector<std::pair<std::string, std::string>> text;
  std::vector<std::string> paths, mtimes, checksums;
  std::vector<std::uint64_t> sizes;
};

Provenance collect_provenance(const RunMeta& meta) {
  Provenance p;
  p.text = {{"working_directory", working_directory()},
            {"build_git_commit", std::string(build_git_commit())},
            {"build_git_dirty", std::string(build_git_dirty())},
            {"compiler", compiler()},
            {"compiler_flags", std::string(compiler_flags())},
            {"hdf5_version", h5::library_version()},
            {"mpi_library", meta.mpi_library.empty() ? std::string("unknown") : meta.mpi_library}};
  for (const auto& in : meta.input_files) {
    FileProvenance fp;
    try {
      fp = file_provenance(in);
    } catch (const std::runtime_error& e) {
      throw UsageError(std::string("input: ") + e.what());
    }
    p.paths.push_back(fp.path);
    p.sizes.push_back(fp.size);
    p.mtimes.push_back(fp.mtime);
    p.checksums.push_back(fp.checksum);
  }
  return p;
}

// The identity holds each input's size and modification time; a file rewritten with both kept
// (`touch -r`) is caught by its content: the checksums the first attempt recorded.
void check_inputs_unchanged(const fs::path& file, const Provenance& now) {
  std::vector<std::string> paths, sums;
  try {
    h5::File f = open_for_reading(file);
    if (!f.has_attr("input_checksums") || !f.has_attr("input_files")) return;
    paths = f.attr_strings("input_files");
    sums = f.attr_strings("input_checksums");
  } catch (const h5::Error& e) {
    throw UsageError("--resume: cannot read " + quoted(file) + " (" + e.what() + ")");
  }
  for (std::size_t i = 0; i < now.paths.size() && i < paths.size() && i < sums.size(); ++i) {
    if (paths[i] != now.paths[i] || sums[i] == now.checksums[i]) continue;
    throw UsageError("--resume: the input " + quoted(fs::path(now.paths[i])) +
                     " changed since the run began (" + sums[i] + " recorded, " + now.checksums[i] +
                     " now); start again with --force");
  }
}

// Written with the other attributes, before SWMR starts.
void write_provenance(h5::File& f, const Provenance& p) {
  for (const auto& [name, value] : p.text) f.set_attr(name, value);
  if (p.paths.empty()) return;
  f.set_attr("input_files", std::span<const std::string>(p.paths));
  f.set_attr("input_sizes", std::span<const std::uint64_t>(p.sizes));
  f.set_attr("input_mtimes", std::span<const std::string>(p.mtimes));
  f.set_attr("input_checksums", std::span<const std::string>(p.checksums));
}

}  // namespace

struct OutputFile::State {
  explicit State(h5::PendingFile p) : pending(std::move(p)) {}
  h5::PendingFile pending;
  h5::Group result;
  h5::Table chunks;
  h5::Dataset heap;                       // /partials
  hsize_t heap_size = 0;                  // bytes in it
  std::vector<std::uint8_t> heap_buffer;  // bytes of buffered rows, written by flush()
  h5::Dataset progress;  // {items of the current pass, items done}: fixed size, SWMR-safe
  std::array<std::uint64_t, 2> progress_now{};
  bool progress_dirty = false;
  bool started = false;
  bool swmr = false;
  bool finished = false;
  bool resumed = false;
  std::uint64_t resume_row = 0;  // this attempt's row in /resumes
  std::uint64_t done_rows = 0;   // rows with status "done" this attempt added
  std::int64_t attempt = 1;
  std::vector<ChunkRow> previous;
};

OutputFile::OutputFile(std::unique_ptr<State> state) : s_(std::move(state)) {}
OutputFile::OutputFile(OutputFile&&) noexcept = default;
OutputFile& OutputFile::operator=(OutputFile&&) noexcept = default;

OutputFile::~OutputFile() {
  if (!s_ || s_->finished) return;
  try {
    // Keep what was computed in <path>.partial; its status stays "running".
    flush();
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
  // Only a regular file (or a symlink to one, or a dangling one) may be replaced, even with
  // --force: the finished file is renamed onto the name, which would replace a device or a FIFO.
  struct stat link {};
  if (::lstat(path.c_str(), &link) == 0) {
    struct stat target {};
    const bool resolves = ::stat(path.c_str(), &target) == 0;
    const bool symlink = S_ISLNK(link.st_mode);
    const mode_t mode = symlink && resolves ? target.st_mode : link.st_mode;
    const std::string via = symlink ? " (through a symlink)" : "";
    if (S_ISDIR(mode)) throw UsageError("output " + quoted(path) + " is a directory" + via);
    if (!(symlink && !resolves) && !S_ISREG(mode)) {
      const char* kind = S_ISCHR(mode)    ? "a character device"
                         : S_ISBLK(mode)  ? "a block device"
                         : S_ISFIFO(mode) ? "a FIFO"
                         : S_ISSOCK(mode) ? "a socket"
                                          : "not a regular file";
      throw UsageError("output " + quoted(path) + " is " + kind + via +
                       ", not a regular file: refused even with --force");
    }
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

ResumeState OutputFile::check_resume(const fs::path& path, const RunMeta& meta) {
  std::error_code ec;
  const fs::path partial = h5::PendingFile::partial_path_for(path);
  ResumeState rs;
  if (fs::is_regular_file(partial, ec)) {
    rs.file = partial;
  } else if (fs::is_regular_file(path, ec)) {
    rs.file = path;
  } else {
    throw UsageError("--resume: no output " + quoted(path) + " (nor " + quoted(partial) +
                     ") to continue");
  }
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    throw UsageError("output directory " + quoted(dir) + " is not writable");
  Identity recorded;
  try {
    if (!h5::File::is_hdf5(rs.file))
      throw UsageError("--resume: " + quoted(rs.file) +
                       " is not an HDF5 file (the run that wrote it died before its first "
                       "flush?); start again with --force");
    h5::File f = open_for_reading(rs.file);
    if (!f.has_attr("status") || !f.has_attr("workload") || !f.exists("chunks"))
      throw UsageError("--resume: " + quoted(rs.file) + " is not a poolrun output file");
    if (!f.has_attr("identity"))
      throw UsageError("--resume: " + quoted(rs.file) +
                       " records no identity to check (written by an older poolrun?)");
    rs.status = f.attr_string("status");
    recorded = decode_identity(f.attr_string("identity"));
    rs.chunks = h5::Table::open(f, "chunks").rows();
  } catch (const h5::Error& e) {
    throw UsageError("--resume: cannot read " + quoted(rs.file) + " (" + e.what() + ")");
  }
  auto find = [](const Identity& id, const std::string& key) -> const std::string* {
    for (const auto& [k, v] : id)
      if (k == key) return &v;
    return nullptr;
  };
  for (const auto& [key, value] : meta.identity) {
    const std::string* was = find(recorded, key);
    if (!was)
      throw UsageError("--resume: " + quoted(rs.file) + " was written without " + key + " (now " +
                       value + ")");
    if (*was != value)
      throw UsageError("--resume: " + key + " differs from the run in " + quoted(rs.file) +
                       " (recorded " + *was + ", now " + value + ")");
  }
  for (const auto& [key, value] : recorded) {
    if (!find(meta.identity, key))
      throw UsageError("--resume: " + quoted(rs.file) + " was written with " + key + " " + value +
                       ", not given now");
  }
  rs.complete = rs.status == to_string(RunStatus::complete);
  return rs;
}

OutputFile OutputFile::create(const fs::path& path, bool force, const RunMeta& meta) {
  check_target(path, force);
  const Provenance provenance = collect_provenance(meta);
  auto s = std::make_unique<State>(h5::PendingFile::create_swmr(path));
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
  f.set_attr("identity", encode_identity(meta.identity));
  write_provenance(f, provenance);
  if (auto job = slurm_job_id()) f.set_attr("slurm_job_id", *job);
  s->result = f.create_group("result");
  s->chunks = h5::Table::create(f, "chunks", chunk_columns(), kChunkTable);
  s->heap = create_heap(f);
  h5::Table::create(f, "workers", worker_columns());
  h5::Table::create(f, "resumes", resume_columns());
  s->progress = f.create_dataset("progress", h5::Dtype::uint64, {2});
  s->progress.write(std::span<const std::uint64_t>(s->progress_now));
  f.flush();
  return OutputFile(std::move(s));
}

OutputFile OutputFile::resume(const fs::path& path, const RunMeta& meta) {
  const ResumeState rs = check_resume(path, meta);
  const Provenance provenance = collect_provenance(meta);
  if (rs.complete) throw UsageError("--resume: " + quoted(rs.file) + " is already complete");
  check_inputs_unchanged(rs.file, provenance);
  const fs::path partial = h5::PendingFile::partial_path_for(path);
  if (rs.file != partial) {
    // An interrupted or failed final file continues under the ".partial" name: until this run
    // finishes, nothing under <path> claims to be the result.
    std::error_code ec;
    fs::rename(rs.file, partial, ec);
    if (ec) throw UsageError("--resume: cannot rename " + quoted(rs.file) + ": " + ec.message());
  }
  h5::File f;
  h5::Table chunks;
  std::vector<ChunkRow> previous;
  try {
    f = h5::File::open(partial, h5::Access::read_write, true, h5::OpenMode::clear_write_flag);
    chunks = h5::Table::open(f, "chunks");
    chunks.truncate_to_rows();  // a crash mid-flush may leave some columns longer
    previous = read_chunk_rows(chunks);
  } catch (const h5::Error& e) {
    // The disk is full or failed: nothing is known to be wrong with the file. The run fails
    // (exit 1), and a --resume continues it once there is room.
    const int err = e.os_errno();
    if (err == ENOSPC || err == EDQUOT || err == EFBIG || err == EIO) throw;
    // Readable enough for the checks, not for writing: damaged or cut short.
    throw UsageError("--resume: cannot open " + quoted(partial) +
                     " for writing, damaged or truncated? (" + e.what() +
                     "); start again with --force");
  }
  h5::Table resumes = h5::Table::open(f, "resumes");
  const auto attempt = static_cast<std::int64_t>(resumes.rows()) + 2;
  std::string previous_error;
  if (f.exists("error")) {
    previous_error = f.open_group("error").attr_string("message");
    f.unlink("error");
  }
  const std::string previous_status = f.attr_string("status");
  const std::uint64_t resume_row = resumes.rows();
  resumes.append({iso8601_utc_now(), attempt, meta.ranks, join(meta.hosts),
                  static_cast<std::uint64_t>(previous.size()), std::uint64_t{0}, previous_status,
                  previous_error});
  resumes.flush();
  f.set_attr("status", to_string(RunStatus::running));
  f.set_attr("ranks", meta.ranks);
  f.set_attr("hosts", std::span<const std::string>(meta.hosts));
  f.set_attr("config", meta.config);
  f.set_attr("command_line", meta.command_line);
  write_provenance(f, provenance);
  if (auto job = slurm_job_id()) f.set_attr("slurm_job_id", *job);
  f.flush();
  test_point("resume_opened");
  h5::Group result = f.open_group("result");
  // Outputs written before /progress get it on their first resume.
  h5::Dataset progress = f.exists("progress")
                             ? f.open_dataset("progress")
                             : f.create_dataset("progress", h5::Dtype::uint64, {2});
  const std::array<std::uint64_t, 2> zero{};
  progress.write(std::span<const std::uint64_t>(zero));
  h5::Dataset heap = f.exists("partials") ? f.open_dataset("partials") : create_heap(f);
  auto s = std::make_unique<State>(h5::PendingFile::adopt(path, std::move(f)));
  s->heap_size = heap.num_elements();
  s->heap = std::move(heap);
  s->progress = std::move(progress);
  s->previous = std::move(previous);
  s->attempt = attempt;
  s->result = std::move(result);
  s->chunks = std::move(chunks);
  s->resumed = true;
  s->resume_row = resume_row;
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
  // Results are written once the chunks are done, in plain mode: nothing new under SWMR.
  if (state().swmr) end_ledger();
  return state().result;
}
bool OutputFile::resumed() const {
  return state().resumed;
}
std::int64_t OutputFile::attempt() const {
  return state().attempt;
}
const std::vector<ChunkRow>& OutputFile::previous_chunks() const {
  return state().previous;
}

void OutputFile::start() {
  State& s = state();
  if (s.started) return;
  s.pending.file().flush();
  s.pending.file().start_swmr();
  s.started = s.swmr = true;
}

bool OutputFile::started() const {
  return state().started;
}

void OutputFile::append_chunk(const ChunkRow& r) {
  State& s = state();
  const std::uint64_t offset = r.blob.empty() ? 0 : s.heap_size + s.heap_buffer.size();
  s.heap_buffer.insert(s.heap_buffer.end(), r.blob.begin(), r.blob.end());
  s.chunks.append({r.begin, r.end, r.rank, r.start_s, r.end_s, r.attempt, r.status, r.pass,
                   r.partial, r.partial_hi, offset, static_cast<std::uint64_t>(r.blob.size()),
                   row_checksum(r)});
  if (r.status == chunk_done) ++s.done_rows;
}

std::uint64_t OutputFile::buffered_rows() const {
  return state().chunks.buffered();
}

void OutputFile::set_progress(std::uint64_t total, std::uint64_t done) {
  State& s = state();
  if (s.progress_now[0] == total && s.progress_now[1] == done) return;
  s.progress_now = {total, done};
  s.progress_dirty = true;
}

void OutputFile::flush() {
  State& s = state();
  h5::File& f = s.pending.file();
  if (s.progress_dirty && s.progress.valid()) {
    s.progress.write(std::span<const std::uint64_t>(s.progress_now));
    s.progress_dirty = false;
  }
  if (s.chunks.buffered() == 0) {
    f.flush();
    return;
  }
  // The data first (partials, result slabs), durable; then the rows that claim them.
  if (!s.heap_buffer.empty()) {
    s.heap.append(std::span<const std::uint8_t>(s.heap_buffer));
    s.heap_size += s.heap_buffer.size();
    s.heap_buffer.clear();
  }
  f.sync();
  s.chunks.flush();
  f.sync();
}

void OutputFile::end_ledger() {
  State& s = state();
  flush();
  if (!s.swmr) return;
  s.result = h5::Group();
  s.chunks = h5::Table();
  s.heap = h5::Dataset();
  s.progress = h5::Dataset();
  s.pending.reopen();
  test_point("ledger_reopened");
  s.swmr = false;
  s.result = s.pending.file().open_group("result");
  s.chunks = h5::Table::open(s.pending.file(), "chunks");
  s.heap = s.pending.file().open_dataset("partials");
  s.progress = s.pending.file().open_dataset("progress");
}

void OutputFile::set_workers(std::span<const WorkerRow> rows) {
  end_ledger();
  h5::File& f = file();
  if (f.exists("workers")) f.unlink("workers");
  h5::Table t = h5::Table::create(f, "workers", worker_columns());
  for (const auto& r : rows) t.append({r.rank, r.host, r.chunks, r.busy_s, r.idle_s});
  t.flush();
}

void OutputFile::set_error(const ErrorInfo& e) {
  end_ledger();
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
  end_ledger();
  State& s = state();
  s.chunks.flush();
  h5::File& f = s.pending.file();
  f.set_attr("wall_seconds", wall_seconds);
  if (s.resumed) {  // what this attempt computed, in its /resumes row
    const std::uint64_t done = s.done_rows;
    f.open_dataset("resumes/chunks_done")
        .write_slab<std::uint64_t>({s.resume_row}, {1}, std::span<const std::uint64_t>(&done, 1));
  }
  // Everything else is on disk before the status says what the file holds.
  f.sync();
  f.set_attr("status", to_string(status));
  s.result = h5::Group();
  s.chunks = h5::Table();
  s.heap = h5::Dataset();
  s.progress = h5::Dataset();
  s.pending.commit();
  s.finished = true;
}

bool OutputFile::finished() const noexcept {
  return s_ && s_->finished;
}

std::vector<ChunkRow> read_chunk_rows(const h5::Table& t) {
  const auto begin = t.read_column<std::uint64_t>("begin");
  const auto end = t.read_column<std::uint64_t>("end");
  const auto rank = t.read_column<std::int64_t>("rank");
  const auto start_s = t.read_column<double>("start_s");
  const auto end_s = t.read_column<double>("end_s");
  const auto attempt = t.read_column<std::int64_t>("attempt");
  const auto status = t.read_string_column("status");
  // Outputs written before the ledger have no pass or partial columns.
  const h5::Group& g = t.group();
  const auto pass = g.exists("pass") ? t.read_string_column("pass") : std::vector<std::string>();
  const auto partial =
      g.exists("partial") ? t.read_column<std::uint64_t>("partial") : std::vector<std::uint64_t>();
  const auto partial_hi = g.exists("partial_hi") ? t.read_column<std::uint64_t>("partial_hi")
                                                 : std::vector<std::uint64_t>();
  const auto offsets = g.exists("partial_offset") ? t.read_column<std::uint64_t>("partial_offset")
                                                  : std::vector<std::uint64_t>();
  const auto sizes = g.exists("partial_bytes") ? t.read_column<std::uint64_t>("partial_bytes")
                                               : std::vector<std::uint64_t>();
  // Outputs written before the checksums have none: their rows are trusted as they are.
  const auto sums = g.exists("checksum") ? t.read_column<std::uint64_t>("checksum")
                                         : std::vector<std::uint64_t>();
  std::vector<std::uint8_t> heap;
  if (g.exists("/partials")) heap = g.open_dataset("/partials").read<std::uint8_t>();
  std::vector<ChunkRow> rows(begin.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    rows[i] = {begin[i],
               end[i],
               rank[i],
               start_s[i],
               end_s[i],
               attempt[i],
               status[i],
               i < pass.size() ? pass[i] : std::string(),
               i < partial.size() ? partial[i] : 0,
               i < partial_hi.size() ? partial_hi[i] : 0,
               {}};
    if (i < offsets.size() && i < sizes.size() && sizes[i] != 0) {
      // A row whose bytes are not in the heap cannot come from a sound ledger (data is flushed
      // before the rows that claim it): damaged, unless its checksum says otherwise below.
      if (offsets[i] > heap.size() || sizes[i] > heap.size() - offsets[i]) {
        if (sums.empty())
          throw h5::Error("read_chunk_rows", "",
                          "/chunks row " + std::to_string(i) + " points past the end of /partials");
        rows[i].intact = false;
        continue;
      }
      rows[i].blob.assign(reinterpret_cast<const char*>(heap.data() + offsets[i]), sizes[i]);
    }
    if (i < sums.size()) rows[i].intact = row_checksum(rows[i]) == sums[i];
  }
  return rows;
}

std::uint64_t row_checksum(const ChunkRow& r) {
  uLong c = ::crc32(0L, Z_NULL, 0);
  const auto add = [&c](const void* p, std::size_t n) {
    c = ::crc32(c, static_cast<const Bytef*>(p), static_cast<uInt>(n));
  };
  // begin, end, partial, partial_hi as 8 little-endian bytes each, then status and pass each
  // followed by a NUL, then the partial's bytes (docs/output.md).
  for (std::uint64_t v : {r.begin, r.end, r.partial, r.partial_hi}) {
    unsigned char b[8];
    for (int k = 0; k < 8; ++k) b[k] = static_cast<unsigned char>(v >> (8 * k));
    add(b, sizeof b);
  }
  add(r.status.data(), r.status.size());
  add("", 1);
  add(r.pass.data(), r.pass.size());
  add("", 1);
  for (std::size_t at = 0; at < r.blob.size(); at += std::size_t{1} << 30)  // uInt lengths
    add(r.blob.data() + at, std::min(r.blob.size() - at, std::size_t{1} << 30));
  return c;
}

std::string encode_identity(const Identity& identity) {
  std::string s;
  for (const auto& [k, v] : identity) s += k + "=" + v + "\n";
  return s;
}

Identity decode_identity(std::string_view text) {
  Identity id;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    const std::string_view line = text.substr(0, nl);
    const auto eq = line.find('=');
    if (eq != std::string_view::npos)
      id.emplace_back(std::string(line.substr(0, eq)), std::string(line.substr(eq + 1)));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return id;
}

std::string file_identity(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "missing";
  const long long ns =
      static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
  return std::to_string(st.st_size) + " bytes, modified " + std::to_string(ns);
}

}  // namespace common
