// Command-line helpers on top of CLI11: exact number parsing (1e10, 10_000_000), lists, ranges,
// FILE.h5:/DSET specs, WxH sizes, --config/--dump-config, and one-line errors with exit code 2.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/errors.hpp"

namespace common::cli {

// ---- pure parsers: throw UsageError("<what>: <reason>") --------------------------------------

// Integers: decimal digits with optional '_' between digits, and an optional exponent
// (1e10, 2.5e3); exact up to 2^64-1. A value with a fractional part (1.5, 1e-1) is refused.
std::uint64_t parse_u64(std::string_view text, std::string_view what);
std::int64_t parse_i64(std::string_view text, std::string_view what);
// Floating point (also with '_' separators); must be finite.
double parse_f64(std::string_view text, std::string_view what);
// "N1,N2,..." (no empty items).
std::vector<std::uint64_t> parse_u64_list(std::string_view text, std::string_view what);

// Half-open [begin, end); "A:B" with begin <= end.
struct Range {
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
  std::uint64_t size() const { return end - begin; }
  bool operator==(const Range&) const = default;
};
Range parse_range(std::string_view text, std::string_view what);

// "FILE.h5:/DSET": the dataset part is after the last ':' and must start with '/'.
struct DatasetSpec {
  std::string file;
  std::string dataset;
  std::string str() const { return file + ":" + dataset; }
  bool operator==(const DatasetSpec&) const = default;
};
DatasetSpec parse_dataset_spec(std::string_view text, std::string_view what);

// "WxH" (also 'X'), both positive.
struct Size2 {
  std::uint64_t width = 0;
  std::uint64_t height = 0;
  bool operator==(const Size2&) const = default;
};
Size2 parse_size(std::string_view text, std::string_view what);

// The same checks without the "what: " prefix; empty string means valid. CLI11 validators use
// these (CLI11 prefixes the option name itself).
std::string u64_error(std::string_view text, std::uint64_t* out = nullptr);
std::string i64_error(std::string_view text, std::int64_t* out = nullptr);

// ---- CLI11 options ---------------------------------------------------------------------------
// Each option accepts the number syntax above on the command line and in --config files, and
// shows the canonical value (e.g. 10000000000) in --dump-config. Values are stored on parse.

CLI::Option* add_u64(CLI::App& app, const std::string& name, std::uint64_t& out,
                     const std::string& description);
CLI::Option* add_i64(CLI::App& app, const std::string& name, std::int64_t& out,
                     const std::string& description);
CLI::Option* add_f64(CLI::App& app, const std::string& name, double& out,
                     const std::string& description);
// Comma-separated on the command line, a TOML array (or the same string) in a config file.
CLI::Option* add_u64_list(CLI::App& app, const std::string& name, std::vector<std::uint64_t>& out,
                          const std::string& description);
// The two below also with a setter, for a value stored in another type.
CLI::Option* add_range(CLI::App& app, const std::string& name,
                       std::function<void(const Range&)> set, const std::string& description);
CLI::Option* add_dataset_spec(CLI::App& app, const std::string& name,
                              std::function<void(const DatasetSpec&)> set,
                              const std::string& description);
CLI::Option* add_range(CLI::App& app, const std::string& name, Range& out,
                       const std::string& description);
CLI::Option* add_dataset_spec(CLI::App& app, const std::string& name, DatasetSpec& out,
                              const std::string& description);
CLI::Option* add_size(CLI::App& app, const std::string& name, Size2& out,
                      const std::string& description);

// A transform that canonicalises an unsigned integer in place (usable on any option).
CLI::Validator unsigned_number();
CLI::Validator signed_number();

// Adds "--config FILE.toml" (unknown keys are an error) and "--dump-config" to the top-level
// app (CLI11 2.1 reads config files only there). Options of a subcommand live in its TOML table
// ("[primes]" then "to = 1e10"), which is also what --dump-config prints; give subcommands
// fallthrough() so "poolrun primes --config f.toml" reaches the top-level option.
struct ConfigOptions {
  CLI::Option* config = nullptr;
  CLI::Option* dump = nullptr;
};
ConfigOptions add_config(CLI::App& app);

// The effective configuration as TOML (every configurable option, defaults included).
std::string effective_config(const CLI::App& app);

// effective_config() plus, commented with their descriptions, the options that have no value
// yet (required ones first of all), and the workloads to choose from when none is chosen: what
// --dump-config prints when required options are missing.
std::string config_template(const CLI::App& app);

// One line for a CLI11 error: "<app>: error: <message>". Multi-line messages are joined.
std::string one_line(const CLI::Error& e, std::string_view app_name);

// Parses argv. Returns nullopt to go on with the run, or the exit code to leave with: 0 after
// --help/--version/--dump-config (printed on stdout; a template when required options are missing),
// 2 after a usage error (one line on stderr, no help dump). UsageError thrown from callbacks is
// reported the same way.
std::optional<int> parse(CLI::App& app, int argc, const char* const* argv);

}  // namespace common::cli
