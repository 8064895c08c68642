// libFuzzer target: the TOML configuration loader (--config, batch/src/common/cli.hpp) on arbitrary
// file contents, through the same CLI11 set-up as poolrun: a top-level app with --config and a
// workload subcommand whose options use every number syntax. Parsing either refuses (exit code 2,
// one line) or succeeds; then the effective configuration (--dump-config) must load again to the
// same values. Any exception that escapes, crash or disagreement is a finding.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "common/cli.hpp"

namespace {

struct Values {
  std::uint64_t to = 0;
  std::int64_t offset = 0;
  double rate = 0;
  std::vector<std::uint64_t> numbers;
  common::cli::Range range;
  common::cli::DatasetSpec input;
  common::cli::Size2 size;
  std::string schedule = "dynamic";
  bool force = false;
  bool operator==(const Values&) const = default;
};

struct Parsed {
  std::optional<int> code;
  Values values;
  std::string dumped;  // the effective configuration, when the parse went on
};

Parsed load(const std::string& path) {
  Parsed p;
  Values& v = p.values;
  CLI::App app("fuzz", "poolrun");
  app.add_flag("--force", v.force);
  app.add_option("--schedule", v.schedule)
      ->capture_default_str()
      ->check(CLI::IsMember({"dynamic", "guided"}));
  CLI::App* sub = app.add_subcommand("work", "")->fallthrough();
  common::cli::add_u64(*sub, "--to", v.to, "");
  common::cli::add_i64(*sub, "--offset", v.offset, "");
  common::cli::add_f64(*sub, "--rate", v.rate, "");
  common::cli::add_u64_list(*sub, "--numbers", v.numbers, "");
  common::cli::add_range(*sub, "--range", v.range, "");
  common::cli::add_dataset_spec(*sub, "--input", v.input, "");
  common::cli::add_size(*sub, "--size", v.size, "");
  common::cli::add_config(app);
  const char* argv[] = {"poolrun", "work", "--config", path.c_str()};
  p.code = common::cli::parse(app, 4, argv);
  if (!p.code) p.dumped = common::cli::effective_config(app);
  return p;
}

void write_file(const std::string& path, const char* data, std::size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data, static_cast<std::streamsize>(size));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string path =
      "/tmp/libpool-fuzz-config-" + std::to_string(::getpid()) + ".toml";
  write_file(path, reinterpret_cast<const char*>(data), size);
  const Parsed p = load(path);
  if (p.code) {
    if (*p.code != 2) std::abort();  // no --help or --dump-config in a config file
    return 0;
  }
  write_file(path, p.dumped.data(), p.dumped.size());
  const Parsed q = load(path);
  if (q.code || !(q.values == p.values)) {
    std::fprintf(stderr, "config: the effective configuration does not load back:\n%s\n",
                 p.dumped.c_str());
    std::abort();
  }
  return 0;
}
