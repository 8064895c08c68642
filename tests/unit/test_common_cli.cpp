// CLI helpers: exact number parsing, lists/ranges/specs/sizes, TOML --config/--dump-config with
// CLI11 2.1.2, one-line errors with exit code 2, run metadata.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "common/cli.hpp"
#include "common/run_info.hpp"
#include "test_common_util.hpp"

using namespace common::cli;
using common::UsageError;

namespace {

// The UsageError message of f(), or "" when it did not throw.
template <class F>
std::string usage_message(F&& f) {
  try {
    f();
  } catch (const UsageError& e) {
    return e.what();
  }
  return {};
}

struct Argv {
  explicit Argv(std::vector<std::string> a) : args(std::move(a)) {
    for (auto& s : args) ptrs.push_back(s.c_str());
  }
  int argc() const { return static_cast<int>(ptrs.size()); }
  const char* const* argv() const { return ptrs.data(); }
  std::vector<std::string> args;
  std::vector<const char*> ptrs;
};

// Runs cli::parse and captures what it printed.
struct Parsed {
  std::optional<int> code;
  std::string out;
  std::string err;
};
Parsed run_parse(CLI::App& app, std::vector<std::string> args) {
  Argv a(std::move(args));
  testing::internal::CaptureStdout();
  testing::internal::CaptureStderr();
  Parsed p;
  p.code = parse(app, a.argc(), a.argv());
  p.out = testing::internal::GetCapturedStdout();
  p.err = testing::internal::GetCapturedStderr();
  return p;
}

}  // namespace

TEST(CommonCli, UnsignedIntegers) {
  EXPECT_EQ(parse_u64("0", "--n"), 0u);
  EXPECT_EQ(parse_u64("42", "--n"), 42u);
  EXPECT_EQ(parse_u64("+42", "--n"), 42u);
  EXPECT_EQ(parse_u64("1e10", "--to"), 10000000000u);
  EXPECT_EQ(parse_u64("1E10", "--to"), 10000000000u);
  EXPECT_EQ(parse_u64("2.5e3", "--to"), 2500u);
  EXPECT_EQ(parse_u64("1.50e1", "--to"), 15u);
  EXPECT_EQ(parse_u64("10_000_000", "--to"), 10000000u);
  EXPECT_EQ(parse_u64("1_0e1_0", "--to"), 100000000000u);
  EXPECT_EQ(parse_u64("000123", "--to"), 123u);
  EXPECT_EQ(parse_u64("0e999999", "--to"), 0u);
  EXPECT_EQ(parse_u64("-0", "--to"), 0u);
  EXPECT_EQ(parse_u64("18446744073709551615", "--to"), std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(parse_u64("18_446_744_073_709_551_615", "--to"),
            std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(parse_u64("1.8446744073709551615e19", "--to"),
            std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(parse_u64("1e19", "--to"), 10000000000000000000u);
  EXPECT_EQ(parse_u64("120e-1", "--to"), 12u);

  EXPECT_EQ(usage_message([] { parse_u64("1.5", "--to"); }),
            "--to: '1.5' is not an integer (it has a fractional part)");
  EXPECT_EQ(usage_message([] { parse_u64("-1", "--to"); }),
            "--to: '-1' is negative, expected a value >= 0");
  EXPECT_EQ(usage_message([] { parse_u64("18446744073709551616", "--to"); }),
            "--to: '18446744073709551616' is too large");
  EXPECT_EQ(usage_message([] { parse_u64("2e19", "--to"); }), "--to: '2e19' is too large");
  EXPECT_EQ(usage_message([] { parse_u64("1e9999999", "--to"); }),
            "--to: '1e9999999' is too large");
  EXPECT_EQ(usage_message([] { parse_u64("", "--to"); }), "--to: empty value, expected an integer");
  for (const char* junk :
       {"abc", "1x", "0x10",  "1e", "e5", "_1", "1_",  "1__0", "1._5", "1_.5",
        " 1",  "1 ", "1,000", ".",  "+",  "-",  "1e+", "inf",  "nan",  "1e1.5"}) {
    const auto msg = usage_message([&] { parse_u64(junk, "--n"); });
    EXPECT_TRUE(msg.starts_with("--n: '")) << junk << " -> " << msg;
    EXPECT_NE(msg.find("is not an integer"), std::string::npos) << junk << " -> " << msg;
  }
  EXPECT_EQ(usage_message([] { parse_u64(".5", "--n"); }),
            "--n: '.5' is not an integer (it has a fractional part)");
  EXPECT_EQ(parse_u64("5.", "--n"), 5u);
}

TEST(CommonCli, SignedAndFloatingNumbers) {
  EXPECT_EQ(parse_i64("-9223372036854775808", "--k"), std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(parse_i64("9_223_372_036_854_775_807", "--k"),
            std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(parse_i64("-1e3", "--k"), -1000);
  EXPECT_NE(usage_message([] { parse_i64("9223372036854775808", "--k"); }).find("out of range"),
            std::string::npos);
  EXPECT_NE(usage_message([] { parse_i64("-9223372036854775809", "--k"); }).find("out of range"),
            std::string::npos);
  EXPECT_EQ(parse_f64("1.5", "--x"), 1.5);
  EXPECT_EQ(parse_f64("-2.5e-3", "--x"), -2.5e-3);
  EXPECT_EQ(parse_f64("+1_000.5", "--x"), 1000.5);
  EXPECT_EQ(parse_f64("1e10", "--x"), 1e10);
  EXPECT_NE(usage_message([] { parse_f64("nan", "--x"); }), "");
  EXPECT_NE(usage_message([] { parse_f64("inf", "--x"); }), "");
  EXPECT_NE(usage_message([] { parse_f64("1e999", "--x"); }), "");
  EXPECT_NE(usage_message([] { parse_f64("1.5x", "--x"); }), "");
  EXPECT_NE(usage_message([] { parse_f64("", "--x"); }), "");
}

TEST(CommonCli, ListsRangesSpecsSizes) {
  EXPECT_EQ(parse_u64_list("1,2,1e3,4_000", "--n"), (std::vector<std::uint64_t>{1, 2, 1000, 4000}));
  EXPECT_EQ(parse_u64_list("7", "--n"), std::vector<std::uint64_t>{7});
  EXPECT_EQ(usage_message([] { parse_u64_list("1,,2", "--n"); }), "--n: empty item in list '1,,2'");
  EXPECT_EQ(usage_message([] { parse_u64_list("", "--n"); }),
            "--n: empty list, expected N1,N2,...");
  EXPECT_NE(usage_message([] { parse_u64_list("1,2.5", "--n"); }).find("'2.5' is not an integer"),
            std::string::npos);

  EXPECT_EQ(parse_range("10:1e3", "--range"), (Range{10, 1000}));
  EXPECT_EQ(parse_range("5:5", "--range").size(), 0u);
  EXPECT_EQ(usage_message([] { parse_range("9:3", "--range"); }),
            "--range: range '9:3' has its start after its end");
  EXPECT_EQ(usage_message([] { parse_range("9", "--range"); }), "--range: '9' is not a range A:B");
  EXPECT_EQ(usage_message([] { parse_range("1:2:3", "--range"); }),
            "--range: '1:2:3' is not a range A:B");
  EXPECT_NE(usage_message([] { parse_range(":3", "--range"); }).find("range start"),
            std::string::npos);

  EXPECT_EQ(parse_dataset_spec("data/in.h5:/group/x", "INPUT"),
            (DatasetSpec{"data/in.h5", "/group/x"}));
  EXPECT_EQ(parse_dataset_spec("a:b.h5:/x", "INPUT").file, "a:b.h5");
  EXPECT_NE(usage_message([] { parse_dataset_spec("in.h5", "INPUT"); }), "");
  EXPECT_NE(usage_message([] { parse_dataset_spec("in.h5:x", "INPUT"); }), "");
  EXPECT_NE(usage_message([] { parse_dataset_spec(":/x", "INPUT"); }), "");
  EXPECT_NE(usage_message([] { parse_dataset_spec("in.h5:/", "INPUT"); }), "");

  EXPECT_EQ(parse_size("64x48", "--size"), (Size2{64, 48}));
  EXPECT_EQ(parse_size("64X48", "--size"), (Size2{64, 48}));
  EXPECT_EQ(usage_message([] { parse_size("0x4", "--size"); }),
            "--size: size '0x4' must be positive");
  EXPECT_NE(usage_message([] { parse_size("64", "--size"); }), "");
  EXPECT_NE(usage_message([] { parse_size("64x", "--size"); }), "");
  EXPECT_NE(usage_message([] { parse_size("1x2x3", "--size"); }), "");
}

namespace {
struct Opts {
  std::uint64_t to = 100;
  std::uint64_t from = 0;
  std::int64_t shift = 0;
  double scale = 1.0;
  std::vector<std::uint64_t> n;
  Range range{0, 0};
  DatasetSpec input;
  Size2 size{32, 32};
  std::string schedule = "dynamic";
};

std::unique_ptr<CLI::App> make_app(Opts& o) {
  auto app = std::make_unique<CLI::App>("test app", "poolrun");
  add_u64(*app, "--to", o.to, "end");
  add_u64(*app, "--from", o.from, "start");
  add_i64(*app, "--shift", o.shift, "shift");
  add_f64(*app, "--scale", o.scale, "scale");
  add_u64_list(*app, "--n", o.n, "values");
  add_range(*app, "--range", o.range, "range");
  add_dataset_spec(*app, "--input", o.input, "input");
  add_size(*app, "--size", o.size, "size");
  app->add_option("--schedule", o.schedule, "schedule")->capture_default_str();
  add_config(*app);
  return app;
}
}  // namespace

TEST(CommonCli, Cli11OptionsAcceptNumberSyntax) {
  Opts o;
  auto app = make_app(o);
  const auto p = run_parse(
      *app, {"poolrun", "--to", "1e10", "--from", "10_000", "--shift", "-5", "--scale", "2.5",
             "--n", "1,2,3e2", "--range", "1e3:2e3", "--input", "in.h5:/x", "--size", "64x48"});
  EXPECT_EQ(p.code, std::nullopt) << p.err;
  EXPECT_EQ(o.to, 10000000000u);
  EXPECT_EQ(o.from, 10000u);
  EXPECT_EQ(o.shift, -5);
  EXPECT_EQ(o.scale, 2.5);
  EXPECT_EQ(o.n, (std::vector<std::uint64_t>{1, 2, 300}));
  EXPECT_EQ(o.range, (Range{1000, 2000}));
  EXPECT_EQ(o.input, (DatasetSpec{"in.h5", "/x"}));
  EXPECT_EQ(o.size, (Size2{64, 48}));
}

TEST(CommonCli, ErrorsAreOneLineWithExitCode2) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
      {{"poolrun", "--to", "1.5"},
       "poolrun: error: --to: '1.5' is not an integer (it has a fractional part)\n"},
      {{"poolrun", "--to", "-3"},
       "poolrun: error: --to: '-3' is negative, expected a value >= 0\n"},
      {{"poolrun", "--to", "99999999999999999999"},
       "poolrun: error: --to: '99999999999999999999' is too large\n"},
      {{"poolrun", "--n", "1,x"}, "poolrun: error: --n: 'x' is not an integer\n"},
      {{"poolrun", "--range", "5:1"},
       "poolrun: error: --range: range '5:1' has its start after its end\n"},
      {{"poolrun", "--bogus"}, ""},
      {{"poolrun", "--to"}, ""},
      {{"poolrun", "--config", "/nonexistent/x.toml"}, ""},
  };
  for (const auto& [args, expected] : cases) {
    Opts o;
    auto app = make_app(o);
    const auto p = run_parse(*app, args);
    EXPECT_EQ(p.code, 2) << args.back();
    EXPECT_EQ(p.out, "") << args.back();
    if (!expected.empty()) {
      EXPECT_EQ(p.err, expected);
    }
    EXPECT_TRUE(p.err.starts_with("poolrun: error: ")) << p.err;
    EXPECT_EQ(std::count(p.err.begin(), p.err.end(), '\n'), 1) << p.err;
  }
}

TEST(CommonCli, HelpExitsZeroOnStdout) {
  Opts o;
  auto app = make_app(o);
  const auto p = run_parse(*app, {"poolrun", "--help"});
  EXPECT_EQ(p.code, 0);
  EXPECT_NE(p.out.find("--to"), std::string::npos);
  EXPECT_NE(p.out.find("--dump-config"), std::string::npos);
  EXPECT_EQ(p.err, "");
}

TEST(CommonCli, TomlConfigFileDumpAndUnknownKeys) {
  test_common::TempDir dir;
  const auto cfg = dir / "run.toml";
  {
    std::ofstream f(cfg);
    f << "# a config\n"
         "to = 1e10\n"
         "from = 10_000\n"
         "n = [1, 2, 3]\n"
         "range = \"5:10\"\n"
         "size = \"16x8\"\n"
         "schedule = \"guided\"\n";
  }
  Opts o;
  auto app = make_app(o);
  auto p = run_parse(*app, {"poolrun", "--config", cfg.string(), "--from", "7"});
  ASSERT_EQ(p.code, std::nullopt) << p.err;
  EXPECT_EQ(o.to, 10000000000u);
  EXPECT_EQ(o.from, 7u);  // the command line wins
  EXPECT_EQ(o.n, (std::vector<std::uint64_t>{1, 2, 3}));
  EXPECT_EQ(o.range, (Range{5, 10}));
  EXPECT_EQ(o.size, (Size2{16, 8}));
  EXPECT_EQ(o.schedule, "guided");

  // --dump-config prints the effective TOML and exits 0; it reads back to the same values.
  Opts o2;
  auto app2 = make_app(o2);
  p = run_parse(*app2, {"poolrun", "--config", cfg.string(), "--from", "7", "--dump-config"});
  EXPECT_EQ(p.code, 0);
  EXPECT_NE(p.out.find("to=10000000000"), std::string::npos) << p.out;
  EXPECT_NE(p.out.find("from=7"), std::string::npos) << p.out;
  EXPECT_NE(p.out.find("shift=0"), std::string::npos) << p.out;  // defaults too
  EXPECT_EQ(p.out.find("dump-config="), std::string::npos) << p.out;
  EXPECT_EQ(p.out.find("config="), std::string::npos) << p.out;
  const auto dumped = dir / "dumped.toml";
  { std::ofstream(dumped) << p.out; }
  Opts o3;
  auto app3 = make_app(o3);
  p = run_parse(*app3, {"poolrun", "--config", dumped.string()});
  ASSERT_EQ(p.code, std::nullopt) << p.err;
  EXPECT_EQ(o3.to, 10000000000u);
  EXPECT_EQ(o3.from, 7u);
  EXPECT_EQ(o3.n, (std::vector<std::uint64_t>{1, 2, 3}));
  EXPECT_EQ(o3.range, (Range{5, 10}));
  EXPECT_EQ(o3.size, (Size2{16, 8}));
  EXPECT_EQ(o3.schedule, "guided");

  // Unknown key and bad value in the file: one line, exit 2.
  const auto bad = dir / "bad.toml";
  { std::ofstream(bad) << "to = 5\ntypo_key = 3\n"; }
  Opts o4;
  auto app4 = make_app(o4);
  p = run_parse(*app4, {"poolrun", "--config", bad.string()});
  EXPECT_EQ(p.code, 2);
  EXPECT_EQ(p.err, "poolrun: error: unknown option 'typo_key' in the config file\n");

  const auto badval = dir / "badval.toml";
  { std::ofstream(badval) << "to = 1.5\n"; }
  Opts o5;
  auto app5 = make_app(o5);
  p = run_parse(*app5, {"poolrun", "--config", badval.string()});
  EXPECT_EQ(p.code, 2);
  EXPECT_EQ(p.err, "poolrun: error: --to: '1.5' is not an integer (it has a fractional part)\n");
}

TEST(CommonCli, ConfigWithSubcommands) {
  // poolrun's shape: one subcommand per workload; --config lives on the top-level app and the
  // workload's options sit in its TOML table.
  test_common::TempDir dir;
  std::uint64_t to = 0;
  std::uint64_t samples = 0;
  std::string schedule = "dynamic";
  auto make = [&] {
    to = 0;
    samples = 0;
    schedule = "dynamic";
    auto app = std::make_unique<CLI::App>("poolrun", "poolrun");
    app->require_subcommand(1);
    app->add_option("--schedule", schedule, "schedule")->capture_default_str();
    CLI::App* primes = app->add_subcommand("primes", "count primes")->fallthrough();
    add_u64(*primes, "--to", to, "end");
    CLI::App* pi = app->add_subcommand("pi", "estimate pi")->fallthrough();
    add_u64(*pi, "--samples", samples, "samples");
    add_config(*app);
    EXPECT_THROW(add_config(*primes), std::logic_error);
    return app;
  };
  const auto cfg = dir / "primes.toml";
  { std::ofstream(cfg) << "schedule = \"guided\"\n[primes]\nto = 2e6\n"; }
  auto app = make();
  auto p = run_parse(*app, {"poolrun", "primes", "--config", cfg.string()});
  ASSERT_EQ(p.code, std::nullopt) << p.err;
  EXPECT_EQ(to, 2000000u);
  EXPECT_EQ(schedule, "guided");

  const auto bad = dir / "bad.toml";
  { std::ofstream(bad) << "[primes]\nto = 5\nnope = 1\n"; }
  app = make();
  p = run_parse(*app, {"poolrun", "primes", "--config", bad.string()});
  EXPECT_EQ(p.code, 2);
  EXPECT_EQ(p.err, "poolrun: error: unknown option 'primes.nope' in the config file\n");

  app = make();
  p = run_parse(*app, {"poolrun", "primes", "--to", "3e3", "--dump-config"});
  EXPECT_EQ(p.code, 0) << p.err;
  EXPECT_EQ(p.out.find("samples"), std::string::npos) << p.out;  // only the chosen workload
  EXPECT_NE(p.out.find("primes.to=3000"), std::string::npos) << p.out;
  const auto dumped = dir / "dumped.toml";
  { std::ofstream(dumped) << p.out; }
  app = make();
  p = run_parse(*app, {"poolrun", "primes", "--config", dumped.string()});
  ASSERT_EQ(p.code, std::nullopt) << p.err;
  EXPECT_EQ(to, 3000u);
}

// Found by tests/fuzz/fuzz_config (crashes/config/empty): a list option that was not given
// (factor's --numbers in a run with --input) was dumped as `numbers=""`, and --config refused
// that dump ("--numbers: empty value"). It is left out of the dump now.
TEST(CommonCli, DumpOfAnEmptyListReadsBack) {
  test_common::TempDir dir;
  std::vector<std::uint64_t> numbers;
  std::string input;
  auto make = [&] {
    numbers.clear();
    input.clear();
    auto app = std::make_unique<CLI::App>("poolrun", "poolrun");
    app->require_subcommand(1);
    CLI::App* factor = app->add_subcommand("factor", "factor")->fallthrough();
    add_u64_list(*factor, "--numbers", numbers, "numbers");
    factor->add_option("--input", input, "input")->capture_default_str();
    add_config(*app);
    return app;
  };
  auto app = make();
  auto p = run_parse(*app, {"poolrun", "factor", "--input", "d.h5:/x", "--dump-config"});
  ASSERT_EQ(p.code, 0) << p.err;
  EXPECT_EQ(p.out.find("numbers"), std::string::npos) << p.out;
  const auto dumped = dir / "dumped.toml";
  { std::ofstream(dumped) << p.out; }
  app = make();
  p = run_parse(*app, {"poolrun", "factor", "--config", dumped.string()});
  ASSERT_EQ(p.code, std::nullopt) << p.err;
  EXPECT_TRUE(numbers.empty());
  EXPECT_EQ(input, "d.h5:/x");
  // A given list is still dumped, and reads back.
  app = make();
  p = run_parse(*app, {"poolrun", "factor", "--numbers", "4,9", "--dump-config"});
  ASSERT_EQ(p.code, 0) << p.err;
  { std::ofstream(dumped) << p.out; }
  app = make();
  p = run_parse(*app, {"poolrun", "factor", "--config", dumped.string()});
  ASSERT_EQ(p.code, std::nullopt) << p.err;
  EXPECT_EQ(numbers, (std::vector<std::uint64_t>{4, 9}));
}

TEST(CommonCli, RunMetadata) {
  EXPECT_EQ(common::shell_quote("simple-arg_1.h5:/x"), "simple-arg_1.h5:/x");
  EXPECT_EQ(common::shell_quote(""), "''");
  EXPECT_EQ(common::shell_quote("a b"), "'a b'");
  EXPECT_EQ(common::shell_quote("it's"), "'it'\\''s'");
  EXPECT_EQ(common::shell_quote("$HOME"), "'$HOME'");
  const char* argv[] = {"poolrun", "primes", "--to", "1e10", "-o", "my file.h5"};
  EXPECT_EQ(common::join_command_line(6, argv), "poolrun primes --to 1e10 -o 'my file.h5'");
  EXPECT_EQ(common::iso8601_utc(std::chrono::system_clock::time_point{}), "1970-01-01T00:00:00Z");
  EXPECT_EQ(
      common::iso8601_utc(std::chrono::system_clock::time_point{std::chrono::seconds(1732543392)}),
      "2024-11-25T14:03:12Z");
  EXPECT_EQ(common::iso8601_utc_now().size(), 20u);
  EXPECT_FALSE(common::hostname().empty());
  EXPECT_FALSE(common::libpool_version().empty());
}

TEST(CommonCli, DumpConfigTemplateWithoutRequiredOptions) {
  // --dump-config without a required option: the options so far, then the missing ones
  // commented with their descriptions, exit 0; without --dump-config the same is an error.
  DatasetSpec input;
  std::uint64_t bins = 0;
  auto make = [&] {
    auto app = std::make_unique<CLI::App>("poolrun", "poolrun");
    app->require_subcommand(1);
    CLI::App* stats = app->add_subcommand("stats", "reduce")->fallthrough();
    add_dataset_spec(*stats, "input", input, "The dataset")->required();
    add_u64(*stats, "--bins", bins, "Histogram bins");
    app->add_subcommand("pi", "estimate pi")->fallthrough();
    add_config(*app);
    return app;
  };
  auto app = make();
  auto p = run_parse(*app, {"poolrun", "stats", "--dump-config"});
  EXPECT_EQ(p.code, 0) << p.err;
  EXPECT_NE(p.out.find("stats.bins=0"), std::string::npos) << p.out;
  EXPECT_NE(p.out.find("# The dataset (required)\n# stats.input=FILE.h5:/DSET\n"),
            std::string::npos)
      << p.out;
  app = make();
  p = run_parse(*app, {"poolrun", "--dump-config"});
  EXPECT_EQ(p.code, 0) << p.err;
  EXPECT_NE(p.out.find("Choose one"), std::string::npos) << p.out;
  EXPECT_NE(p.out.find(" stats pi"), std::string::npos) << p.out;
  app = make();
  p = run_parse(*app, {"poolrun", "stats"});
  EXPECT_EQ(p.code, 2);
  EXPECT_NE(p.err.find("input is required"), std::string::npos) << p.err;
}

TEST(CommonCli, Provenance) {
  // CRC-32's check value (the one zlib.crc32 gives), and in two pieces.
  const std::string check = "123456789";
  EXPECT_EQ(common::crc32(check.data(), check.size()), 0xCBF43926u);
  EXPECT_EQ(common::crc32(check.data() + 4, 5, common::crc32(check.data(), 4)), 0xCBF43926u);
  test_common::TempDir dir;
  // Small files: the whole file; large ones: first MiB, 32 blocks of 64 KiB, last MiB.
  const auto small = dir / "small.bin";
  { std::ofstream(small) << check; }
  const auto ps = common::file_provenance(small);
  EXPECT_EQ(ps.checksum, "crc32:cbf43926");
  EXPECT_EQ(ps.size, 9u);
  EXPECT_TRUE(std::filesystem::path(ps.path).is_absolute());
  EXPECT_EQ(ps.mtime.size(), 30u) << ps.mtime;  // 2024-11-25T14:03:12.123456789Z
  constexpr std::size_t mib = 1 << 20;
  constexpr std::size_t block = 64 << 10;
  std::string big(9 * mib + 7, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 2654435761u) >> 13);
  const auto large = dir / "large.bin";
  { std::ofstream(large, std::ios::binary) << big; }
  const std::size_t span = big.size() - 2 * mib - block;
  std::string sample = big.substr(0, mib);
  for (std::size_t k = 0; k < 32; ++k) sample += big.substr(mib + span * k / 31, block);
  sample += big.substr(big.size() - mib);
  char want[16];
  std::snprintf(want, sizeof want, "crc32:%08x", common::crc32(sample.data(), sample.size()));
  EXPECT_EQ(common::file_provenance(large).checksum, want);
  // A change in a sampled block of the middle is seen; one between the blocks is not (cheap by
  // design: at most 4 MiB read).
  const std::size_t in_block = mib + span * 10 / 31 + 5;
  const std::size_t between = mib + span * 10 / 31 + block + 5;
  big[between] ^= 1;
  { std::ofstream(large, std::ios::binary) << big; }
  EXPECT_EQ(common::file_provenance(large).checksum, want);
  big[in_block] ^= 1;
  { std::ofstream(large, std::ios::binary) << big; }
  EXPECT_NE(common::file_provenance(large).checksum, want);
  EXPECT_THROW(common::file_provenance(dir / "missing.bin"), std::runtime_error);
  EXPECT_FALSE(common::working_directory().empty());
  EXPECT_FALSE(common::build_git_commit().empty());
  EXPECT_TRUE(common::build_git_dirty() == "yes" || common::build_git_dirty() == "no" ||
              common::build_git_dirty() == "unknown");
  EXPECT_FALSE(common::compiler().empty());
}
