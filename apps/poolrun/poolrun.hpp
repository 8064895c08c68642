// poolrun's internals: the table of built-in workloads (each written on the public workload API,
// libpool/batch.hpp), and what several of them share: the HDF5 input of stats and thumbnails,
// and tasks that seed reuses.
#pragma once

#include <libpool/batch.hpp>
#include <libpool/libpool.hpp>

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "batch/core.hpp"
#include "common/cli.hpp"
#include "common/h5.hpp"
#include "common/lock.hpp"
#include "common/output.hpp"

namespace poolrun {

__extension__ typedef unsigned __int128 u128;

using libpool::batch::detail::human_rate;
using libpool::batch::detail::test_delay;

// The built-in workloads, in the order poolrun --help lists them (workloads.def).
std::vector<std::unique_ptr<libpool::batch::Workload>> builtin_workloads();

// An HDF5 input dataset (stats, thumbnails), checked on every rank before the pool starts.
struct InputInfo {
  std::vector<hsize_t> shape;  // {} for a scalar
  h5::Dtype dtype = h5::Dtype::other;
  std::vector<hsize_t> chunk;  // {} when contiguous
  int gzip = 0;
  std::uint64_t elements = 0;
  std::uint64_t element_size = 0;
};
// Opens FILE.h5:/DSET and checks it is a non-empty numeric dataset whose first and last
// elements can be read; throws common::UsageError ("FILE.h5:/DSET: <reason>") otherwise.
InputInfo check_input(const common::cli::DatasetSpec& spec);
// What one task (or the master, for its per-block lists) may hold at once: a quarter of this
// node's physical memory.
std::uint64_t memory_bound();
// UsageError "WHAT: UNIT (dims, size) does not fit in memory ..." when dims x element_size
// bytes exceed memory_bound(): checked before the pool starts, instead of a bad_alloc mid-run.
void check_fits(const std::string& what, const std::vector<hsize_t>& dims,
                std::uint64_t element_size, const std::string& unit);
// UsageError when `file` is a poolrun output whose status is not "complete".
void check_finished(const h5::File& file, const std::string& what);
// The setup() of stats and thumbnails: every rank opens the input once and keeps it open for its
// tasks (input_dataset(), and its shape read once).
void init_input(std::string file, std::string dataset);
const h5::Dataset& input_dataset();
const std::vector<hsize_t>& input_shape();
// "1000x3" ("scalar" for a scalar dataset).
std::string shape_string(const std::vector<hsize_t>& shape);
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

// Throws e with the input's FILE:/DSET and the rows read in front of its message.
[[noreturn]] void throw_input_error(std::uint64_t begin, std::uint64_t end, const h5::Error& e);

// stats --axis 0 (stats_columns.cpp): the picked columns (all when `columns` is empty) after
// checking that the input is a 2-D table and the indices are its columns, ascending, distinct
// (common::UsageError otherwise); the run itself; its task.
std::vector<std::uint64_t> check_columns(const std::string& what, const InputInfo& info,
                                         std::vector<std::uint64_t> columns);
void run_stats_columns(libpool::batch::Run& run, const std::string& what, const InputInfo& info,
                       const std::vector<std::uint64_t>& picked);
// "1.2 GB/s": the input's bytes over `seconds`.
std::string data_rate(const InputInfo& info, double seconds);
void register_stats_columns(libpool::Registry& registry);

// Tasks shared by several workloads (seed reuses the others').
std::uint64_t count_primes_task(std::uint64_t begin, std::uint64_t end);
std::uint64_t pi_inside_task(std::uint64_t seed, std::uint64_t begin, std::uint64_t end);

}  // namespace poolrun
