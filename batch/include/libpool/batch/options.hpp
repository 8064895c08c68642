#pragma once
// Declaring a workload's options: one call per option, the value lands in your variable.
//
//   void options(libpool::batch::Options& o) override {
//     o.add("--samples", samples_, "Number of random points").required();
//     o.add("--seed", seed_, "Key of the random stream");
//     o.add("--range", range_, "Every x in [A, B)");          // "A:B"
//   }
//
// Every option works on the command line, in a --config TOML file (in the workload's table:
// "[pi]" then "samples = 1e9") and in --dump-config. Numbers take 1e10 and 10_000_000; a value
// that does not parse is a one-line error with exit code 2 before any work starts. Every option
// is part of the run's identity (--resume refuses another value) unless marked cosmetic().

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "libpool/spans.hpp"

namespace libpool::batch {

// An HDF5 dataset named on the command line as FILE.h5:/DSET.
struct DatasetSpec {
  std::string file;
  std::string dataset;
  std::string str() const { return file + ":" + dataset; }
  friend bool operator==(const DatasetSpec&, const DatasetSpec&) = default;
};

namespace detail {
class OptionsCore;
}

// One declared option; the calls chain.
class Option {
 public:
  // The run cannot start without it (its --dump-config line is commented out until given).
  Option& required();
  // Not part of the run's identity: --resume may change it (a display setting, say).
  Option& cosmetic();
  // The option names an input file (a DatasetSpec, or a string that is a path): the file's
  // size, modification time and checksum join the identity and the provenance, and the output
  // may never be that file.
  Option& input();
  // The two options cannot be given together (a one-line usage error names both).
  Option& excludes(const Option& other);
  // Whether the user gave it (command line or config); valid from check() on.
  bool given() const;

 private:
  friend class detail::OptionsCore;
  Option(detail::OptionsCore* core, std::size_t index) : core_(core), index_(index) {}
  detail::OptionsCore* core_;
  std::size_t index_;
};

// The options of one workload (a subcommand of the program).
class Options {
 public:
  Option add(const std::string& name, std::uint64_t& value, const std::string& help);
  Option add(const std::string& name, std::int64_t& value, const std::string& help);
  Option add(const std::string& name, double& value, const std::string& help);  // finite only
  Option add(const std::string& name, std::string& value, const std::string& help);
  // Comma-separated on the command line, a TOML array in a config file.
  Option add(const std::string& name, std::vector<std::uint64_t>& value, const std::string& help);
  // A half-open range "A:B" with A <= B.
  Option add(const std::string& name, libpool::Span& value, const std::string& help);
  // FILE.h5:/DSET.
  Option add(const std::string& name, DatasetSpec& value, const std::string& help);
  // The words of a command, given after `--` on the command line (`-- ./simulate --seed {}`)
  // or as a TOML array of strings in a config file. `name` has no dashes ("command").
  Option command(const std::string& name, std::vector<std::string>& words, const std::string& help);
  // A switch without a value.
  Option flag(const std::string& name, bool& value, const std::string& help);
  // The workload writes its data to one dataset that the user may name: `-o FILE.h5:/DSET`
  // puts /DSET in `dataset` (which holds the default, "/data" say) and FILE.h5 is the output.
  // Part of the identity; a path of the run's own layout (/chunks, /result, ...) is refused.
  void output_dataset(std::string& dataset);
  // An entry of the run's identity that no option gives: the version of an algorithm whose
  // results change with it, so that --resume never mixes two. Read when the run starts (set it
  // in check()); an empty value adds nothing.
  void identity(const std::string& key, const std::string& value);

 private:
  friend class detail::OptionsCore;
  explicit Options(detail::OptionsCore* core) : core_(core) {}
  detail::OptionsCore* core_;
};

}  // namespace libpool::batch
