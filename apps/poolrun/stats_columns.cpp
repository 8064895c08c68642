// poolrun stats --axis 0: count, sum, mean, population variance, min, max and NaN count of every
// column (or the --columns picked) of a 2-D table, pandas' DataFrame.describe() cut into chunks.
//
// The rows are cut into reduction blocks (whole HDF5 chunks along dimension 0, at least ~4 MiB
// and enough rows that the ledger stays under 1/64 of the data) fixed by the dataset and the
// picked columns alone. A work chunk is a run of blocks (--chunksize counts rows, rounded up to
// whole blocks); its task reads ~4 MiB of rows at a time from the input the pool initializer
// opened (converted to double by HDF5) and returns one kernels::Moments per block and column
// (kernels/columns.hpp, Eigen). The master merges each column's blocks in block order, so the
// bits do not depend on ranks, chunk size or schedule; --resume reads the finished blocks back
// from /ledger/columns.
#include <algorithm>
#include <cstdio>
#include <iostream>

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
constexpr const char* kFields[] = {"count", "nan_count", "sum", "mean", "m2", "min", "max"};

std::uint64_t ceil_div(std::uint64_t a, std::uint64_t b) {
  return a / b + (a % b != 0 ? 1 : 0);
}

// Rows read at a time within a block: ~4 MiB of the columns read, whole kernel sub-blocks.
std::uint64_t piece_rows(const std::vector<std::uint64_t>& picked) {
  const std::uint64_t span = picked.back() - picked.front() + 1;
  const std::uint64_t sub = kernels::column_layout(picked.size()).rows;
  return std::max<std::uint64_t>(1, kPieceBytes / (span * sizeof(double) * sub)) * sub;
}

// Blocks [first, first + nb) x c columns of moments into the 7 ledger datasets (kFields order).
void write_ledger(std::vector<h5::Dataset>& lds, std::uint64_t first, std::uint64_t nb,
                  std::uint64_t c, const std::vector<kernels::Moments>& p) {
  std::vector<std::uint64_t> counts[2];
  std::vector<double> values[5];
  for (const kernels::Moments& m : p) {
    counts[0].push_back(m.count);
    counts[1].push_back(m.nan_count);
    const double row[5] = {m.sum, m.mean, m.m2, m.min, m.max};
    for (std::size_t k = 0; k < 5; ++k) values[k].push_back(row[k]);
  }
  for (std::size_t k = 0; k < 7; ++k) {
    if (k < 2)
      lds[k].write_slab<std::uint64_t>({first, 0}, {nb, c},
                                       std::span<const std::uint64_t>(counts[k]));
    else
      lds[k].write_slab<double>({first, 0}, {nb, c}, std::span<const double>(values[k - 2]));
  }
}

}  // namespace

// Blocks [bbegin, bend) of block_rows rows: the moments of each block's picked columns, block
// after block (picked ascending; the task reads columns picked.front()..picked.back()).
std::vector<kernels::Moments> stats_columns_task(std::uint64_t block_rows,
                                                 std::vector<std::uint64_t> picked,
                                                 std::uint64_t bbegin, std::uint64_t bend) {
  test_delay();
  const h5::Dataset& d = input_dataset();
  const std::vector<hsize_t> shape = d.shape();
  if (shape.size() != 2 || picked.empty() || picked.back() >= shape[1])
    throw std::invalid_argument("stats --axis 0: the input is not the table the run checked");
  const std::uint64_t nrows = shape[0];
  const std::uint64_t first = picked.front();
  const std::uint64_t span = picked.back() - first + 1;
  std::vector<std::uint64_t> rel(picked.size());
  for (std::size_t j = 0; j < picked.size(); ++j) rel[j] = picked[j] - first;
  const std::uint64_t piece = piece_rows(picked);
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

int run_stats_columns(Run& run, const common::cli::DatasetSpec& input, const InputInfo& info,
                      const std::vector<std::uint64_t>& picked) {
  const std::uint64_t rows = info.shape[0];
  const std::uint64_t c = picked.size();
  const std::uint64_t row_bytes = info.shape[1] * info.element_size;
  // Reduction blocks: whole HDF5 chunks along dimension 0; >= 4 MiB, and >= 64 x the bytes of
  // their ledger row (7 values a column), so the ledger stays small beside the data.
  const std::uint64_t c0 = info.chunk.empty() ? 1 : info.chunk[0];
  const std::uint64_t want =
      std::max(ceil_div(kBlockBytes, row_bytes), ceil_div(64 * 7 * sizeof(double) * c, row_bytes));
  const std::uint64_t block_rows = std::min(rows, ceil_div(want, c0) * c0);
  const std::uint64_t nblocks = ceil_div(rows, block_rows);
  std::uint64_t cs = run.options().chunksize_value();  // rows
  std::uint64_t cs_min = 1, cs_max = UINT64_MAX;
  if (cs != 0) {
    cs = std::clamp<std::uint64_t>(ceil_div(cs, block_rows), 1, nblocks);
    cs_min = cs_max = cs;
  } else {
    cs_max = std::max<std::uint64_t>(
        1, kChunkBytes / std::max<std::uint64_t>(1, block_rows * row_bytes));
    cs = std::clamp<std::uint64_t>(nblocks / (4 * run.workers()), cs_min, cs_max);
  }

  // The ledger: block b's moments of picked column j at [b, j] of /ledger/columns/<field>.
  h5::File& f = run.out().file();
  std::vector<h5::Dataset> lds;
  std::vector<kernels::Moments> blocks(nblocks * c);
  if (run.out().resumed() && f.exists("ledger/columns")) {
    for (const char* name : kFields)
      lds.push_back(f.open_dataset(std::string("ledger/columns/") + name));
    for (const auto& r : run.previous("columns")) {
      const std::uint64_t n = (r.end - r.begin) * c;
      std::vector<std::uint64_t> u[2];
      std::vector<double> v[5];
      for (std::size_t k = 0; k < 7; ++k) {
        if (k < 2) {
          u[k].resize(n);
          lds[k].read_slab<std::uint64_t>({r.begin, 0}, {r.end - r.begin, c},
                                          std::span<std::uint64_t>(u[k]));
        } else {
          v[k - 2].resize(n);
          lds[k].read_slab<double>({r.begin, 0}, {r.end - r.begin, c}, std::span<double>(v[k - 2]));
        }
      }
      for (std::uint64_t i = 0; i < n; ++i)
        blocks[r.begin * c + i] = {u[0][i], u[1][i], v[0][i], v[1][i], v[2][i], v[3][i], v[4][i]};
    }
  } else {
    for (std::size_t k = 0; k < 7; ++k)
      lds.push_back(f.create_dataset(std::string("ledger/columns/") + kFields[k],
                                     k < 2 ? h5::Dtype::uint64 : h5::Dtype::float64, {nblocks, c}));
  }
  run.out().start();

  auto opt = run.span_options("columns", cs_min, cs_max);
  opt.chunksize = run.options().chunksize_value() != 0 ? cs : 0;  // in blocks
  auto chunks =
      run.pool().map_spans(stats_columns_task, libpool::Span{0, nblocks}, opt, block_rows, picked);
  run.start_progress("stats columns", chunks.items_total());
  const bool ok = run.drive<std::vector<kernels::Moments>>(
      "columns", chunks,
      [&](libpool::SpanChunk<std::vector<kernels::Moments>>& ch, common::ChunkRow&) {
        const auto& p = ch.value();
        const std::uint64_t nb = ch.span.size();
        if (p.size() != nb * c) throw std::runtime_error("stats: wrong number of column moments");
        std::copy(p.begin(), p.end(),
                  blocks.begin() + static_cast<std::ptrdiff_t>(ch.span.begin * c));
        write_ledger(lds, ch.span.begin, nb, c, p);
      });
  lds.clear();

  // Each column's blocks in block order: the same bits at any rank count, chunk size, schedule.
  std::vector<kernels::Moments> m(c);
  if (ok) {
    for (std::uint64_t b = 0; b < nblocks; ++b)
      for (std::uint64_t j = 0; j < c; ++j) m[j] = kernels::merge(m[j], blocks[b * c + j]);
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
    auto& result = run.out().result();
    result.write_dataset("columns", picked);
    result.write_dataset("count", count);
    result.write_dataset("sum", sum);
    result.write_dataset("mean", mean);
    result.write_dataset("variance", var);
    result.write_dataset("min", mn);
    result.write_dataset("max", mx);
    result.write_dataset("nan_count", nans);
    result.set_attr("input", input.str());
    result.set_attr("dtype", h5::to_string(info.dtype));
    result.set_attr("shape", std::to_string(rows) + "x" + std::to_string(info.shape[1]));
    result.set_attr("axis", std::uint64_t{0});
    result.set_attr("block_rows", block_rows);
    result.set_attr("chunksize", cs * block_rows);
    result.set_attr("schedule", run.options().schedule);
    result.set_attr("merge", "Chan, per column in block order");
  }
  const double wall = run.elapsed();
  const int code = run.finish();
  if (!run.quiet() && code == exit_complete) {
    const double bytes = static_cast<double>(info.elements * info.element_size);
    std::cout << "stats --axis 0: " << c << " column(s) of " << rows << " rows\n";
    const std::uint64_t shown = std::min<std::uint64_t>(c, 10);
    for (std::uint64_t j = 0; j < shown; ++j) {
      char line[256];
      std::snprintf(line, sizeof line,
                    "  column %llu: count %llu  mean %.10g  variance %.10g  min %.10g  max %.10g  "
                    "NaN %llu\n",
                    static_cast<unsigned long long>(picked[j]),
                    static_cast<unsigned long long>(m[j].count), m[j].average(), m[j].variance(),
                    m[j].minimum(), m[j].maximum(),
                    static_cast<unsigned long long>(m[j].nan_count));
      std::cout << line;
    }
    if (shown < c) std::cout << "  ... " << (c - shown) << " more in /result\n";
    std::cout << "  " << input.str() << " (" << h5::to_string(info.dtype) << ") on "
              << run.pool().size() << " rank(s) in " << human_seconds(wall) << ", "
              << human_rate(bytes / wall, "B/s") << " -> " << run.options().output << '\n';
  }
  return code;
}

}  // namespace poolrun
