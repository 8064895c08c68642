// The public workload API (libpool/batch/*.hpp) on top of the run machinery (batch/core.hpp).
#include <cmath>
#include <cstdio>
#include <deque>
#include <iostream>

#include "batch/core.hpp"
#include "common/cli.hpp"
#include "common/errors.hpp"
#include "common/h5.hpp"
#include "common/output.hpp"
#include "common/run_info.hpp"

namespace libpool::batch {

namespace detail {

// A workload's declared options: where each value lands, how it is written in the identity.
class OptionsCore {
 public:
  struct Record {
    CLI::Option* option = nullptr;
    std::string key;                       // the name without dashes ("samples")
    std::function<std::string()> text;     // the canonical value, for the identity
    std::function<std::string()> path;     // for input(): the file it names
    std::function<std::string()> dataset;  // ... and the dataset in it (FILE.h5:/DSET options)
    bool cosmetic = false;
    bool input = false;
    bool skip_empty = false;  // Options::identity(): an empty value adds nothing
  };

  explicit OptionsCore(CLI::App& app) : app_(app) {}

  Option add(const std::string& name, CLI::Option* o, std::function<std::string()> text,
             std::function<std::string()> path = {}) {
    Record r;
    r.option = o;
    r.key = name;
    while (!r.key.empty() && r.key.front() == '-') r.key.erase(0, 1);
    r.text = std::move(text);
    r.path = std::move(path);
    records_.push_back(std::move(r));
    return Option(this, records_.size() - 1);
  }
  CLI::App& app() { return app_; }
  Options options() { return Options(this); }
  // Options::output_dataset(): where -o FILE.h5:/DSET's dataset goes (null: not declared).
  std::string* output_dataset = nullptr;
  Record& at(std::size_t i) { return records_.at(i); }
  Record& at_last() { return records_.back(); }

  // What --resume must agree on: every option that is not cosmetic, then each input file's
  // identity (size and modification time).
  common::Identity identity() const {
    common::Identity id;
    for (const auto& r : records_) {
      if (r.cosmetic) continue;
      std::string text = r.text();
      if (r.skip_empty && text.empty()) continue;
      id.emplace_back(r.key, std::move(text));
    }
    const auto files = inputs();
    for (std::size_t i = 0; i < files.size(); ++i)
      id.emplace_back(files.size() == 1 ? "input_file" : "input_file." + std::to_string(i),
                      common::file_identity(files[i]));
    return id;
  }
  std::vector<std::string> inputs() const {
    std::vector<std::string> files;
    for (const auto& r : records_) {
      if (!r.input || !r.path) continue;
      const std::string p = r.path();
      if (p.empty()) continue;
      files.push_back(p);
      // The files a dataset reads through an external link or as a virtual dataset are inputs
      // too: a change in them changes the data.
      if (r.dataset) {
        try {
          for (const auto& q : h5::dataset_sources(p, r.dataset())) files.push_back(q.string());
        } catch (const h5::Error&) {
          // Unreadable: the workload's check() says why, in its own words.
        }
      }
    }
    return files;
  }

 private:
  CLI::App& app_;
  std::deque<Record> records_;
};

namespace {

std::string f64_text(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// A dataset a workload writes outside /result: an absolute path that is not the run's own.
void check_dataset_path(const std::string& path, const std::string& what) {
  if (path.size() < 2 || path.front() != '/' || path.back() == '/')
    throw common::UsageError(what + ": '" + path + "' is not a dataset path such as /data");
  const std::string top = path.substr(1, path.find('/', 1) - 1);
  for (const char* own : {"chunks", "partials", "workers", "error", "resumes", "progress"})
    if (top == own)
      throw common::UsageError(what + ": " + path + " is part of the run's own layout");
  if (path == "/result")
    throw common::UsageError(what + ": /result is part of the run's own layout");
}

// A workload written on the public API, as the driver sees it.
class PublicEntry final : public Entry {
 public:
  explicit PublicEntry(std::unique_ptr<Workload> w) : w_(std::move(w)) {}
  std::string name() const override { return w_->name(); }
  std::string description() const override { return w_->description(); }
  void add_options(CLI::App& sub) override {
    core_ = std::make_unique<OptionsCore>(sub);
    Options o = core_->options();
    w_->options(o);
  }
  // "-o FILE.h5:/DSET" of a workload that writes one dataset: the file is the output.
  void adjust_options(CommonOptions& o) override {
    std::string* dataset = core_->output_dataset;
    if (!dataset) return;
    if (o.output.rfind(":/") != std::string::npos) {
      const auto spec = common::cli::parse_dataset_spec(o.output, "--output");
      o.output = spec.file;
      *dataset = spec.dataset;
    }
    check_dataset_path(*dataset, "--output");
  }
  void validate(const CommonOptions&) const override { w_->check(); }
  void register_tasks(libpool::Registry& registry) const override { w_->tasks(registry); }
  void setup() override { w_->setup(); }
  void configure(libpool::Options& options) const override { w_->pool(options); }
  common::Identity identity() const override { return core_->identity(); }
  std::vector<std::string> input_files() const override { return core_->inputs(); }
  int run(RunCore& core) override {
    core.set_workload(w_->name());
    w_->run(core.api());
    const double wall = core.elapsed();
    const int code = core.finish();
    if (code == exit_complete) core.print_summary(wall);
    return code;
  }

 private:
  std::unique_ptr<Workload> w_;
  std::unique_ptr<OptionsCore> core_;
};

}  // namespace

std::unique_ptr<Entry> adapt(std::unique_ptr<Workload> workload) {
  return std::make_unique<PublicEntry>(std::move(workload));
}

}  // namespace detail

// ---- Option / Options ----------------------------------------------------------------------

Option& Option::required() {
  core_->at(index_).option->required();
  return *this;
}
Option& Option::cosmetic() {
  core_->at(index_).cosmetic = true;
  return *this;
}
Option& Option::input() {
  auto& r = core_->at(index_);
  if (!r.path) throw std::logic_error("Option::input(): only a file name or FILE.h5:/DSET option");
  r.input = true;
  return *this;
}
Option& Option::excludes(const Option& other) {
  core_->at(index_).option->excludes(other.core_->at(other.index_).option);
  return *this;
}
bool Option::given() const {
  return core_->at(index_).option->count() > 0;
}

Option Options::add(const std::string& name, std::uint64_t& value, const std::string& help) {
  return core_->add(name, common::cli::add_u64(core_->app(), name, value, help),
                    [&value] { return std::to_string(value); });
}
Option Options::add(const std::string& name, std::int64_t& value, const std::string& help) {
  return core_->add(name, common::cli::add_i64(core_->app(), name, value, help),
                    [&value] { return std::to_string(value); });
}
Option Options::add(const std::string& name, double& value, const std::string& help) {
  return core_->add(name, common::cli::add_f64(core_->app(), name, value, help),
                    [&value] { return detail::f64_text(value); });
}
Option Options::add(const std::string& name, std::string& value, const std::string& help) {
  CLI::Option* o = core_->app().add_option(name, value, help);
  if (!value.empty()) o->capture_default_str();
  return core_->add(
      name, o, [&value] { return value; }, [&value] { return value; });
}
Option Options::add(const std::string& name, std::vector<std::uint64_t>& value,
                    const std::string& help) {
  return core_->add(name, common::cli::add_u64_list(core_->app(), name, value, help), [&value] {
    std::string s;
    for (auto v : value) s += (s.empty() ? "" : ",") + std::to_string(v);
    return s;
  });
}
Option Options::add(const std::string& name, libpool::Span& value, const std::string& help) {
  CLI::Option* o = common::cli::add_range(
      core_->app(), name,
      [&value](const common::cli::Range& r) {
        value = libpool::Span{r.begin, r.end};
      },
      help);
  if (!value.empty()) o->default_str(std::to_string(value.begin) + ":" + std::to_string(value.end));
  return core_->add(
      name, o, [&value] { return std::to_string(value.begin) + ":" + std::to_string(value.end); });
}
Option Options::add(const std::string& name, DatasetSpec& value, const std::string& help) {
  CLI::Option* o = common::cli::add_dataset_spec(
      core_->app(), name,
      [&value](const common::cli::DatasetSpec& d) {
        value = DatasetSpec{d.file, d.dataset};
      },
      help);
  Option option = core_->add(
      name, o, [&value] { return value.str(); }, [&value] { return value.file; });
  core_->at_last().dataset = [&value] { return value.dataset; };
  return option;
}
Option Options::command(const std::string& name, std::vector<std::string>& words,
                        const std::string& help) {
  CLI::Option* o = core_->app().add_option(name, words, help);
  // In the identity each word is quoted, so that ["a b"] and ["a", "b"] differ.
  return core_->add(name, o, [&words] {
    std::string s;
    for (const auto& w : words) {
      s += s.empty() ? "\"" : " \"";
      for (const char c : w) {
        if (c == '"' || c == '\\') s += '\\';
        if (c == '\n') {
          s += "\\n";
          continue;
        }
        s += c;
      }
      s += '"';
    }
    return s;
  });
}
Option Options::flag(const std::string& name, bool& value, const std::string& help) {
  return core_->add(name, core_->app().add_flag(name, value, help),
                    [&value] { return std::string(value ? "true" : "false"); });
}

void Options::output_dataset(std::string& dataset) {
  core_->output_dataset = &dataset;
  core_->add("dataset", nullptr, [&dataset] { return dataset; });
}

void Options::identity(const std::string& key, const std::string& value) {
  core_->add(key, nullptr, [&value] { return value; });
  core_->at_last().skip_empty = true;
}

// ---- Run -----------------------------------------------------------------------------------

int Run::ranks() const {
  return core_->pool().size();
}
std::uint64_t Run::workers() const {
  return core_->workers();
}
libpool::Executor& Run::pool() {
  return core_->pool();
}
const std::string& Run::output() const {
  return core_->options().output;
}
bool Run::quiet() const {
  return core_->quiet();
}
double Run::elapsed() const {
  return core_->elapsed();
}
std::uint64_t Run::chunk_size() const {
  return core_->chunk_size();
}
std::string Run::schedule() const {
  return core_->options().schedule;
}
void Run::fail(const std::string& message) {
  core_->fail(message);
}
void Run::refuse(const std::string& message) {
  core_->refuse(message);
}
bool Run::failed() const {
  return core_->failed();
}
void Run::summary(const std::string& text) {
  core_->add_summary(text);
}

std::vector<Run::Stored> Run::begin_pass_(const Pass& pass, bool with_stored) {
  if (pass.name.empty() || pass.name.size() > 15)
    throw std::invalid_argument("batch::Pass: a name of 1 to 15 bytes (got '" + pass.name + "')");
  // Every dataset exists by now: the ledger goes into SWMR mode for readers of a running file.
  core_->out().start();
  core_->set_api_pass(pass.name);
  std::vector<Stored> stored;
  if (!with_stored) return stored;
  for (const auto& r : core_->previous(pass.name)) {
    if (r.blob.empty())
      throw common::UsageError("--resume: a /chunks row of pass '" + pass.name +
                               "' holds no partial result (written by another version?)");
    stored.push_back({libpool::Span{r.begin, r.end}, r.blob});
  }
  return stored;
}

libpool::SpanOptions Run::span_options_(const Pass& pass) const {
  libpool::SpanOptions opt =
      core_->span_options(pass.name, pass.min_chunk, pass.max_chunk, pass.granule);
  opt.breaks = pass.breaks;
  opt.skip.insert(opt.skip.end(), pass.holes.begin(), pass.holes.end());
  if (pass.chunksize != 0) {
    opt.chunksize = pass.chunksize;
    opt.schedule = libpool::Schedule::Dynamic;
  }
  return opt;
}

void Run::started_(const Pass& pass, std::uint64_t items, std::uint64_t chunk_size) {
  const int index = core_->begin_pass();
  core_->set_chunk_size(chunk_size);
  core_->set_unit(pass.unit);
  core_->start_progress(index == 0 ? core_->workload() : core_->workload() + " " + pass.name,
                        items);
}

void Run::chunk_done_(const libpool::Span& span, const libpool::TaskInfo& info,
                      const libpool::Writer& bytes, std::uint64_t lo, std::uint64_t hi) {
  common::ChunkRow row = core_->row_for(span, info, core_->api_pass());
  row.partial = lo;
  row.partial_hi = hi;
  row.blob.assign(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  core_->record_chunk(std::move(row));
  core_->add_progress(span.size());
}

void Run::chunk_failed_(const libpool::Span& span, const libpool::TaskInfo& info,
                        std::exception_ptr error) {
  common::ChunkRow row = core_->row_for(span, info, core_->api_pass());
  core_->handle_error(error, row, span);
}

bool Run::tick_(const std::function<void()>& stop) {
  return core_->tick(stop);
}
bool Run::stopped_() const {
  return core_->failed() || core_->interrupted();
}
void Run::end_pass_(bool complete) {
  core_->end_progress();
  if (!complete) core_->set_incomplete();
  common::test_point("pass_end");
}

h5::Dtype to_dtype(Type t) {
  switch (t) {
    case Type::int8:
      return h5::Dtype::int8;
    case Type::uint8:
      return h5::Dtype::uint8;
    case Type::int16:
      return h5::Dtype::int16;
    case Type::uint16:
      return h5::Dtype::uint16;
    case Type::int32:
      return h5::Dtype::int32;
    case Type::uint32:
      return h5::Dtype::uint32;
    case Type::int64:
      return h5::Dtype::int64;
    case Type::uint64:
      return h5::Dtype::uint64;
    case Type::float32:
      return h5::Dtype::float32;
    case Type::float64:
      return h5::Dtype::float64;
  }
  return h5::Dtype::other;
}

std::size_t Run::rows_(const std::string& name, Type type, std::uint64_t rows,
                       const std::vector<std::uint64_t>& row_shape, std::uint64_t chunk_rows,
                       int gzip) {
  auto& out = core_->out();
  if (out.started())
    throw std::logic_error("batch::Run::rows(\"" + name +
                           "\"): declare datasets before the first pass");
  if (gzip < 0 || gzip > 9) throw std::invalid_argument("batch::Run::rows: gzip is 0..9");
  const bool absolute = !name.empty() && name.front() == '/';
  if (absolute) detail::check_dataset_path(name, "batch::Run::rows");
  const std::string path = absolute ? name : "/result/" + name;
  auto r = std::make_unique<detail::RowsOut>();
  r->dtype = to_dtype(type);
  r->element_size = h5::size_of(r->dtype);
  r->dims.push_back(rows);
  for (auto d : row_shape) {
    r->dims.push_back(d);
    r->row_elements *= d;
  }
  h5::File& file = out.file();
  // Whether the dataset exists, its groups looked at one by one (a missing group is not an
  // error).
  const auto exists = [&] {
    for (auto pos = path.find('/', 1);; pos = path.find('/', pos + 1)) {
      if (!file.exists(path.substr(0, pos))) return false;
      if (pos == std::string::npos) return true;
    }
  };
  if (out.resumed() && exists()) {
    r->dataset = file.open_dataset(path);
    if (r->dataset.shape() != r->dims || r->dataset.dtype() != r->dtype)
      throw common::UsageError("--resume: " + path +
                               " has another shape or type than this run writes");
  } else {
    if (exists()) throw common::UsageError(path + " exists in the output file already");
    if (chunk_rows == 0) {
      const std::uint64_t row_bytes = std::max<std::uint64_t>(1, r->row_elements * r->element_size);
      chunk_rows = std::max<std::uint64_t>(1, (std::uint64_t{1} << 20) / row_bytes);
    }
    h5::DatasetOptions o;
    o.chunk = r->dims;
    o.chunk[0] = std::max<std::uint64_t>(1, std::min<std::uint64_t>(rows, chunk_rows));
    for (std::size_t i = 1; i < o.chunk.size(); ++i) o.chunk[i] = std::max<hsize_t>(1, o.chunk[i]);
    o.gzip = gzip;
    o.shuffle = gzip > 0;
    for (auto pos = path.find('/', 1); pos != std::string::npos; pos = path.find('/', pos + 1))
      file.require_group(path.substr(0, pos));
    r->dataset = file.create_dataset(path, r->dtype, r->dims, o);
  }
  const auto chunk = r->dataset.chunk_dims();
  r->chunk_rows = chunk.empty() ? 1 : std::max<std::uint64_t>(1, chunk[0]);
  core_->rows_out().push_back(std::move(r));
  return core_->rows_out().size() - 1;
}

void Run::write_rows_(detail::RunCore* core, std::size_t id, std::uint64_t first, const void* data,
                      std::size_t elements) {
  auto& r = *core->rows_out().at(id);
  if (!r.dataset.valid())
    throw std::logic_error("batch::Rows::write: rows are written by passes, before the results");
  if (elements % r.row_elements != 0)
    throw std::invalid_argument("batch::Rows::write: not a whole number of rows");
  const std::uint64_t n = elements / r.row_elements;
  if (first > r.dims[0] || n > r.dims[0] - first)
    throw std::out_of_range("batch::Rows::write: rows [" + std::to_string(first) + ", " +
                            std::to_string(first + n) + ") outside " +
                            std::string(r.dataset.path()));
  if (n == 0) return;
  const auto* b = static_cast<const std::byte*>(data);
  // Rows written again (a task run again, say) replace the earlier values: those still waiting
  // go to the file first, so that they never land after the new ones.
  if (auto it = r.pending.lower_bound(first);
      (it != r.pending.end() && it->first < first + n) ||
      (it != r.pending.begin() &&
       std::prev(it)->first + std::prev(it)->second.size() / r.row_bytes() > first))
    r.write_pending();
  // Whole HDF5 chunks go to the file as they are, uncopied. (No waiting run ends at a chunk
  // boundary, so none has to join them.)
  if (first % r.chunk_rows == 0 && ((first + n) % r.chunk_rows == 0 || first + n == r.dims[0])) {
    r.write_slab(first, n, b);
    return;
  }
  const std::size_t bytes = elements * r.element_size;
  // Chunks mostly complete in order: rows that continue a waiting run join it.
  auto next = r.pending.lower_bound(first);
  auto run = r.pending.end();
  if (next != r.pending.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second.size() / r.row_bytes() == first) {
      prev->second.insert(prev->second.end(), b, b + bytes);
      run = prev;
    }
  }
  if (run == r.pending.end())
    run = r.pending.emplace_hint(next, first, std::vector<std::byte>(b, b + bytes));
  r.pending_bytes += bytes;
  // A run that completes whole HDF5 chunks writes them now, while the workers compute: no chunk
  // is rewritten later (a partial one would be read back and written again).
  r.write_whole_chunks(run);
  // Bounded: at most 64 MiB or 65536 runs wait for the next flush.
  if (r.pending_bytes >= (std::uint64_t{64} << 20) || r.pending.size() >= 65536) r.write_pending();
}

void Run::write_chunk_(detail::RunCore* core, std::size_t id, std::uint64_t first,
                       std::span<const std::uint8_t> stored) {
  auto& r = *core->rows_out().at(id);
  if (!r.dataset.valid())
    throw std::logic_error(
        "batch::Rows::write_chunk: rows are written by passes, before the results");
  if (first % r.chunk_rows != 0 || first >= r.dims[0])
    throw std::out_of_range("batch::Rows::write_chunk: row " + std::to_string(first) +
                            " does not begin an HDF5 chunk of " + std::string(r.dataset.path()));
  std::vector<hsize_t> offset(r.dims.size(), 0);
  offset[0] = first;
  r.dataset.write_chunk(offset, stored);
}

std::vector<std::uint8_t> deflate_chunk(std::span<const std::byte> values, std::size_t element_size,
                                        int level) {
  return h5::deflate_chunk({reinterpret_cast<const std::uint8_t*>(values.data()), values.size()},
                           element_size, true, level);
}

void Run::chunk_counted_(const libpool::Span& span, const libpool::TaskInfo& info,
                         std::uint64_t count) {
  common::ChunkRow row = core_->row_for(span, info, core_->api_pass());
  row.partial = count;
  core_->record_chunk(std::move(row));
  core_->add_progress(span.size());
}

std::uint64_t Run::counted_before_(const Pass& pass) {
  std::uint64_t total = 0;
  for (const auto& r : core_->previous(pass.name)) total += r.partial;
  return total;
}

// ---- Result --------------------------------------------------------------------------------

namespace {

template <class O>
void set_value_attr(O& o, const std::string& name, const Value& v) {
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string>) {
          o.set_attr(name, std::string_view(x));
        } else {
          o.set_attr(name, x);
        }
      },
      v);
}

}  // namespace

namespace {
// /result, or the group below it that `prefix` names ("NAME/"), created on first use.
h5::Group target(detail::RunCore* core, const std::string& prefix) {
  // Results come after the passes: their rows are done.
  if (core->out().started()) core->close_rows();
  h5::Group& result = core->out().result();
  if (prefix.empty()) return result.open_group(".");
  return result.require_group(prefix.substr(0, prefix.size() - 1));
}
// The same, with `name` free: a resumed run whose earlier attempt wrote its results (and failed
// after, say) writes them anew.
h5::Group target(detail::RunCore* core, const std::string& prefix, const std::string& name) {
  h5::Group g = target(core, prefix);
  if (g.exists(name)) g.unlink(name);
  return g;
}
}  // namespace

void Result::scalar(const std::string& name, const Value& value) {
  h5::Group g = target(core_, prefix_, name);
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string>) {
          g.write_string(name, x);
        } else {
          g.write_scalar(name, x);
        }
      },
      value);
}
void Result::values(const std::string& name, std::span<const std::uint64_t> data) {
  target(core_, prefix_, name).write_dataset(name, data);
}
void Result::values(const std::string& name, std::span<const std::int64_t> data) {
  target(core_, prefix_, name).write_dataset(name, data);
}
void Result::values(const std::string& name, std::span<const double> data) {
  target(core_, prefix_, name).write_dataset(name, data);
}
void Result::strings(const std::string& name, const std::vector<std::string>& data) {
  target(core_, prefix_, name).write_strings(name, data);
}
void Result::attr(const std::string& name, const Value& value) {
  h5::Group g = target(core_, prefix_);
  set_value_attr(g, name, value);
}
void Result::attr(const std::string& object, const std::string& name, const Value& value) {
  h5::Group g = target(core_, prefix_);
  if (g.is_group(object)) {
    h5::Group o = g.open_group(object);
    set_value_attr(o, name, value);
  } else {
    h5::Dataset o = g.open_dataset(object);
    set_value_attr(o, name, value);
  }
}

// ---- main ----------------------------------------------------------------------------------

int main(int argc, char** argv, std::vector<std::unique_ptr<Workload>> workloads) {
  std::vector<std::unique_ptr<detail::Entry>> entries;
  for (auto& w : workloads) entries.push_back(detail::adapt(std::move(w)));
  std::string program = argc > 0 && argv[0] ? std::string(argv[0]) : std::string("batch");
  if (const auto slash = program.rfind('/'); slash != std::string::npos)
    program.erase(0, slash + 1);
  return detail::run_main(argc, argv, std::move(entries), program,
                          "a batch workload on an MPI process pool");
}

}  // namespace libpool::batch
