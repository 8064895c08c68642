// poolrun's internals: the table of built-in workloads, and what the workloads not yet written on
// the public workload API (libpool/batch.hpp) share. The run machinery itself is libpool_batch
// (batch/src/batch/core.hpp).
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

using libpool::batch::exit_complete;
using libpool::batch::exit_failed;
using libpool::batch::exit_interrupted;
using libpool::batch::exit_usage;
using libpool::batch::detail::CommonOptions;
using libpool::batch::detail::human_rate;
using libpool::batch::detail::human_seconds;
using libpool::batch::detail::test_delay;
// A workload not yet on the public API drives the run machinery directly.
using Run = libpool::batch::detail::RunCore;
using Workload = libpool::batch::detail::Entry;

// The built-in workloads, in the order poolrun --help lists them.
std::vector<std::unique_ptr<Workload>> builtin_workloads();

std::unique_ptr<Workload> make_datagen();
std::unique_ptr<Workload> make_stats();

// The tasks of the workloads not yet on the API (registered on every rank).
void register_datagen(libpool::Registry& registry);
void register_stats(libpool::Registry& registry);

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
// The pool initializer of stats and thumbnails: every rank that runs tasks opens the input once
// and keeps it open for its tasks (input_dataset()).
void init_input(std::string file, std::string dataset);
const h5::Dataset& input_dataset();
// Throws e with the input's FILE:/DSET and the rows read in front of its message.
[[noreturn]] void throw_input_error(std::uint64_t begin, std::uint64_t end, const h5::Error& e);

// stats --axis 0 (stats_columns.cpp): the picked columns (all when `columns` is empty) after
// checking that the input is a 2-D table and the indices are its columns, ascending, distinct
// (common::UsageError otherwise); the run itself; its task.
std::vector<std::uint64_t> check_columns(const std::string& what, const InputInfo& info,
                                         std::vector<std::uint64_t> columns);
int run_stats_columns(Run& run, const common::cli::DatasetSpec& input, const InputInfo& info,
                      const std::vector<std::uint64_t>& picked);
void register_stats_columns(libpool::Registry& registry);

// Tasks shared by several workloads (seed reuses the others').
std::uint64_t count_primes_task(std::uint64_t begin, std::uint64_t end);
std::uint64_t pi_inside_task(std::uint64_t seed, std::uint64_t begin, std::uint64_t end);

}  // namespace poolrun
