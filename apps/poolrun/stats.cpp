// poolrun stats: count, sum, mean, population variance, min, max, NaN count and an optional
// histogram of an HDF5 dataset of any numeric type and rank (treated as flat).
//
// The data are cut along dimension 0 into reduction blocks: a run of whole HDF5 chunks of about
// 4 MiB (contiguous datasets: about 4 MiB of rows). The blocks depend on the dataset alone. The
// pass runs over the dataset's elements with a block as its granule, so a work chunk is a run of
// whole blocks (--chunksize counts elements, rounded up to whole blocks); its task reads them one
// at a time from the input that setup() opened and returns one kernels::Moments per block. The
// pass hands the chunks' partials over in span order, so the blocks' moments merge in block order
// and the bits of every result are the same at any rank count, chunk size or schedule. Histogram
// counts are integers.
//
// --bins N without --range: a first pass finds [min, max], a second pass counts (numpy's
// default range; a single value v gives [v - 0.5, v + 0.5], no value but NaNs gives [0, 1]; an
// infinite min or max is refused with exit 2 after the first pass, as numpy.histogram raises).
#include <cmath>
#include <cstdio>

#include "common/cli.hpp"
#include "common/errors.hpp"
#include "common/h5.hpp"
#include "kernels/reduce.hpp"
#include "poolrun.hpp"

namespace poolrun {

namespace {

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

}  // namespace

// What a stats task returns: the moments of each reduction block of its rows (in order) and the
// histogram counts of all its rows (empty when not asked).
struct StatsPart {
  std::vector<kernels::Moments> blocks;
  std::vector<std::uint64_t> counts;
  LIBPOOL_FIELDS(blocks, counts)
};

// Elements [begin, end): whole blocks of block_rows rows of row_elems elements (the last block
// may be shorter).
StatsPart stats_task(std::uint64_t block_rows, std::uint64_t row_elems, bool moments,
                     std::uint64_t bins, double lo, double hi, std::uint64_t begin_elem,
                     std::uint64_t end_elem) {
  test_delay();
  const h5::Dataset& d = input_dataset();
  const std::vector<hsize_t>& shape = input_shape();
  const std::uint64_t nrows = shape.empty() ? 1 : shape[0];
  const std::uint64_t begin = begin_elem / row_elems;
  const std::uint64_t end = std::min(nrows, libpool::ceil_div(end_elem, row_elems));
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

class Stats final : public libpool::batch::Workload {
 public:
  std::string name() const override { return "stats"; }
  std::string description() const override {
    return "count, sum, mean, variance, min, max, NaNs and a histogram of an HDF5 dataset";
  }
  void options(libpool::batch::Options& o) override {
    o.add("input", input_, "The dataset (any numeric type, any rank)").required().input();
    o.add("--bins", bins_, "Histogram bins (0: no histogram)");
    o.add("--range", range_, "Histogram range LO:HI (default: [min, max] of the data)");
    o.add("--axis", axis_, "0: per-column statistics of a 2-D table");
    o.add("--columns", columns_, "With --axis 0: the columns, by index (default: all)");
  }
  void check() const override {
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
    const common::cli::DatasetSpec spec{input_.file, input_.dataset};
    info_ = check_input(spec);
    // A task reads whole HDF5 chunks along dimension 0 (one row of a contiguous dataset).
    std::vector<hsize_t> least = info_.shape;
    if (!least.empty()) least[0] = info_.chunk.empty() ? 1 : std::min(info_.chunk[0], least[0]);
    check_fits(input_.str(), least, info_.element_size,
               info_.chunk.empty() ? "one row along dimension 0" : "one HDF5 chunk's rows");
    // The master keeps the moments of a chunk's blocks until the chunks before it are in:
    // billions of tiny rows can make that list too large even when every block fits.
    check_fits(input_.str(), {reduction_blocks(info_).count}, sizeof(kernels::Moments),
               "the moments of its reduction blocks");
    if (!axis_.empty()) picked_ = check_columns(input_.str(), info_, columns_);
  }
  void tasks(libpool::Registry& registry) const override {
    registry.add("poolrun.stats", stats_task);
    register_stats_columns(registry);
  }
  // Every rank opens the input once; its tasks read their blocks through it.
  void setup() override { init_input(input_.file, input_.dataset); }

  void run(libpool::batch::Run& run) override {
    if (!axis_.empty()) return run_stats_columns(run, input_.str(), info_, picked_);
    const auto [block_rows, nblocks] = reduction_blocks(info_);
    const std::uint64_t row_elems = product(info_.shape, 1);
    const std::uint64_t block_elems = block_rows * row_elems;
    const std::uint64_t block_bytes = block_elems * info_.element_size;
    // Automatic chunks: at most ~16 MiB; with a histogram, at least 16 x the bytes of the counts
    // the chunk's partial carries, so the ledger stays small beside the data.
    std::uint64_t min_blocks = 1;
    if (bins_ > 0)
      min_blocks = std::min(nblocks, std::max<std::uint64_t>(1, bins_ * 8 * 16 / block_bytes));
    const std::uint64_t max_blocks =
        std::max(min_blocks, std::max<std::uint64_t>(1, kChunkBytes / block_bytes));
    const auto pass = [&](const char* name) {
      return libpool::batch::Pass{.name = name,
                                  .space = {0, info_.elements},
                                  .unit = "elements",
                                  .min_chunk = min_blocks * block_elems,
                                  .max_chunk = max_blocks * block_elems,
                                  .granule = block_elems};
    };
    // A chunk's blocks follow those of the chunks before it: merged in block order.
    kernels::Moments m;
    std::vector<std::uint64_t> counts(bins_, 0);
    const auto add_counts = [&](const StatsPart& p, std::uint64_t bins) {
      if (p.counts.size() != bins) throw std::runtime_error("stats: wrong histogram size");
      for (std::size_t i = 0; i < bins; ++i) counts[i] += p.counts[i];
    };
    const bool two_pass = bins_ > 0 && range_.empty();
    const std::uint64_t bins1 = two_pass ? 0 : bins_;
    double lo = lo_;
    double hi = hi_;
    bool ok = run.ordered(
        pass("moments"),
        [&](const libpool::Span& span, StatsPart& p) {
          const std::uint64_t first = span.begin / block_elems;
          const std::uint64_t last = libpool::ceil_div(span.end, block_elems);
          if (p.blocks.size() != last - first)
            throw std::runtime_error("stats: wrong number of blocks");
          for (const kernels::Moments& b : p.blocks) m = kernels::merge(m, b);
          if (bins1 > 0) add_counts(p, bins1);
        },
        stats_task, block_rows, row_elems, true, bins1, lo, hi);
    if (!ok) return;
    if (two_pass) {
      if (m.count == 0) {
        lo = 0;
        hi = 1;
      } else if (!std::isfinite(m.min) || !std::isfinite(m.max)) {
        // numpy.histogram raises too: the range would not be finite.
        char what[160];
        std::snprintf(what, sizeof what,
                      "--bins: the data's range [%g, %g] is not finite; give --range LO:HI", m.min,
                      m.max);
        return run.refuse(input_.str() + ": " + what);
      } else if (m.min == m.max) {
        lo = m.min - 0.5;
        hi = m.max + 0.5;
      } else {
        lo = m.min;
        hi = m.max;
      }
      ok = run.ordered(
          pass("histogram"), [&](const libpool::Span&, StatsPart& p) { add_counts(p, bins_); },
          stats_task, block_rows, row_elems, false, bins_, lo, hi);
      if (!ok) return;
    }
    auto& result = run.result();
    result.scalar("count", m.count);
    result.scalar("sum", m.sum);
    result.scalar("mean", m.average());
    result.scalar("variance", m.variance());
    result.scalar("min", m.minimum());
    result.scalar("max", m.maximum());
    result.scalar("nan_count", m.nan_count);
    if (bins_ > 0) {
      result.values("histogram", counts);
      result.values("bin_edges", kernels::make_histogram(lo, hi, bins_).edges());
      result.attr("range", range_.empty() ? std::string("data") : range_);
    }
    result.attr("input", input_.str());
    result.attr("dtype", std::string(h5::to_string(info_.dtype)));
    result.attr("shape", shape_string(info_.shape));
    result.attr("block_rows", block_rows);
    result.attr("chunksize", run.chunk_size());
    result.attr("schedule", run.schedule());
    result.attr("passes", std::uint64_t{two_pass ? 2u : 1u});
    result.attr("merge", std::string("Chan, in block order"));
    char line[256];
    std::snprintf(line, sizeof line,
                  "stats: count %llu  mean %.10g  variance %.10g  min %.10g  max %.10g  NaN %llu",
                  static_cast<unsigned long long>(m.count), m.average(), m.variance(), m.minimum(),
                  m.maximum(), static_cast<unsigned long long>(m.nan_count));
    run.summary(std::string(line) + "\n  " + input_.str() + " (" +
                std::string(h5::to_string(info_.dtype)) + ", " + shape_string(info_.shape) + "), " +
                data_rate(info_, run.elapsed()));
  }

 private:
  libpool::batch::DatasetSpec input_;
  std::uint64_t bins_ = 0;
  std::string range_;
  std::string axis_;                    // "" (the whole dataset, flat) or "0" (per column)
  std::vector<std::uint64_t> columns_;  // with --axis 0
  mutable std::vector<std::uint64_t> picked_;
  mutable double lo_ = 0;
  mutable double hi_ = 1;
  mutable InputInfo info_;
};

}  // namespace

std::string data_rate(const InputInfo& info, double seconds) {
  const double bytes = static_cast<double>(info.elements * info.element_size);
  return human_rate(seconds > 0 ? bytes / seconds : 0.0, "B/s");
}

std::unique_ptr<libpool::batch::Workload> make_stats() {
  return std::make_unique<Stats>();
}

}  // namespace poolrun
