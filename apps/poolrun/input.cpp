// The HDF5 input of stats and thumbnails (and factor --input's check that a poolrun output is
// finished): checked on every rank before the pool starts, then opened once per rank by the
// workload's setup() for its tasks.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "common/cli.hpp"
#include "common/errors.hpp"
#include "common/h5.hpp"
#include "poolrun.hpp"

namespace poolrun {

namespace {

// The input of stats and thumbnails, opened once per rank by init_input() (their setup()). Never
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

}  // namespace

std::string shape_string(const std::vector<hsize_t>& shape) {
  if (shape.empty()) return "scalar";
  std::string s;
  for (auto v : shape) s += (s.empty() ? "" : "x") + std::to_string(v);
  return s;
}

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
  delete g_input;
  g_input = in.release();
}

const std::vector<hsize_t>& input_shape() {
  input_dataset();
  return g_input->shape;
}

const h5::Dataset& input_dataset() {
  if (!g_input) throw std::logic_error("poolrun: the workload's setup() did not open its input");
  return g_input->dataset;
}

void throw_input_error(std::uint64_t begin, std::uint64_t end, const h5::Error& e) {
  throw h5::Error((g_input ? g_input->name : std::string("input")) + ", rows [" +
                      std::to_string(begin) + ", " + std::to_string(end) + ")",
                  e);
}

}  // namespace poolrun
