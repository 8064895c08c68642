// poolrun stats --axis 0: count, sum, mean, population variance, min, max and NaN count of every
// column (or the --columns picked) of a 2-D table, pandas' DataFrame.describe() cut into chunks.
//
// The rows are cut into reduction blocks (whole HDF5 chunks along dimension 0, at least ~4 MiB
// and enough rows that the ledger stays under 1/64 of the data) fixed by the dataset and the
// picked columns alone. The pass runs over the rows with a block as its granule, so a work chunk
// is a run of whole blocks (--chunksize counts rows, rounded up to whole blocks); its task reads
// ~4 MiB of rows at a time from the input that setup() opened (converted to double by HDF5) and
// returns one kernels::Moments per block and column (kernels/columns.hpp, Eigen). The pass hands
// the partials over in span order, so each column's blocks merge in block order and the bits do
// not depend on ranks, chunk size or schedule; --resume reads finished chunks' partials back from
// the ledger.
#include <algorithm>
#include <cstdio>

#include "common/cli.hpp"
#include "common/errors.hpp"
#include "common/h5.hpp"
#include "kernels/columns.hpp"
#include "poolrun.hpp"

namespace poolrun {

namespace {

constexpr std::uint64_t kPieceBytes = std::uint64_t{4} << 20;   // read at a time by a task
constexpr std::uint64_t kBlockBytes = std::uint64_t{4} << 20;   // a reduction block, at least
constexpr std::uint64_t kChunkBytes = std::uint64_t{16} << 20;  // an automatic work chunk
// Rows read at a time within a block: ~4 MiB of the columns read, whole kernel sub-blocks.
std::uint64_t piece_rows(const std::vector<std::uint64_t>& picked) {
  const std::uint64_t span = picked.back() - picked.front() + 1;
  const std::uint64_t sub = kernels::column_layout(picked.size()).rows;
  return std::max<std::uint64_t>(1, kPieceBytes / (span * sizeof(double) * sub)) * sub;
}

}  // namespace

// Rows [begin, end): whole blocks of block_rows rows (the last one may be shorter). The moments
// of each block's picked columns, block after block (picked ascending; the task reads columns
// picked.front()..picked.back()).
std::vector<kernels::Moments> stats_columns_task(std::uint64_t block_rows,
                                                 std::vector<std::uint64_t> picked,
                                                 std::uint64_t begin_row, std::uint64_t end_row) {
  test_delay();
  const h5::Dataset& d = input_dataset();
  const std::vector<hsize_t>& shape = input_shape();
  if (shape.size() != 2 || picked.empty() || picked.back() >= shape[1])
    throw std::invalid_argument("stats --axis 0: the input is not the table the run checked");
  const std::uint64_t nrows = shape[0];
  const std::uint64_t first = picked.front();
  const std::uint64_t span = picked.back() - first + 1;
  std::vector<std::uint64_t> rel(picked.size());
  for (std::size_t j = 0; j < picked.size(); ++j) rel[j] = picked[j] - first;
  const std::uint64_t piece = piece_rows(picked);
  const std::uint64_t bbegin = begin_row / block_rows;
  const std::uint64_t bend = libpool::ceil_div(std::min(end_row, nrows), block_rows);
  std::vector<kernels::Moments> out((bend - bbegin) * picked.size());
  thread_local std::vector<double> buf;
  for (std::uint64_t b = bbegin; b < bend; ++b) {
    const std::uint64_t begin = b * block_rows;
    const std::uint64_t end = std::min(nrows, begin + block_rows);
    const std::span<kernels::Moments> acc(out.data() + (b - bbegin) * picked.size(), picked.size());
    for (std::uint64_t r = begin; r < end; r += piece) {
      const std::uint64_t n = std::min(end - r, piece);
      buf.resize(n * span);
      try {
        d.read_slab<double>({r, first}, {n, span}, std::span<double>(buf));
      } catch (const h5::Error& e) {
        throw_input_error(r, r + n, e);
      }
      kernels::column_moments(buf.data(), n, span, rel, acc);
    }
  }
  if (buf.capacity() > (std::size_t{8} << 20) / sizeof(double)) std::vector<double>().swap(buf);
  return out;
}

void register_stats_columns(libpool::Registry& registry) {
  registry.add("poolrun.stats_columns", stats_columns_task);
}

std::vector<std::uint64_t> check_columns(const std::string& what, const InputInfo& info,
                                         std::vector<std::uint64_t> columns) {
  if (info.shape.size() != 2) {
    std::string s;
    for (auto v : info.shape) {
      if (!s.empty()) s += 'x';
      s += std::to_string(v);
    }
    throw common::UsageError(what + ": --axis 0 needs a 2-D table, found shape " +
                             (s.empty() ? std::string("scalar") : s));
  }
  const std::uint64_t width = info.shape[1];
  if (columns.empty()) {
    for (std::uint64_t j = 0; j < width; ++j) columns.push_back(j);
    return columns;
  }
  for (auto j : columns)
    if (j >= width)
      throw common::UsageError("--columns: " + std::to_string(j) + " is not a column of " + what +
                               " (" + std::to_string(width) + " columns)");
  std::vector<std::uint64_t> sorted = columns;
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end())
    throw common::UsageError("--columns: a column is named twice");
  if (sorted != columns) throw common::UsageError("--columns: give the columns in ascending order");
  return columns;
}

void run_stats_columns(libpool::batch::Run& run, const std::string& what, const InputInfo& info,
                       const std::vector<std::uint64_t>& picked) {
  const std::uint64_t rows = info.shape[0];
  const std::uint64_t c = picked.size();
  const std::uint64_t row_bytes = info.shape[1] * info.element_size;
  // Reduction blocks: whole HDF5 chunks along dimension 0; >= 4 MiB, and >= 64 x the bytes of
  // their moments (7 values a column), so the ledger's partials stay small beside the data.
  const std::uint64_t c0 = info.chunk.empty() ? 1 : info.chunk[0];
  const std::uint64_t want = std::max(libpool::ceil_div(kBlockBytes, row_bytes),
                                      libpool::ceil_div(64 * 7 * sizeof(double) * c, row_bytes));
  const std::uint64_t block_rows = std::min(rows, libpool::ceil_div(want, c0) * c0);
  const std::uint64_t max_blocks =
      std::max<std::uint64_t>(1, kChunkBytes / std::max<std::uint64_t>(1, block_rows * row_bytes));

  // Each column's blocks in block order: the same bits at any rank count, chunk size, schedule.
  std::vector<kernels::Moments> m(c);
  const bool ok = run.ordered(
      {.name = "columns",
       .space = {0, rows},
       .unit = "rows",
       .max_chunk = max_blocks * block_rows,
       .granule = block_rows},
      [&](const libpool::Span& span, std::vector<kernels::Moments>& p) {
        const std::uint64_t nb = libpool::ceil_div(span.end, block_rows) - span.begin / block_rows;
        if (p.size() != nb * c) throw std::runtime_error("stats: wrong number of column moments");
        for (std::uint64_t b = 0; b < nb; ++b)
          for (std::uint64_t j = 0; j < c; ++j) m[j] = kernels::merge(m[j], p[b * c + j]);
      },
      stats_columns_task, block_rows, picked);
  if (!ok) return;
  std::vector<std::uint64_t> count(c), nans(c);
  std::vector<double> sum(c), mean(c), var(c), mn(c), mx(c);
  for (std::uint64_t j = 0; j < c; ++j) {
    count[j] = m[j].count;
    nans[j] = m[j].nan_count;
    sum[j] = m[j].sum;
    mean[j] = m[j].average();
    var[j] = m[j].variance();
    mn[j] = m[j].minimum();
    mx[j] = m[j].maximum();
  }
  auto& result = run.result();
  result.values("columns", picked);
  result.values("count", count);
  result.values("sum", sum);
  result.values("mean", mean);
  result.values("variance", var);
  result.values("min", mn);
  result.values("max", mx);
  result.values("nan_count", nans);
  result.attr("input", what);
  result.attr("dtype", std::string(h5::to_string(info.dtype)));
  result.attr("shape", shape_string(info.shape));
  result.attr("axis", std::uint64_t{0});
  result.attr("block_rows", block_rows);
  result.attr("chunksize", run.chunk_size());
  result.attr("schedule", run.schedule());
  result.attr("merge", std::string("Chan, per column in block order"));

  std::string text =
      "stats --axis 0: " + std::to_string(c) + " column(s) of " + std::to_string(rows) + " rows\n";
  const std::uint64_t shown = std::min<std::uint64_t>(c, 10);
  for (std::uint64_t j = 0; j < shown; ++j) {
    char line[256];
    std::snprintf(line, sizeof line,
                  "  column %llu: count %llu  mean %.10g  variance %.10g  min %.10g  max %.10g  "
                  "NaN %llu\n",
                  static_cast<unsigned long long>(picked[j]),
                  static_cast<unsigned long long>(m[j].count), m[j].average(), m[j].variance(),
                  m[j].minimum(), m[j].maximum(), static_cast<unsigned long long>(m[j].nan_count));
    text += line;
  }
  if (shown < c) text += "  ... " + std::to_string(c - shown) + " more in /result\n";
  text += "  " + what + " (" + std::string(h5::to_string(info.dtype)) + "), " +
          data_rate(info, run.elapsed());
  run.summary(text);
}

}  // namespace poolrun
