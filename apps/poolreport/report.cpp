// poolreport's reading, text, JSON and SVG. See poolreport.hpp and README ("poolreport").
#include <CLI/CLI.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include <optional>
#include <thread>

#include <unistd.h>

#include "common/h5.hpp"
#include "common/lock.hpp"
#include "common/table.hpp"
#include "poolreport.hpp"

namespace poolreport {

namespace fs = std::filesystem;

namespace {

std::string fmt(double v, int precision = 6) {
  if (!std::isfinite(v)) return std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf");
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", precision, v);
  return buf;
}

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// The shortest text that reads back as the same double.
std::string exact(double v) {
  if (!std::isfinite(v)) return fmt(v);
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, res.ptr);
}

// A JSON number: finite doubles round-trip; NaN and infinities are null.
std::string jnum(double v) {
  if (!std::isfinite(v)) return "null";
  return exact(v);
}

std::string jstr(std::string_view s) {
  return "\"" + json_escape(s) + "\"";
}

std::string attr_or(const h5::Object& o, const std::string& name) {
  if (!o.has_attr(name)) return {};
  if (o.attr_dtype(name) == h5::Dtype::string) return o.attr_string(name);
  return exact(o.attr<double>(name));
}

std::string iso8601(fs::file_time_type t) {
  const auto sys = std::chrono::system_clock::now() +
                   std::chrono::duration_cast<std::chrono::system_clock::duration>(
                       t - fs::file_time_type::clock::now());
  const std::time_t tt = std::chrono::system_clock::to_time_t(sys);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

bool is_integer(h5::Dtype d) {
  return d != h5::Dtype::float32 && d != h5::Dtype::float64 && d != h5::Dtype::string &&
         d != h5::Dtype::other;
}

bool is_signed(h5::Dtype d) {
  return d == h5::Dtype::int8 || d == h5::Dtype::int16 || d == h5::Dtype::int32 ||
         d == h5::Dtype::int64;
}

// One element of a numeric or string dataset holding few values, as (text, json).
void values_of(const h5::Dataset& d, h5::Dtype dt, Value& v) {
  if (dt == h5::Dtype::string) {
    const auto s = d.read_strings();
    if (v.shape.empty()) {
      v.text = s.at(0);
      v.json = jstr(s.at(0));
      return;
    }
    v.text = "[";
    v.json = "[";
    for (std::size_t i = 0; i < s.size(); ++i) {
      v.text += (i ? ", " : "") + s[i];
      v.json += (i ? "," : "") + jstr(s[i]);
    }
    v.text += "]";
    v.json += "]";
    return;
  }
  std::vector<std::string> items;
  if (is_integer(dt) && is_signed(dt)) {
    for (auto x : d.read<std::int64_t>()) items.push_back(std::to_string(x));
  } else if (is_integer(dt)) {
    for (auto x : d.read<std::uint64_t>()) items.push_back(std::to_string(x));
  } else {
    for (auto x : d.read<double>()) items.push_back(exact(x));
  }
  if (v.shape.empty()) {
    v.text = items.at(0);
    v.json = (items[0] == "nan" || items[0] == "inf" || items[0] == "-inf") ? "null" : items[0];
    return;
  }
  v.text = "[";
  v.json = "[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    const bool bad = items[i] == "nan" || items[i] == "inf" || items[i] == "-inf";
    v.text += (i ? ", " : "") + items[i];
    v.json += (i ? "," : "") + (bad ? std::string("null") : items[i]);
  }
  v.text += "]";
  v.json += "]";
}

// Small datasets (scalars, 1-D of at most this many values) are printed with their values.
constexpr std::uint64_t kSmall = 8;

std::vector<Value> read_values(const h5::Group& g, int depth) {
  std::vector<Value> out;
  for (const auto& name : g.member_names()) {
    Value v;
    v.name = name;
    if (g.is_group(name)) {
      if (depth > 0) continue;
      v.group = true;
      v.members = read_values(g.open_group(name), depth + 1);
      out.push_back(std::move(v));
      continue;
    }
    if (!g.is_dataset(name)) continue;
    const h5::Dataset d = g.open_dataset(name);
    const auto shape = d.shape();
    v.shape.assign(shape.begin(), shape.end());
    const h5::Dtype dt = d.dtype();
    v.dtype = std::string(h5::to_string(dt));
    const bool small = shape.empty() || (shape.size() == 1 && shape[0] <= kSmall);
    if (small && dt != h5::Dtype::other && d.num_elements() > 0) {
      try {
        values_of(d, dt, v);
        v.scalar = true;
      } catch (const std::exception&) {  // unreadable now (a SWMR reader): shape only
        v.scalar = false;
      }
    }
    out.push_back(std::move(v));
  }
  return out;
}

// The committed rows of /chunks: the shortest column (a crash may leave some longer).
std::vector<Chunk> read_chunks(h5::File& f) {
  if (!f.exists("chunks")) return {};
  return common::read_chunk_rows(h5::Table::open(f, "chunks"));
}

void read_resumes(h5::File& f, Report& r) {
  if (!f.exists("resumes")) return;
  h5::Table t = h5::Table::open(f, "resumes");
  if (t.rows() == 0) return;
  const auto time = t.read_string_column("time");
  const auto attempt = t.read_column<std::int64_t>("attempt");
  const auto ranks = t.read_column<std::int64_t>("ranks");
  const auto hosts = t.read_string_column("hosts");
  const auto kept = t.read_column<std::uint64_t>("chunks_kept");
  // chunks_done came after the first resumable files: absent there, shown as 0.
  const auto done = t.group().exists("chunks_done") ? t.read_column<std::uint64_t>("chunks_done")
                                                    : std::vector<std::uint64_t>(time.size(), 0);
  const auto prev = t.read_string_column("previous_status");
  const auto perr = t.read_string_column("previous_error");
  for (std::size_t i = 0; i < time.size(); ++i)
    r.resumes.push_back(
        {time[i], attempt[i], ranks[i], hosts[i], kept[i], done[i], prev[i], perr[i]});
}

std::map<std::int64_t, std::string> read_worker_hosts(h5::File& f) {
  std::map<std::int64_t, std::string> hosts;
  if (!f.exists("workers")) return hosts;
  try {
    h5::Table t = h5::Table::open(f, "workers");
    if (t.rows() == 0) return hosts;
    const auto rank = t.read_column<std::int64_t>("rank");
    const auto host = t.read_string_column("host");
    for (std::size_t i = 0; i < rank.size() && i < host.size(); ++i) hosts[rank[i]] = host[i];
  } catch (const std::exception&) {  // a SWMR reader may not read variable-length strings
  }
  return hosts;
}

void summarize(Report& r, const std::map<std::int64_t, std::string>& hosts) {
  for (const auto& c : r.chunks) r.last_attempt = std::max(r.last_attempt, c.attempt);
  std::map<std::int64_t, RankRow> ranks;
  for (const auto& [rank, host] : hosts) ranks[rank] = {rank, host, 0, 0, 0, 0};
  for (const auto& c : r.chunks) {
    if (c.status == "done") {
      ++r.done;
      r.items_done += c.end - c.begin;
    } else {
      ++r.failed;
    }
    if (c.attempt != r.last_attempt) continue;
    if (c.status == "done") r.last_attempt_items += c.end - c.begin;
    r.attempt_span_s = std::max(r.attempt_span_s, c.end_s);
    auto& row = ranks[c.rank];
    row.rank = c.rank;
    ++row.chunks;
    row.busy_s += c.end_s - c.start_s;
  }
  if (!r.has_wall) r.wall_s = r.attempt_span_s;
  r.throughput = r.wall_s > 0 ? static_cast<double>(r.last_attempt_items) / r.wall_s : 0;
  const double span = r.attempt_span_s;
  double max_busy = 0, sum_busy = 0;
  int working = 0;
  for (auto& [rank, row] : ranks) {
    if (row.host.empty() && hosts.count(rank)) row.host = hosts.at(rank);
    row.busy_pct = span > 0 ? 100.0 * row.busy_s / span : 0;
    row.idle_pct = span > 0 ? std::max(0.0, 100.0 - row.busy_pct) : 0;
    if (row.chunks > 0) {
      max_busy = std::max(max_busy, row.busy_s);
      sum_busy += row.busy_s;
      ++working;
    }
    r.per_rank.push_back(row);
  }
  r.imbalance = working > 0 && sum_busy > 0 ? max_busy / (sum_busy / working) : 0;

  std::vector<std::size_t> idx(r.chunks.size());
  for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  const std::size_t k = std::min<std::size_t>(5, idx.size());
  auto dur = [&](std::size_t i) { return r.chunks[i].end_s - r.chunks[i].start_s; };
  std::partial_sort(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(k), idx.end(),
                    [&](std::size_t a, std::size_t b) { return dur(a) > dur(b); });
  for (std::size_t i = 0; i < k; ++i) r.slowest.push_back(r.chunks[idx[i]]);

  // Failed rows, grouped by (message, rank). /chunks keeps no message: a row gets /error's when
  // /error names its rank and span, "the task raised" otherwise.
  std::map<std::pair<std::string, std::int64_t>, Failure> groups;
  for (const auto& c : r.chunks) {
    if (c.status == "done") continue;
    std::string msg = "the task raised";
    if (r.has_error && r.error.rank == c.rank && r.error.begin == c.begin && r.error.end == c.end)
      msg = r.error.message;
    auto& g = groups[{msg, c.rank}];
    if (g.count == 0) {
      g.message = msg;
      g.rank = c.rank;
      g.host = hosts.count(c.rank) ? hosts.at(c.rank) : std::string();
      g.begin = c.begin;
      g.end = c.end;
    }
    ++g.count;
  }
  for (auto& [key, g] : groups) r.failures.push_back(std::move(g));
}

}  // namespace

std::string json_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += ch;  // UTF-8 passes through
        }
    }
  }
  return out;
}

std::string xml_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        if (c < 0x20 && c != '\n' && c != '\t') {
          out += ' ';  // not allowed in XML 1.0
        } else {
          out += ch;
        }
    }
  }
  return out;
}

namespace {

// poolrun exec's records (/partials): the last one of each task decides (a task run again by
// --resume --retry-failed has several).
void read_failed_tasks(Report& r) {
  std::map<std::uint64_t, poolrun::ExecRecord> failed;
  for (const auto& c : r.chunks) {
    if (c.status != common::chunk_done || !c.intact || c.blob.empty()) continue;
    libpool::Reader in(reinterpret_cast<const std::byte*>(c.blob.data()), c.blob.size());
    poolrun::ExecRecord rec;
    try {
      rec = in.get<poolrun::ExecRecord>();
      in.expect_end();
    } catch (const libpool::CodecError&) {
      throw ReportError(r.file.string() + ": the task record of row [" + std::to_string(c.begin) +
                        ", " + std::to_string(c.end) + ") does not decode (another version?)");
    }
    if (rec.ok())
      failed.erase(c.begin);
    else
      failed[c.begin] = std::move(rec);
  }
  for (auto& [i, rec] : failed) r.failed_tasks.push_back({i, std::move(rec)});
}

std::string task_outcome(const poolrun::ExecRecord& t) {
  if (!t.error.empty()) return t.error;
  if (t.timed_out) return "timed out";
  if (t.signal != 0) {
    const char* name = sigabbrev_np(t.signal);
    return "killed by signal " + std::to_string(t.signal) +
           (name ? " (SIG" + std::string(name) + ")" : "");
  }
  return "exit status " + std::to_string(t.exit_code);
}

// The last `lines` non-empty lines of a tail, each indented.
std::string last_lines(const std::string& text, std::size_t lines, const std::string& indent) {
  std::vector<std::string> all;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) all.push_back(std::move(line));
  std::string out;
  for (std::size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i)
    out += indent + all[i] + "\n";
  return out;
}

}  // namespace

std::string failed_task_commands(const Report& r) {
  std::string out;
  for (const auto& t : r.failed_tasks) out += t.record.command + "\n";
  return out;
}

Report read_report(const fs::path& given) {
  Report r;
  fs::path path = given;
  const std::string partial_suffix = ".partial";
  const std::string s = given.string();
  std::error_code ec;
  if (s.size() > partial_suffix.size() &&
      s.compare(s.size() - partial_suffix.size(), partial_suffix.size(), partial_suffix) == 0) {
    r.swmr = true;
  } else if (!fs::exists(given, ec)) {
    const fs::path partial = h5::PendingFile::partial_path_for(given);
    if (fs::exists(partial, ec)) {
      path = partial;
      r.swmr = true;
    }
  }
  if (!fs::exists(path, ec)) throw ReportError(given.string() + ": no such file");
  if (!fs::is_regular_file(path, ec)) throw ReportError(path.string() + ": not a regular file");
  if (!h5::File::is_hdf5(path)) throw ReportError(path.string() + ": not an HDF5 file");
  r.file = path;
  if (!r.swmr) r.partial_beside = fs::exists(h5::PendingFile::partial_path_for(path), ec);
  h5::File f;
  try {
    f = h5::File::open(path, h5::Access::read_only, false,
                       r.swmr ? h5::OpenMode::swmr_read : h5::OpenMode::plain);
  } catch (const h5::Error&) {
    // A plain open refuses a file a writer holds or left flagged open: read it as SWMR does;
    // a writer that died with the file open without SWMR left a flag only h5clear's property
    // reads past (read-only: the file is not changed).
    try {
      f = h5::File::open(path, h5::Access::read_only, false, h5::OpenMode::swmr_read);
    } catch (const h5::Error&) {
      f = h5::File::open(path, h5::Access::read_only, false, h5::OpenMode::clear_write_flag);
    }
    r.swmr = true;
  }
  if (!f.has_attr("workload") || !f.has_attr("status"))
    throw ReportError(path.string() + ": not a poolrun output (no workload or status attribute)");
  r.workload = attr_or(f, "workload");
  r.status = attr_or(f, "status");
  r.created = attr_or(f, "created");
  r.libpool_version = attr_or(f, "libpool_version");
  r.command_line = attr_or(f, "command_line");
  r.config = attr_or(f, "config");
  if (f.has_attr("identity")) {
    std::istringstream in(f.attr_string("identity"));
    for (std::string line; std::getline(in, line);) {
      const auto eq = line.find('=');
      if (eq == std::string::npos) continue;
      r.identity.emplace_back(line.substr(0, eq), line.substr(eq + 1));
    }
  }
  for (const char* name : {"working_directory", "build_git_commit", "build_git_dirty", "compiler",
                           "compiler_flags", "mpi_library", "hdf5_version", "slurm_job_id"})
    if (f.has_attr(name)) r.provenance.emplace_back(name, attr_or(f, name));
  if (f.has_attr("input_files")) {
    const auto paths = f.attr_strings("input_files");
    const auto mtimes =
        f.has_attr("input_mtimes") ? f.attr_strings("input_mtimes") : std::vector<std::string>();
    const auto sums = f.has_attr("input_checksums") ? f.attr_strings("input_checksums")
                                                    : std::vector<std::string>();
    const auto sizes = f.has_attr("input_sizes") ? f.attr_array<std::uint64_t>("input_sizes")
                                                 : std::vector<std::uint64_t>();
    for (std::size_t i = 0; i < paths.size(); ++i)
      r.inputs.push_back({paths[i], i < mtimes.size() ? mtimes[i] : std::string(),
                          i < sums.size() ? sums[i] : std::string(),
                          i < sizes.size() ? sizes[i] : 0});
  }
  if (f.is_dataset("progress")) {
    const auto p = f.open_dataset("progress").read<std::uint64_t>();
    if (p.size() == 2) {
      r.progress_total = p[0];
      r.progress_done = p[1];
    }
  }
  if (f.has_attr("wall_seconds")) {
    r.wall_s = f.attr<double>("wall_seconds");
    r.has_wall = r.status != "running";  // a running file's is an earlier attempt's
  }
  if (f.has_attr("ranks")) r.ranks = f.attr<std::int64_t>("ranks");
  if (f.has_attr("hosts")) {
    if (f.attr_dtype("hosts") == h5::Dtype::string && f.attr_size("hosts") > 1) {
      for (const auto& h : f.attr_strings("hosts")) r.hosts += (r.hosts.empty() ? "" : ",") + h;
    } else {
      r.hosts = attr_or(f, "hosts");
    }
  }
  if (r.swmr) {
    const auto t = fs::last_write_time(path, ec);
    if (!ec) {
      r.last_flush = iso8601(t);
      r.since_flush_s = std::chrono::duration<double>(fs::file_time_type::clock::now() - t).count();
    }
  }
  if (f.is_group("result")) r.result = read_values(f.open_group("result"), 0);
  r.chunks = read_chunks(f);
  if (f.exists("error")) {
    const h5::Group e = f.open_group("error");
    r.has_error = true;
    r.error.message = attr_or(e, "message");
    r.error.host = attr_or(e, "host");
    if (e.has_attr("rank")) r.error.rank = e.attr<std::int64_t>("rank");
    if (e.has_attr("chunk_begin")) r.error.begin = e.attr<std::uint64_t>("chunk_begin");
    if (e.has_attr("chunk_end")) r.error.end = e.attr<std::uint64_t>("chunk_end");
    r.error.count = 1;
  }
  read_resumes(f, r);
  summarize(r, read_worker_hosts(f));
  if (r.workload == "exec") read_failed_tasks(r);
  return r;
}

namespace {

std::string shape_text(const std::vector<std::uint64_t>& shape) {
  if (shape.empty()) return "scalar";
  std::string s;
  for (auto d : shape) s += (s.empty() ? "" : "x") + std::to_string(d);
  return s;
}

void text_values(std::ostringstream& o, const std::vector<Value>& values, const std::string& ind) {
  for (const auto& v : values) {
    if (v.group) {
      o << ind << v.name << "/\n";
      text_values(o, v.members, ind + "  ");
    } else if (v.scalar) {
      o << ind << v.name << " = " << v.text << "\n";
    } else {
      o << ind << v.name << ": " << shape_text(v.shape) << " " << v.dtype << "\n";
    }
  }
}

std::string json_values(const std::vector<Value>& values) {
  std::string s = "{";
  bool first = true;
  for (const auto& v : values) {
    s += (first ? "" : ",") + jstr(v.name) + ":";
    first = false;
    if (v.group) {
      s += json_values(v.members);
    } else if (v.scalar) {
      s += v.json;
    } else {
      s += "{\"shape\":[";
      for (std::size_t i = 0; i < v.shape.size(); ++i)
        s += (i ? "," : "") + std::to_string(v.shape[i]);
      s += "],\"dtype\":" + jstr(v.dtype) + "}";
    }
  }
  return s + "}";
}

std::string span_text(const Chunk& c) {
  return "[" + std::to_string(c.begin) + ", " + std::to_string(c.end) + ")";
}

}  // namespace

std::string to_text(const Report& r) {
  std::ostringstream o;
  o << "file:            " << r.file.string() << "\n";
  o << "workload:        " << r.workload << "\n";
  o << "status:          " << r.status << "\n";
  if (r.swmr)
    o << "                 the run is still writing or died; last flush " << r.last_flush << " ("
      << fixed(r.since_flush_s, 1) << " s ago), read as a SWMR reader\n";
  if (r.partial_beside)
    o << "                 " << h5::PendingFile::partial_path_for(r.file).string()
      << " exists too: a run is writing it or died (give that name to read it)\n";
  o << "created:         " << r.created << "\n";
  o << "libpool_version: " << r.libpool_version << "\n";
  o << "command_line:    " << r.command_line << "\n";
  o << "ranks, hosts:    " << r.ranks << ", " << r.hosts << "\n";
  o << "\nidentity:\n";
  for (const auto& [k, v] : r.identity) o << "  " << k << " = " << v << "\n";
  o << "\nprovenance:\n";
  if (r.provenance.empty()) o << "  (not recorded: written by an older poolrun)\n";
  for (const auto& [k, v] : r.provenance) o << "  " << k << " = " << v << "\n";
  for (const auto& in : r.inputs)
    o << "  input " << in.path << ": " << in.size << " bytes, modified " << in.mtime << ", "
      << in.checksum << "\n";
  o << "\nresult:\n";
  if (r.result.empty()) o << "  (none)\n";
  text_values(o, r.result, "  ");
  o << "\nwall time:       " << fixed(r.wall_s, 3) << " s"
    << (r.has_wall ? "" : " (the last chunk's end: no final wall time)") << "\n";
  o << "chunks:          " << r.done << " done, " << r.failed << " failed, " << r.chunks.size()
    << " rows, " << r.last_attempt << " attempt(s)\n";
  o << "items done:      " << r.items_done << "\n";
  o << "throughput:      " << fmt(r.throughput, 4) << " items/s (attempt " << r.last_attempt << ": "
    << r.last_attempt_items << " items / wall time)\n";
  o << "\nper rank (attempt " << r.last_attempt << ", " << fixed(r.attempt_span_s, 3)
    << " s of pool time):\n";
  o << "  rank  host                  chunks   busy %   idle %\n";
  for (const auto& p : r.per_rank) {
    char line[256];
    std::snprintf(line, sizeof line, "  %4lld  %-20s %7llu %8.1f %8.1f\n",
                  static_cast<long long>(p.rank), p.host.c_str(),
                  static_cast<unsigned long long>(p.chunks), p.busy_pct, p.idle_pct);
    o << line;
  }
  o << "  load imbalance (max busy / mean busy): " << fixed(r.imbalance, 3) << "\n";
  o << "\nslowest chunks:\n";
  if (r.slowest.empty()) o << "  (none)\n";
  for (const auto& c : r.slowest)
    o << "  " << span_text(c) << "  rank " << c.rank << "  " << fixed(c.end_s - c.start_s, 6)
      << " s  " << c.pass << (c.status == "done" ? "" : "  " + c.status) << "\n";
  o << "\nfailures:\n";
  if (!r.has_error && r.failures.empty()) o << "  (none)\n";
  if (r.has_error)
    o << "  /error: rank " << r.error.rank << " (" << r.error.host << ") chunk [" << r.error.begin
      << ", " << r.error.end << "): " << r.error.message << "\n";
  for (const auto& g : r.failures)
    o << "  " << g.count << " failed chunk(s) on rank " << g.rank << ": " << g.message << "\n";
  if (r.workload == "exec") {
    o << "\nfailed tasks: " << r.failed_tasks.size() << "\n";
    constexpr std::size_t kShown = 20;
    for (std::size_t i = 0; i < r.failed_tasks.size() && i < kShown; ++i) {
      const auto& t = r.failed_tasks[i];
      o << "  #" << t.index + 1 << " (rank " << t.record.rank << " on " << t.record.host << ", "
        << t.record.tries << " tr" << (t.record.tries == 1 ? "y" : "ies")
        << "): " << task_outcome(t.record) << ": " << t.record.command << "\n"
        << last_lines(t.record.err_tail, 3, "      stderr: ");
    }
    if (r.failed_tasks.size() > kShown)
      o << "  ... and " << r.failed_tasks.size() - kShown
        << " more (poolreport --failed-tasks lists every command)\n";
  }
  o << "\nresume history:\n";
  if (r.resumes.empty()) o << "  (never resumed)\n";
  for (const auto& x : r.resumes)
    o << "  attempt " << x.attempt << " at " << x.time << ": " << x.ranks << " ranks on " << x.hosts
      << ", kept " << x.chunks_kept << " chunks, computed " << x.chunks_done << ", previous status "
      << x.previous_status << (x.previous_error.empty() ? "" : " (" + x.previous_error + ")")
      << "\n";
  return o.str();
}

std::string to_json(const Report& r) {
  std::string s = "{";
  auto key = [&](const char* k) -> std::string& {
    s += (s.size() > 1 ? "," : "") + jstr(k) + ":";
    return s;
  };
  key("file") += jstr(r.file.string());
  key("swmr") += r.swmr ? "true" : "false";
  key("workload") += jstr(r.workload);
  key("status") += jstr(r.status);
  if (r.swmr) {
    key("note") += jstr("the run is still writing or died");
    key("last_flush") += jstr(r.last_flush);
  }
  key("partial_beside") += r.partial_beside ? "true" : "false";
  key("created") += jstr(r.created);
  key("libpool_version") += jstr(r.libpool_version);
  key("command_line") += jstr(r.command_line);
  key("ranks") += std::to_string(r.ranks);
  key("hosts") += jstr(r.hosts);
  key("identity") += "{";
  for (std::size_t i = 0; i < r.identity.size(); ++i)
    s += (i ? "," : "") + jstr(r.identity[i].first) + ":" + jstr(r.identity[i].second);
  s += "}";
  key("provenance") += "{";
  for (std::size_t i = 0; i < r.provenance.size(); ++i)
    s += (i ? "," : "") + jstr(r.provenance[i].first) + ":" + jstr(r.provenance[i].second);
  s += "}";
  key("inputs") += "[";
  for (std::size_t i = 0; i < r.inputs.size(); ++i) {
    const auto& in = r.inputs[i];
    s += std::string(i ? "," : "") + "{\"path\":" + jstr(in.path) +
         ",\"size\":" + std::to_string(in.size) + ",\"mtime\":" + jstr(in.mtime) +
         ",\"checksum\":" + jstr(in.checksum) + "}";
  }
  s += "]";
  key("progress") += "{\"total\":" + std::to_string(r.progress_total) +
                     ",\"done\":" + std::to_string(r.progress_done) + "}";
  key("result") += json_values(r.result);
  key("wall_seconds") += jnum(r.wall_s);
  key("wall_from_attribute") += r.has_wall ? "true" : "false";
  key("rows") += std::to_string(r.chunks.size());
  key("chunks_done") += std::to_string(r.done);
  key("chunks_failed") += std::to_string(r.failed);
  key("items_done") += std::to_string(r.items_done);
  key("attempts") += std::to_string(r.last_attempt);
  key("last_attempt_items") += std::to_string(r.last_attempt_items);
  key("throughput_items_per_s") += jnum(r.throughput);
  key("attempt_span_s") += jnum(r.attempt_span_s);
  key("per_rank") += "[";
  for (std::size_t i = 0; i < r.per_rank.size(); ++i) {
    const auto& p = r.per_rank[i];
    s += std::string(i ? "," : "") + "{\"rank\":" + std::to_string(p.rank) +
         ",\"host\":" + jstr(p.host) + ",\"chunks\":" + std::to_string(p.chunks) +
         ",\"busy_s\":" + jnum(p.busy_s) + ",\"busy_pct\":" + jnum(p.busy_pct) +
         ",\"idle_pct\":" + jnum(p.idle_pct) + "}";
  }
  s += "]";
  key("imbalance") += jnum(r.imbalance);
  key("slowest") += "[";
  for (std::size_t i = 0; i < r.slowest.size(); ++i) {
    const auto& c = r.slowest[i];
    s += std::string(i ? "," : "") + "{\"begin\":" + std::to_string(c.begin) +
         ",\"end\":" + std::to_string(c.end) + ",\"rank\":" + std::to_string(c.rank) +
         ",\"seconds\":" + jnum(c.end_s - c.start_s) + ",\"pass\":" + jstr(c.pass) +
         ",\"attempt\":" + std::to_string(c.attempt) + ",\"status\":" + jstr(c.status) + "}";
  }
  s += "]";
  key("error");
  if (r.has_error) {
    s += "{\"rank\":" + std::to_string(r.error.rank) + ",\"host\":" + jstr(r.error.host) +
         ",\"chunk_begin\":" + std::to_string(r.error.begin) +
         ",\"chunk_end\":" + std::to_string(r.error.end) + ",\"message\":" + jstr(r.error.message) +
         "}";
  } else {
    s += "null";
  }
  key("failures") += "[";
  for (std::size_t i = 0; i < r.failures.size(); ++i) {
    const auto& g = r.failures[i];
    s += std::string(i ? "," : "") + "{\"message\":" + jstr(g.message) +
         ",\"rank\":" + std::to_string(g.rank) + ",\"host\":" + jstr(g.host) +
         ",\"count\":" + std::to_string(g.count) + "}";
  }
  s += "]";
  if (r.workload == "exec") {
    key("failed_tasks") += "[";
    for (std::size_t i = 0; i < r.failed_tasks.size(); ++i) {
      const auto& t = r.failed_tasks[i].record;
      const std::string& tail = t.err_tail;
      s += std::string(i ? "," : "") + "{\"index\":" + std::to_string(r.failed_tasks[i].index) +
           ",\"command\":" + jstr(t.command) + ",\"exit_code\":" + std::to_string(t.exit_code) +
           ",\"signal\":" + std::to_string(t.signal) +
           ",\"timed_out\":" + (t.timed_out ? "true" : "false") + ",\"error\":" + jstr(t.error) +
           ",\"rank\":" + std::to_string(t.rank) + ",\"host\":" + jstr(t.host) +
           ",\"tries\":" + std::to_string(t.tries) +
           ",\"stderr_tail\":" + jstr(tail.size() > 1024 ? tail.substr(tail.size() - 1024) : tail) +
           "}";
    }
    s += "]";
  }
  key("resumes") += "[";
  for (std::size_t i = 0; i < r.resumes.size(); ++i) {
    const auto& x = r.resumes[i];
    s += std::string(i ? "," : "") + "{\"time\":" + jstr(x.time) +
         ",\"attempt\":" + std::to_string(x.attempt) + ",\"ranks\":" + std::to_string(x.ranks) +
         ",\"hosts\":" + jstr(x.hosts) + ",\"chunks_kept\":" + std::to_string(x.chunks_kept) +
         ",\"chunks_done\":" + std::to_string(x.chunks_done) +
         ",\"previous_status\":" + jstr(x.previous_status) +
         ",\"previous_error\":" + jstr(x.previous_error) + "}";
  }
  s += "]}";
  return s + "\n";
}

namespace {

const char* const kPassColors[] = {"#4e79a7", "#59a14f", "#edc948", "#b07aa1",
                                   "#76b7b2", "#ff9da7", "#9c755f", "#bab0ac"};
constexpr const char* kFailedColor = "#e15759";

double nice_step(double range, int target) {
  if (range <= 0) return 1;
  const double raw = range / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  for (const double m : {1.0, 2.0, 5.0, 10.0})
    if (raw <= m * mag) return m * mag;
  return 10 * mag;
}

}  // namespace

std::string timeline_svg(const Report& r, int width) {
  // Attempts one after the other: attempt k's times shift by the spans of attempts before it.
  std::map<std::int64_t, double> span;  // attempt -> its last chunk's end
  for (const auto& c : r.chunks) span[c.attempt] = std::max(span[c.attempt], c.end_s);
  std::map<std::int64_t, double> offset;
  double total = 0;
  for (const auto& [a, sp] : span) {
    offset[a] = total;
    total += sp;
  }
  if (total <= 0) total = 1;
  std::set<std::int64_t> rank_set;
  for (const auto& p : r.per_rank) rank_set.insert(p.rank);
  for (const auto& c : r.chunks) rank_set.insert(c.rank);
  std::map<std::int64_t, std::string> hosts;
  for (const auto& p : r.per_rank) hosts[p.rank] = p.host;
  std::map<std::string, std::string> pass_color;
  for (const auto& c : r.chunks) {
    if (!pass_color.count(c.pass)) {
      const std::size_t n = pass_color.size() % (sizeof kPassColors / sizeof kPassColors[0]);
      pass_color[c.pass] = kPassColors[n];
    }
  }

  const int left = 170, right = 20, top = 40, lane_h = 24, gap = 6;
  const int plot_w = std::max(100, width - left - right);
  const int lanes = static_cast<int>(rank_set.size());
  const int axis_y = top + lanes * (lane_h + gap);
  const int legend_y = axis_y + 40;
  const int height = legend_y + 20 * static_cast<int>(pass_color.size() + 1) + 10;
  const double scale = plot_w / total;
  std::map<std::int64_t, int> lane_of;
  int li = 0;
  // Lanes grouped by host (ranks in order within one), so a slow node shows as a block.
  std::vector<std::int64_t> lane_order(rank_set.begin(), rank_set.end());
  std::stable_sort(lane_order.begin(), lane_order.end(),
                   [&](std::int64_t a, std::int64_t b) { return hosts[a] < hosts[b]; });
  for (auto rk : lane_order) lane_of[rk] = li++;

  std::string s;
  s.reserve(1 << 16);
  s += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  s += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(width) +
       "\" height=\"" + std::to_string(height) +
       "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  s += "<title>" + xml_escape(r.workload + " " + r.file.string() + " (" + r.status + ")") +
       "</title>\n";
  s += "<text x=\"" + std::to_string(left) + "\" y=\"20\" font-size=\"14\">" +
       xml_escape(r.workload + ": " + r.status + ", " + std::to_string(r.chunks.size()) +
                  " chunks") +
       "</text>\n";
  for (auto rk : lane_order) {
    const int y = top + lane_of[rk] * (lane_h + gap);
    std::string label = "rank " + std::to_string(rk);
    if (!hosts[rk].empty()) label += " (" + hosts[rk] + ")";
    s += "<text x=\"" + std::to_string(left - 8) + "\" y=\"" + std::to_string(y + lane_h / 2 + 4) +
         "\" text-anchor=\"end\">" + xml_escape(label) + "</text>\n";
    s += "<rect class=\"lane\" x=\"" + std::to_string(left) + "\" y=\"" + std::to_string(y) +
         "\" width=\"" + std::to_string(plot_w) + "\" height=\"" + std::to_string(lane_h) +
         "\" fill=\"#f4f4f4\"/>\n";
  }

  // Boxes of each lane in time order; those under a pixel merge per pixel column.
  std::map<std::int64_t, std::vector<const Chunk*>> by_lane;
  for (const auto& c : r.chunks) by_lane[c.rank].push_back(&c);
  auto x_of = [&](const Chunk& c, double t) { return left + (offset[c.attempt] + t) * scale; };
  for (auto& [rk, boxes] : by_lane) {
    std::sort(boxes.begin(), boxes.end(), [&](const Chunk* a, const Chunk* b) {
      return x_of(*a, a->start_s) < x_of(*b, b->start_s);
    });
    const int y = top + lane_of[rk] * (lane_h + gap);
    std::size_t i = 0;
    while (i < boxes.size()) {
      const Chunk& c = *boxes[i];
      const double x0 = x_of(c, c.start_s), x1 = x_of(c, c.end_s);
      if (x1 - x0 >= 1.0) {
        const bool ok = c.status == "done";
        const std::string color = ok ? pass_color[c.pass] : kFailedColor;
        s += "<rect class=\"chunk\" data-n=\"1\" x=\"" + fixed(x0, 2) + "\" y=\"" +
             std::to_string(y + 2) + "\" width=\"" + fixed(x1 - x0, 2) + "\" height=\"" +
             std::to_string(lane_h - 4) + "\" fill=\"" + color + "\"" +
             // Neighbours of one colour would read as one box: a white edge where it fits.
             (x1 - x0 >= 4.0 ? " stroke=\"white\" stroke-width=\"1\"" : "") + "><title>" +
             xml_escape("[" + std::to_string(c.begin) + ", " + std::to_string(c.end) + ") pass " +
                        c.pass + ", attempt " + std::to_string(c.attempt) + ", " +
                        fixed(c.end_s - c.start_s, 6) + " s, " + c.status) +
             "</title></rect>\n";
        ++i;
        continue;
      }
      // Merge the run of sub-pixel boxes starting in this pixel column.
      const double col = std::floor(x0);
      double lo = x0, hi = x1, seconds = 0;
      std::uint64_t n = 0, failed = 0, first = c.begin, last = c.end;
      std::map<std::string, std::uint64_t> passes;
      while (i < boxes.size()) {
        const Chunk& b = *boxes[i];
        const double b0 = x_of(b, b.start_s), b1 = x_of(b, b.end_s);
        if (b1 - b0 >= 1.0 || std::floor(b0) != col) break;
        lo = std::min(lo, b0);
        hi = std::max(hi, b1);
        seconds += b.end_s - b.start_s;
        first = std::min(first, b.begin);
        last = std::max(last, b.end);
        if (b.status != "done") ++failed;
        ++passes[b.pass];
        ++n;
        ++i;
      }
      std::string main_pass;
      std::uint64_t most = 0;
      for (const auto& [p, k] : passes)
        if (k > most) {
          most = k;
          main_pass = p;
        }
      const std::string color = failed ? kFailedColor : pass_color[main_pass];
      s += "<rect class=\"agg\" data-n=\"" + std::to_string(n) + "\" x=\"" + fixed(lo, 2) +
           "\" y=\"" + std::to_string(y + 2) + "\" width=\"" + fixed(std::max(1.0, hi - lo), 2) +
           "\" height=\"" + std::to_string(lane_h - 4) + "\" fill=\"" + color + "\"><title>" +
           xml_escape(std::to_string(n) + " chunks, spans within [" + std::to_string(first) + ", " +
                      std::to_string(last) + "), pass " + main_pass + ", " + fixed(seconds, 6) +
                      " s busy" + (failed ? ", " + std::to_string(failed) + " failed" : "")) +
           "</title></rect>\n";
    }
  }

  // Time axis with ticks; attempt boundaries dashed.
  s += "<line x1=\"" + std::to_string(left) + "\" y1=\"" + std::to_string(axis_y) + "\" x2=\"" +
       std::to_string(left + plot_w) + "\" y2=\"" + std::to_string(axis_y) +
       "\" stroke=\"black\"/>\n";
  const double step = nice_step(total, 10);
  for (double t = 0; t <= total * (1 + 1e-9); t += step) {
    const double x = left + t * scale;
    s += "<line x1=\"" + fixed(x, 2) + "\" y1=\"" + std::to_string(axis_y) + "\" x2=\"" +
         fixed(x, 2) + "\" y2=\"" + std::to_string(axis_y + 5) + "\" stroke=\"black\"/>\n";
    s += "<text x=\"" + fixed(x, 2) + "\" y=\"" + std::to_string(axis_y + 18) +
         "\" text-anchor=\"middle\">" + fmt(t, 4) + "</text>\n";
  }
  s += "<text x=\"" + std::to_string(left + plot_w / 2) + "\" y=\"" + std::to_string(axis_y + 34) +
       "\" text-anchor=\"middle\">seconds</text>\n";
  if (span.size() > 1) {
    for (const auto& [a, off] : offset) {
      if (off <= 0) continue;
      const double x = left + off * scale;
      s += "<line x1=\"" + fixed(x, 2) + "\" y1=\"" + std::to_string(top - 6) + "\" x2=\"" +
           fixed(x, 2) + "\" y2=\"" + std::to_string(axis_y) +
           "\" stroke=\"black\" stroke-dasharray=\"4 3\"/>\n";
      s += "<text x=\"" + fixed(x + 3, 2) + "\" y=\"" + std::to_string(top - 8) + "\">attempt " +
           std::to_string(a) + "</text>\n";
    }
  }
  int ly = legend_y;
  for (const auto& [p, color] : pass_color) {
    s += "<rect class=\"legend\" x=\"" + std::to_string(left) + "\" y=\"" + std::to_string(ly) +
         "\" width=\"12\" height=\"12\" fill=\"" + color + "\"/><text x=\"" +
         std::to_string(left + 18) + "\" y=\"" + std::to_string(ly + 10) + "\">" +
         xml_escape("done: " + (p.empty() ? std::string("chunk") : p)) + "</text>\n";
    ly += 20;
  }
  s += "<rect class=\"legend\" x=\"" + std::to_string(left) + "\" y=\"" + std::to_string(ly) +
       "\" width=\"12\" height=\"12\" fill=\"" + kFailedColor + "\"/><text x=\"" +
       std::to_string(left + 18) + "\" y=\"" + std::to_string(ly + 10) + "\">failed</text>\n";
  s += "</svg>\n";
  return s;
}

namespace {

std::string human(double v) {
  const char* prefixes[] = {"", "k", "M", "G", "T", "P"};
  int i = 0;
  while (std::abs(v) >= 1000 && i < 5) {
    v /= 1000;
    ++i;
  }
  return fmt(v, 3) + prefixes[i];
}

std::string human_s(double s) {
  if (s < 60) return fmt(s, 3) + " s";
  char buf[32];
  if (s < 3600)
    std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s / 60), static_cast<int>(s) % 60);
  else
    std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(s / 3600),
                  static_cast<int>(s / 60) % 60);
  return buf;
}

// The partial name of what the user gave (FILE.h5 or FILE.h5.partial) and the final name.
std::pair<fs::path, fs::path> names_of(const fs::path& given) {
  const std::string s = given.string();
  const std::string suffix = ".partial";
  if (s.size() > suffix.size() && s.ends_with(suffix))
    return {given, fs::path(s.substr(0, s.size() - suffix.size()))};
  return {h5::PendingFile::partial_path_for(given), given};
}

int exit_for(const std::string& status) {
  if (status == "complete") return 0;
  if (status == "partial") return 3;
  return 1;
}

}  // namespace

std::string follow_line(const Report& r) {
  std::string s = r.file.filename().string() + ": " + r.status;
  // The rate of this attempt: its items over its pool time so far.
  const double rate =
      r.attempt_span_s > 0 ? static_cast<double>(r.last_attempt_items) / r.attempt_span_s : 0.0;
  if (r.progress_total > 0) {
    const double frac =
        static_cast<double>(r.progress_done) / static_cast<double>(r.progress_total);
    s += "  " + fixed(100.0 * frac, 1) + "%  " + std::to_string(r.progress_done) + "/" +
         std::to_string(r.progress_total) + " items";
    if (r.status == "running" && rate > 0 && r.progress_done < r.progress_total)
      s += "  ETA " + human_s(static_cast<double>(r.progress_total - r.progress_done) / rate);
  } else {
    s += "  " + std::to_string(r.items_done) + " items";
  }
  s += "  " + human(rate) + " items/s  " + std::to_string(r.done) + " chunks";
  if (r.failed) s += " (" + std::to_string(r.failed) + " failed)";
  if (r.swmr) s += "  flushed " + fixed(r.since_flush_s, 1) + " s ago";
  s += "  ranks";
  for (const auto& p : r.per_rank)
    if (p.chunks > 0)
      s += " " + std::to_string(p.rank) + ":" + std::to_string(p.chunks) + "/" +
           fixed(p.busy_pct, 0) + "%";
  return s;
}

int follow(const fs::path& given, double interval, bool terminal, std::ostream& out) {
  const auto [partial, final_name] = names_of(given);
  std::error_code ec;
  if (!fs::exists(partial, ec) && !fs::exists(final_name, ec))
    throw ReportError(given.string() + ": no such file (nor " + partial.string() + ")");
  int drawn = 0;  // lines of the last redraw on a terminal
  const auto show = [&](const std::vector<std::string>& lines) {
    if (terminal) {
      std::string s;
      if (drawn > 0) s += "\x1b[" + std::to_string(drawn) + "F";  // back to the block's start
      for (const auto& l : lines) s += l + "\x1b[K\n";
      for (int i = static_cast<int>(lines.size()); i < drawn; ++i) s += "\x1b[K\n";
      drawn = std::max(drawn, static_cast<int>(lines.size()));
      out << s << std::flush;
    } else {
      for (const auto& l : lines) out << l << "\n";
      out << std::flush;
    }
  };
  const auto block = [&](const Report& r) {
    std::vector<std::string> lines{follow_line(r)};
    if (terminal) {  // the per-rank table too, one line a rank
      lines[0] = follow_line(r).substr(0, follow_line(r).find("  ranks"));
      for (const auto& p : r.per_rank)
        lines.push_back("  rank " + std::to_string(p.rank) + " " + p.host + ": " +
                        std::to_string(p.chunks) + " chunks, busy " + fixed(p.busy_pct, 1) + "%");
    }
    return lines;
  };
  while (true) {
    // The lock before the file: a finishing run renames its file before it drops the lock, so
    // a lock found gone while FILE.h5.partial still exists means the writer died.
    const auto writer = common::OutputLock::writer(final_name);
    if (fs::exists(partial, ec)) {
      std::optional<Report> r;
      try {
        r = read_report(partial);
      } catch (const std::exception& e) {
        // Before the first flush the file may not be readable yet.
        if (writer == common::OutputLock::Writer::alive) {
          show({partial.filename().string() + ": starting"});
          std::this_thread::sleep_for(std::chrono::duration<double>(interval));
          continue;
        }
        throw;
      }
      if (writer != common::OutputLock::Writer::alive && fs::exists(partial, ec)) {
        show(block(*r));
        out << "poolreport: the run writing " << partial.string()
            << " is gone (killed or crashed); the file holds what it flushed, last at "
            << r->last_flush << "; continue it with poolrun --resume\n";
        return 4;
      }
      show(block(*r));
    } else if (fs::exists(final_name, ec)) {
      const Report r = read_report(final_name);
      if (r.status != "running") {
        show(block(r));
        out << "poolreport: the run ended: " << final_name.string() << " is " << r.status << "\n";
        return exit_for(r.status);
      }
    } else {
      throw ReportError(final_name.string() + " disappeared");
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(interval));
  }
}

int main(int argc, char** argv) {
  CLI::App app{
      "poolreport: what a poolrun output file holds (complete, partial, failed, or a "
      "running or crashed FILE.h5.partial)"};
  std::string file, timeline;
  bool json = false;
  int width = 1200;
  app.add_option("file", file, "poolrun output (FILE.h5, or FILE.h5.partial)")
      ->required()
      ->type_name("FILE.h5");
  app.add_flag("--json", json, "Print the report as one JSON object");
  app.add_option("--timeline", timeline, "Write a per-rank timeline of the chunks as SVG")
      ->type_name("FILE.svg");
  app.add_option("--width", width, "Timeline width in pixels")
      ->capture_default_str()
      ->check(CLI::Range(300, 100000));
  bool config = false, follow_run = false, failed_tasks = false;
  app.add_flag("--failed-tasks", failed_tasks,
               "poolrun exec: print the commands of the failed tasks, one a line (a task file "
               "for poolrun exec --tasks)");
  double interval = 1.0;
  app.add_flag("--config", config,
               "Print the run's stored configuration as TOML (poolrun --config FILE.toml reruns "
               "it)");
  app.add_flag("--follow", follow_run,
               "Watch a running job's file until it ends: a redrawn view on a terminal, a line "
               "per --interval otherwise");
  app.add_option("--interval", interval, "Seconds between --follow updates")
      ->capture_default_str()
      ->check(CLI::Range(0.05, 3600.0));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  try {
    if (follow_run) return follow(file, interval, ::isatty(STDOUT_FILENO) != 0, std::cout);
    const Report r = read_report(file);
    if (failed_tasks) {
      if (r.workload != "exec")
        throw ReportError(file + ": --failed-tasks reads poolrun exec outputs, not " + r.workload);
      std::cout << failed_task_commands(r);
      return 0;
    }
    if (config) {
      if (r.config.empty()) throw ReportError(file + ": no stored configuration");
      std::cout << r.config;
      if (!r.config.ends_with('\n')) std::cout << '\n';
      return 0;
    }
    if (!timeline.empty()) {
      std::ofstream out(timeline, std::ios::binary);
      out << timeline_svg(r, width);
      out.close();
      if (!out) {
        std::cerr << "poolreport: cannot write " << timeline << "\n";
        return 2;
      }
    }
    std::cout << (json ? to_json(r) : to_text(r));
    return 0;
  } catch (const ReportError& e) {
    std::cerr << "poolreport: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::string what = e.what();
    if (const auto nl = what.find('\n'); nl != std::string::npos) what.resize(nl);
    std::cerr << "poolreport: " << file << ": " << what << "\n";
    return 2;
  }
}

}  // namespace poolreport
