#pragma once
// A workload: what one run of a batch program computes. Write one class, hand it to
// libpool::batch::main(), and the program gets the whole run machinery: the command line and
// TOML config (--config, --dump-config, --help), chunking, the crash-safe ledger and --resume,
// the one-writer lock, signal drain, lost ranks and --task-timeout, progress, provenance, the
// HDF5 output that poolreport reads, and the exit codes (docs/workloads.md).
//
//   class Histogram final : public libpool::batch::Workload {
//    public:
//     std::string name() const override { return "histogram"; }
//     std::string description() const override { return "..."; }
//     void options(libpool::batch::Options& o) override { ... }
//     void tasks(libpool::Registry& r) const override { r.add("histogram.bins", bins); }
//     void run(libpool::batch::Run& run) override { ... }
//   };
//   int main(int argc, char** argv) { return libpool::batch::main<Histogram>(argc, argv); }
//
// Every rank parses the same command line and calls options(), check(), tasks() and setup();
// only the master (rank 0) calls run().

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "libpool/batch/errors.hpp"
#include "libpool/batch/options.hpp"
#include "libpool/batch/run.hpp"
#include "libpool/errors.hpp"
#include "libpool/options.hpp"
#include "libpool/registry.hpp"

namespace libpool::batch {

// Exit codes (docs/output.md): complete, a task failed, usage error, interrupted.
inline constexpr int exit_complete = 0;
inline constexpr int exit_failed = 1;
inline constexpr int exit_usage = 2;
inline constexpr int exit_interrupted = 3;

class Workload {
 public:
  virtual ~Workload() = default;
  // The subcommand ("pi") and its one-line description for --help.
  virtual std::string name() const = 0;
  virtual std::string description() const = 0;
  // Declares the options (every rank).
  virtual void options(Options& /*options*/) {}
  // Checks the parsed options (every rank, before any output is touched); throws UsageError.
  virtual void check() const {}
  // Registers every task function the passes run (every rank, the same names everywhere).
  virtual void tasks(libpool::Registry& /*registry*/) const {}
  // Per-rank preparation before the pool starts (open an input, precompute a table): runs on
  // every rank after check(); tasks then read what it prepared, and small tasks keep running
  // inline on the MPI thread. A UsageError here ends every rank with exit 2.
  virtual void setup() {}
  // Settings of the pool that runs the tasks (libpool/options.hpp): tasks that are whole
  // processes want no prefetch, say, so that a task starts only when a rank is free for it.
  virtual void pool(libpool::Options& /*options*/) const {}
  // The computation, on the master: passes, then the result (libpool/batch/run.hpp).
  virtual void run(Run& run) = 0;
};

// The whole program: one workload (its options need no subcommand) or several (the first
// argument picks one, like poolrun's). Returns the exit code; call it from main().
int main(int argc, char** argv, std::vector<std::unique_ptr<Workload>> workloads);

template <class W>
int main(int argc, char** argv) {
  std::vector<std::unique_ptr<Workload>> w;
  w.push_back(std::make_unique<W>());
  return main(argc, argv, std::move(w));
}

}  // namespace libpool::batch
