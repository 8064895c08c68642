// poolrun stats: count, sum, mean, population variance, min, max, NaN count and an optional
// histogram of an HDF5 dataset of any numeric type and rank (treated as flat).
//
// The data are cut along dimension 0 into reduction blocks: a run of whole HDF5 chunks of about
// 4 MiB (contiguous datasets: about 4 MiB of rows). The blocks depend on the dataset alone. A work
// chunk is a run of blocks; its task reads them one at a time from the input the pool initializer
// opened and returns one kernels::Moments per block. The master merges the blocks' moments in
// block order, so the bits of every result are the same at any rank count, chunk size or
// schedule. Histogram counts are integers, summed in any order.
//
// --bins N without --range: a first pass finds [min, max], a second pass counts (numpy's
// default range; a single value v gives [v - 0.5, v + 0.5], no value but NaNs gives [0, 1]; an
// infinite min or max is refused with exit 2 after the first pass, as numpy.histogram raises).
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <limits>

#include "common/cli.hpp"
#include "common/errors.hpp"
#include "common/h5.hpp"
#include "kernels/reduce.hpp"
#include "poolrun.hpp"

namespace poolrun {

namespace {

// The input of stats and thumbnails, opened once per task-running rank by init_input(). Never
// destroyed: HDF5's own exit handler closes it (a static destructor would run after it).
struct Input {
  h5::File file;
  h5::Dataset dataset;
  std::vector<hsize_t> shape;
  std::string name;  // FILE:/DSET, for error messages
};
Input* g_input = nullptr;

bool is_numeric(h5::Dtype t) {
  return t != h5::Dtype::string && t != h5::Dtype::other;
}

// Calls f(T{}) with T the native type of `t` (a numeric dtype).
template <class F>
decltype(auto) visit_numeric(h5::Dtype t, F&& f) {
  switch (t) {
    case h5::Dtype::int8:
      return f(std::int8_t{});
    case h5::Dtype::uint8:
      return f(std::uint8_t{});
    case h5::Dtype::int16:
      return f(std::int16_t{});
    case h5::Dtype::uint16:
      return f(std::uint16_t{});
    case h5::Dtype::int32:
      return f(std::int32_t{});
    case h5::Dtype::uint32:
      return f(std::uint32_t{});
    case h5::Dtype::int64:
      return f(std::int64_t{});
    case h5::Dtype::uint64:
      return f(std::uint64_t{});
    case h5::Dtype::float32:
      return f(float{});
    case h5::Dtype::float64:
      return f(double{});
    default:
      throw std::logic_error("stats: not a numeric dtype");
  }
}

std::uint64_t product(const std::vector<hsize_t>& dims, std::size_t from) {
  std::uint64_t p = 1;
  for (std::size_t i = from; i < dims.size(); ++i) p *= dims[i];
  return p;
}

// Reads rows [begin, end) along dimension 0 (a scalar dataset has one row).
template <class T>
void read_rows(const h5::Dataset& d, const std::vector<hsize_t>& shape, std::uint64_t begin,
               std::uint64_t end, std::span<T> out) {
  if (shape.empty()) {
    d.read(out);
    return;
  }
  std::vector<hsize_t> offset(shape.size(), 0);
  std::vector<hsize_t> count = shape;
  offset[0] = begin;
  count[0] = end - begin;
  d.read_slab(offset, count, out);
}

std::string shape_string(const std::vector<hsize_t>& shape) {
  if (shape.empty()) return "scalar";
  std::string s;
  for (auto v : shape) s += (s.empty() ? "" : "x") + std::to_string(v);
  return s;
}

}  // namespace

void check_finished(const h5::File& file, const std::string& what) {
  // A poolrun output that did not finish (datagen interrupted at 6%) holds zeros where rows are
  // missing: never an input. Files without a status attribute are plain inputs.
  if (!file.has_attr("status")) return;
  const std::string status = file.attr_string("status");
  if (status != "complete")
    throw common::UsageError(what + ": the file's status is '" + status +
                             "', not 'complete' (finish the run that writes it with --resume)");
}

InputInfo check_input(const common::cli::DatasetSpec& spec) {
  const std::string what = spec.str();
  std::error_code ec;
  if (!std::filesystem::exists(spec.file, ec)) throw common::UsageError(what + ": no such file");
  if (std::filesystem::is_directory(spec.file, ec))
    throw common::UsageError(what + ": is a directory");
  InputInfo info;
  try {
    if (!h5::File::is_hdf5(spec.file)) throw common::UsageError(what + ": not an HDF5 file");
    auto file = h5::File::open(spec.file);
    check_finished(file, what);
    if (!file.exists(spec.dataset) || !file.is_dataset(spec.dataset))
      throw common::UsageError(what + ": no such dataset");
    auto d = file.open_dataset(spec.dataset);
    info.dtype = d.dtype();
    if (!is_numeric(info.dtype))
      throw common::UsageError(what + ": expected a numeric dataset, found " +
                               std::string(h5::to_string(info.dtype)));
    info.shape = d.shape();
    info.chunk = d.chunk_dims();
    info.gzip = d.gzip_level();
    info.elements = d.num_elements();
    info.element_size = d.element_size();
    if (info.elements == 0)
      throw common::UsageError(what + ": the dataset is empty (shape " + shape_string(info.shape) +
                               ")");
    // A truncated or damaged file usually fails here already; reading the first and the last
    // element catches damage at either end before any work starts. One element each, not a
    // row: a row may be larger than memory (then the workload refuses it, check_fits).
    visit_numeric(info.dtype, [&](auto zero) {
      using T = decltype(zero);
      T v{};
      if (info.shape.empty()) {
        d.read(std::span<T>(&v, 1));
        return;
      }
      const std::vector<hsize_t> one(info.shape.size(), 1);
      std::vector<hsize_t> at(info.shape.size(), 0);
      d.read_slab(at, one, std::span<T>(&v, 1));
      for (std::size_t k = 0; k < at.size(); ++k) at[k] = info.shape[k] - 1;
      d.read_slab(at, one, std::span<T>(&v, 1));
    });
  } catch (const h5::Error& e) {
    throw common::UsageError(what + ": cannot read it, corrupt or truncated? (" + e.what() + ")");
  }
  return info;
}

std::uint64_t memory_bound() {
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page = ::sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return std::uint64_t{1} << 30;  // unknown: 1 GiB
  return static_cast<std::uint64_t>(pages) / 4 * static_cast<std::uint64_t>(page);
}

void check_fits(const std::string& what, const std::vector<hsize_t>& dims,
                std::uint64_t element_size, const std::string& unit) {
  // In long double: the product of HDF5 dimensions can pass 2^64.
  long double bytes = static_cast<long double>(element_size);
  for (hsize_t v : dims) bytes *= static_cast<long double>(v);
  const std::uint64_t bound = memory_bound();
  if (bytes <= static_cast<long double>(bound)) return;
  char size[64], limit[64];
  std::snprintf(size, sizeof size, "%.3Lg GiB", bytes / (1024.0L * 1024 * 1024));
  std::snprintf(limit, sizeof limit, "%.3g GiB",
                static_cast<double>(bound) / (1024.0 * 1024 * 1024));
  throw common::UsageError(what + ": " + unit + " (" + shape_string(dims) + ", " + size +
                           ") does not fit in memory: it is held at once, and at most " + limit +
                           " (a quarter of this node's memory) may be");
}

void init_input(std::string file, std::string dataset) {
  auto in = std::make_unique<Input>();
  in->file = h5::File::open(file);
  in->dataset = in->file.open_dataset(dataset);
  in->shape = in->dataset.shape();
  in->name = common::cli::DatasetSpec{file, dataset}.str();
  delete g_input;  // the initializer runs again after max_tasks_per_worker tasks
  g_input = in.release();
}

const h5::Dataset& input_dataset() {
  if (!g_input) throw std::logic_error("poolrun: the pool initializer did not run");
  return g_input->dataset;
}

void throw_input_error(std::uint64_t begin, std::uint64_t end, const h5::Error& e) {
  throw h5::Error((g_input ? g_input->name : std::string("input")) + ", rows [" +
                      std::to_string(begin) + ", " + std::to_string(end) + ")",
                  e);
}

// What a stats task returns: the moments of each reduction block of its rows (in order) and the
// histogram counts of all its rows (empty when not asked).
struct StatsPart {
  std::vector<kernels::Moments> blocks;
  std::vector<std::uint64_t> counts;
  LIBPOOL_FIELDS(blocks, counts)
};

// Blocks [bbegin, bend) of block_rows rows each (the last one may be shorter).
StatsPart stats_task(std::uint64_t block_rows, bool moments, std::uint64_t bins, double lo,
                     double hi, std::uint64_t bbegin, std::uint64_t bend) {
  test_delay();
  const h5::Dataset& d = input_dataset();
  const std::uint64_t nrows = g_input->shape.empty() ? 1 : g_input->shape[0];
  const std::uint64_t begin = bbegin * block_rows;
  const std::uint64_t end = std::min(nrows, bend * block_rows);
  const std::vector<hsize_t>& shape = g_input->shape;
  const std::uint64_t row = product(shape, 1);
  StatsPart part;
  std::optional<kernels::Histogram> hist;
  if (bins > 0) hist = kernels::make_histogram(lo, hi, bins);
  visit_numeric(d.dtype(), [&](auto zero) {
    using T = decltype(zero);
    // One block at a time: a rank holds ~4 MiB of data, whatever the chunk size.
    thread_local std::vector<T> buf;
    for (std::uint64_t r = begin; r < end; r += block_rows) {
      const std::uint64_t r2 = std::min(end, r + block_rows);
      buf.resize((r2 - r) * row);
      const std::span<T> values(buf);
      try {
        read_rows<T>(d, shape, r, r2, values);
      } catch (const h5::Error& e) {
        throw_input_error(r, r2, e);
      }
      if (moments) part.blocks.push_back(kernels::moments<T>(values));
      if (hist) kernels::accumulate<T>(*hist, values);
    }
    if (buf.capacity() > (std::size_t{8} << 20) / sizeof(T)) std::vector<T>().swap(buf);
  });
  if (hist) part.counts = std::move(hist->counts);
  return part;
}

void register_stats(libpool::Registry& registry) {
  registry.add("poolrun.init_input", init_input);
  registry.add("poolrun.stats", stats_task);
  register_stats_columns(registry);
}

namespace {

constexpr std::uint64_t kBlockBytes = std::uint64_t{4} << 20;
constexpr std::uint64_t kChunkBytes = std::uint64_t{16} << 20;

// Reduction blocks: whole HDF5 chunks along dimension 0, ~4 MiB; fixed by the dataset only, so
// the merge order (and the bits) do not depend on ranks or chunk size.
struct Blocks {
  std::uint64_t rows;   // rows of a block (the last one may be shorter)
  std::uint64_t count;  // blocks in the dataset
};
Blocks reduction_blocks(const InputInfo& info) {
  const std::uint64_t rows = info.shape.empty() ? 1 : info.shape[0];
  const std::uint64_t row_bytes = product(info.shape, 1) * info.element_size;
  const std::uint64_t c0 = info.chunk.empty() ? 1 : info.chunk[0];
  const std::uint64_t block_rows = std::min(
      rows,
      c0 * std::max<std::uint64_t>(1, kBlockBytes / std::max<std::uint64_t>(1, c0 * row_bytes)));
  return {block_rows, libpool::ceil_div(rows, block_rows)};
}

class Stats final : public Workload {
 public:
  std::string name() const override { return "stats"; }
  std::string description() const override {
    return "count, sum, mean, variance, min, max, NaNs and a histogram of an HDF5 dataset";
  }
  void add_options(CLI::App& sub) override {
    common::cli::add_dataset_spec(sub, "input", input_, "The dataset (any numeric type, any rank)")
        ->required();
    common::cli::add_u64(sub, "--bins", bins_, "Histogram bins (0: no histogram)");
    sub.add_option("--range", range_, "Histogram range LO:HI (default: [min, max] of the data)")
        ->type_name("LO:HI");
    sub.add_option("--axis", axis_, "0: per-column statistics of a 2-D table")->type_name("0");
    sub.add_option("--columns", columns_, "With --axis 0: the columns, by index (default: all)")
        ->type_name("I,J,...");
  }
  void validate(const CommonOptions&) const override {
    if (!range_.empty()) {
      const auto colon = range_.find(':', range_[0] == '-' ? 1 : 0);
      if (colon == std::string::npos)
        throw common::UsageError("--range: '" + range_ + "' is not LO:HI");
      lo_ = common::cli::parse_f64(std::string_view(range_).substr(0, colon), "--range LO");
      hi_ = common::cli::parse_f64(std::string_view(range_).substr(colon + 1), "--range HI");
      if (!(lo_ < hi_)) throw common::UsageError("--range: LO must be below HI");
      if (bins_ == 0) throw common::UsageError("--range needs --bins N");
      try {
        kernels::make_histogram(lo_, hi_, 1);
      } catch (const std::invalid_argument& e) {
        throw common::UsageError(std::string("--range: ") + e.what());
      }
    }
    if (bins_ > (std::uint64_t{1} << 24)) throw common::UsageError("--bins: at most 16777216");
    if (!axis_.empty() && axis_ != "0")
      throw common::UsageError("--axis: '" + axis_ + "' is not 0 (per-column statistics)");
    if (!columns_.empty() && axis_.empty()) throw common::UsageError("--columns needs --axis 0");
    if (!axis_.empty() && bins_ > 0)
      throw common::UsageError("--bins: not with --axis 0 (no per-column histograms)");
    info_ = check_input(input_);
    // A task reads whole HDF5 chunks along dimension 0 (one row of a contiguous dataset).
    std::vector<hsize_t> least = info_.shape;
    if (!least.empty()) least[0] = info_.chunk.empty() ? 1 : std::min(info_.chunk[0], least[0]);
    check_fits(input_.str(), least, info_.element_size,
               info_.chunk.empty() ? "one row along dimension 0" : "one HDF5 chunk's rows");
    // The master keeps one Moments a reduction block: billions of tiny rows can make that list
    // too large even when every block fits.
    check_fits(input_.str(), {reduction_blocks(info_).count}, sizeof(kernels::Moments),
               "the moments of its reduction blocks");
    if (!axis_.empty())
      picked_ =
          check_columns(input_.str(), info_,
                        columns_.empty() ? std::vector<std::uint64_t>{}
                                         : common::cli::parse_u64_list(columns_, "--columns"));
  }
  void configure(libpool::Options& options) const override {
    options.initializer(init_input, input_.file, input_.dataset);
  }
  std::vector<std::string> input_files() const override { return {input_.file}; }
  common::Identity identity() const override {
    common::Identity id{{"input", input_.str()},
                        {"input_file", common::file_identity(input_.file)},
                        {"bins", std::to_string(bins_)},
                        {"range", range_}};
    if (!axis_.empty()) {
      std::string cols;
      for (auto j : picked_) {
        if (!cols.empty()) cols += ',';
        cols += std::to_string(j);
      }
      id.push_back({"axis", axis_});
      id.push_back({"columns", cols});
    }
    return id;
  }

  int run(Run& run) override {
    if (!axis_.empty()) return run_stats_columns(run, input_, info_, picked_);
    const auto [block_rows, nblocks] = reduction_blocks(info_);
    // Work chunks: --chunksize elements rounded up to whole blocks; auto ~16 MiB, and at least
    // 4 chunks a worker when the dataset is small.
    const std::uint64_t block_elems = block_rows * product(info_.shape, 1);
    std::uint64_t cs = run.options().chunksize_value();
    std::uint64_t cs_min = 1, cs_max = UINT64_MAX;
    if (cs != 0) {
      // --chunksize elements, rounded up to whole blocks; more than the whole dataset is the
      // whole dataset.
      cs = std::clamp<std::uint64_t>(libpool::ceil_div(cs, block_elems), 1, nblocks);
      cs_min = cs_max = cs;
    } else {
      const std::uint64_t block_bytes = block_elems * info_.element_size;
      cs_max = std::max<std::uint64_t>(1, kChunkBytes / block_bytes);
      // A histogram row per chunk in the ledger: keep it small beside the chunk's data.
      if (bins_ > 0)
        cs_min = std::min(nblocks, std::max<std::uint64_t>(1, bins_ * 8 * 16 / block_bytes));
      cs_max = std::max(cs_max, cs_min);
      cs = std::clamp<std::uint64_t>(nblocks / (4 * run.workers()), cs_min, cs_max);
    }
    const bool two_pass = bins_ > 0 && range_.empty();
    std::vector<kernels::Moments> blocks(nblocks);
    std::vector<std::uint64_t> counts(bins_, 0);

    // The ledger: each block's moments at its index, each chunk's histogram in a row of its own
    // (the /chunks row's "partial" says which).
    h5::File& f = run.out().file();
    static const char* const fields[] = {"count", "nan_count", "sum", "mean", "m2", "min", "max"};
    std::vector<h5::Dataset> mds;
    h5::Dataset hist_ds;
    if (run.out().resumed() && f.exists("ledger/moments")) {
      for (const char* name : fields)
        mds.push_back(f.open_dataset(std::string("ledger/moments/") + name));
      if (bins_ > 0) hist_ds = f.open_dataset("ledger/histogram");
      // What earlier attempts finished: their blocks' moments and their chunks' counts.
      auto read_u64 = [&](std::size_t k, std::uint64_t b, std::uint64_t n) {
        std::vector<std::uint64_t> v(n);
        mds[k].read_slab<std::uint64_t>({b}, {n}, std::span<std::uint64_t>(v));
        return v;
      };
      auto read_f64 = [&](std::size_t k, std::uint64_t b, std::uint64_t n) {
        std::vector<double> v(n);
        mds[k].read_slab<double>({b}, {n}, std::span<double>(v));
        return v;
      };
      for (const auto& r : run.previous("moments")) {
        const std::uint64_t n = r.end - r.begin;
        const auto c = read_u64(0, r.begin, n), nan = read_u64(1, r.begin, n);
        const auto sum = read_f64(2, r.begin, n), mean = read_f64(3, r.begin, n),
                   m2 = read_f64(4, r.begin, n), mn = read_f64(5, r.begin, n),
                   mx = read_f64(6, r.begin, n);
        for (std::uint64_t i = 0; i < n; ++i)
          blocks[r.begin + i] = {c[i], nan[i], sum[i], mean[i], m2[i], mn[i], mx[i]};
      }
      if (bins_ > 0) {
        for (const auto& r : run.previous(two_pass ? "histogram" : "moments")) {
          std::vector<std::uint64_t> row(bins_);
          hist_ds.read_slab<std::uint64_t>({r.partial, 0}, {1, bins_},
                                           std::span<std::uint64_t>(row));
          for (std::size_t i = 0; i < bins_; ++i) counts[i] += row[i];
        }
      }
    } else {
      for (std::size_t k = 0; k < 7; ++k) {
        mds.push_back(f.create_dataset(std::string("ledger/moments/") + fields[k],
                                       k < 2 ? h5::Dtype::uint64 : h5::Dtype::float64, {nblocks}));
      }
      if (bins_ > 0) {
        h5::DatasetOptions o;
        o.max_dims = {h5::unlimited, bins_};
        o.chunk = {1, bins_};
        hist_ds = f.create_dataset("ledger/histogram", h5::Dtype::uint64, {0, bins_}, o);
      }
    }
    std::uint64_t hist_rows = hist_ds.valid() ? hist_ds.shape()[0] : 0;
    run.out().start();

    auto pass = [&](const char* name, bool moments, std::uint64_t bins, double lo, double hi) {
      auto opt = run.span_options(name, cs_min, cs_max);
      opt.chunksize = run.options().chunksize_value() != 0 ? cs : 0;  // in blocks
      auto chunks = run.pool().map_spans(stats_task, libpool::Span{0, nblocks}, opt, block_rows,
                                         moments, bins, lo, hi);
      run.start_progress(std::string("stats ") + name, chunks.items_total());
      return run.drive<StatsPart>(
          name, chunks, [&](libpool::SpanChunk<StatsPart>& c, common::ChunkRow& row) {
            const StatsPart& p = c.value();
            const std::uint64_t first = c.span.begin;
            const std::uint64_t n = c.span.size();
            if (moments) {
              if (p.blocks.size() != n) throw std::runtime_error("stats: wrong number of blocks");
              std::copy(p.blocks.begin(), p.blocks.end(),
                        blocks.begin() + static_cast<std::ptrdiff_t>(first));
              std::vector<std::uint64_t> u(n);
              std::vector<double> d(n);
              auto put_u = [&](std::size_t k, auto get) {
                for (std::uint64_t i = 0; i < n; ++i) u[i] = get(p.blocks[i]);
                mds[k].write_slab<std::uint64_t>({first}, {n}, std::span<const std::uint64_t>(u));
              };
              auto put_d = [&](std::size_t k, auto get) {
                for (std::uint64_t i = 0; i < n; ++i) d[i] = get(p.blocks[i]);
                mds[k].write_slab<double>({first}, {n}, std::span<const double>(d));
              };
              put_u(0, [](const kernels::Moments& m) { return m.count; });
              put_u(1, [](const kernels::Moments& m) { return m.nan_count; });
              put_d(2, [](const kernels::Moments& m) { return m.sum; });
              put_d(3, [](const kernels::Moments& m) { return m.mean; });
              put_d(4, [](const kernels::Moments& m) { return m.m2; });
              put_d(5, [](const kernels::Moments& m) { return m.min; });
              put_d(6, [](const kernels::Moments& m) { return m.max; });
            }
            if (bins > 0) {
              if (p.counts.size() != bins) throw std::runtime_error("stats: wrong histogram size");
              for (std::size_t i = 0; i < bins; ++i) counts[i] += p.counts[i];
              hist_ds.resize({hist_rows + 1, bins});
              hist_ds.write_slab<std::uint64_t>({hist_rows, 0}, {1, bins},
                                                std::span<const std::uint64_t>(p.counts));
              row.partial = hist_rows++;
            }
          });
    };

    kernels::Moments m;
    double lo = lo_;
    double hi = hi_;
    bool ok = pass("moments", true, two_pass ? 0 : bins_, lo, hi);
    if (ok) {
      for (const auto& b : blocks) m = kernels::merge(m, b);  // block order: same bits always
      if (two_pass) {
        if (m.count == 0) {
          lo = 0;
          hi = 1;
        } else if (!std::isfinite(m.min) || !std::isfinite(m.max)) {
          // numpy.histogram raises too: the range would not be finite.
          char what[160];
          std::snprintf(what, sizeof what,
                        "--bins: the data's range [%g, %g] is not finite; give --range LO:HI",
                        m.min, m.max);
          run.refuse(input_.str() + ": " + what);
          ok = false;
        } else if (m.min == m.max) {
          lo = m.min - 0.5;
          hi = m.max + 0.5;
        } else {
          lo = m.min;
          hi = m.max;
        }
        if (ok) ok = pass("histogram", false, bins_, lo, hi);
      }
    }
    mds.clear();
    hist_ds = h5::Dataset();
    if (ok) {
      auto& result = run.out().result();
      result.write_scalar("count", m.count);
      result.write_scalar("sum", m.sum);
      result.write_scalar("mean", m.average());
      result.write_scalar("variance", m.variance());
      result.write_scalar("min", m.minimum());
      result.write_scalar("max", m.maximum());
      result.write_scalar("nan_count", m.nan_count);
      if (bins_ > 0) {
        result.write_dataset("histogram", counts);
        result.write_dataset("bin_edges", kernels::make_histogram(lo, hi, bins_).edges());
        result.set_attr("range", range_.empty() ? std::string("data") : range_);
      }
      result.set_attr("input", input_.str());
      result.set_attr("dtype", h5::to_string(info_.dtype));
      result.set_attr("shape", shape_string(info_.shape));
      result.set_attr("block_rows", block_rows);
      result.set_attr("chunksize", cs * block_elems);
      result.set_attr("schedule", run.options().schedule);
      result.set_attr("passes", std::uint64_t{two_pass ? 2u : 1u});
      result.set_attr("merge", "Chan, in block order");
    }
    const double wall = run.elapsed();
    const int code = run.finish();
    if (!run.quiet() && code == exit_complete) {
      char line[256];
      std::snprintf(
          line, sizeof line,
          "stats: count %llu  mean %.10g  variance %.10g  min %.10g  max %.10g  NaN %llu\n",
          static_cast<unsigned long long>(m.count), m.average(), m.variance(), m.minimum(),
          m.maximum(), static_cast<unsigned long long>(m.nan_count));
      const double bytes = static_cast<double>(info_.elements * info_.element_size);
      std::cout << line << "  " << input_.str() << " (" << h5::to_string(info_.dtype) << ", "
                << shape_string(info_.shape) << ") on " << run.pool().size() << " rank(s) in "
                << human_seconds(wall) << ", " << human_rate(bytes / wall, "B/s") << " -> "
                << run.options().output << '\n';
    }
    return code;
  }

 private:
  common::cli::DatasetSpec input_;
  std::uint64_t bins_ = 0;
  std::string range_;
  std::string axis_;     // "" (the whole dataset, flat) or "0" (per column)
  std::string columns_;  // "I,J,...", with --axis 0
  mutable std::vector<std::uint64_t> picked_;
  mutable double lo_ = 0;
  mutable double hi_ = 1;
  mutable InputInfo info_;
};

}  // namespace

std::unique_ptr<Workload> make_stats() {
  return std::make_unique<Stats>();
}

}  // namespace poolrun
