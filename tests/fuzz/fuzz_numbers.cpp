// libFuzzer target: poolrun's number and argument parsers (batch/src/common/cli.hpp) on arbitrary
// text. Each either refuses with UsageError or returns a value that survives a round trip
// through its canonical spelling; any other exception, crash or disagreement is a finding.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/cli.hpp"

namespace {

[[noreturn]] void fail(const char* what, std::string_view text) {
  std::fprintf(stderr, "numbers: %s on '%.*s'\n", what, static_cast<int>(text.size()), text.data());
  std::abort();
}

template <class F>
bool refused(F&& f) {
  try {
    f();
    return false;
  } catch (const common::UsageError&) {
    return true;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace cli = common::cli;
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  std::uint64_t u = 0;
  const bool u_ok = cli::u64_error(text, &u).empty();
  if (refused([&] { (void)cli::parse_u64(text, "n"); }) == u_ok) fail("u64 verdicts differ", text);
  if (u_ok && cli::parse_u64(std::to_string(u), "n") != u) fail("u64 round trip", text);

  std::int64_t i = 0;
  const bool i_ok = cli::i64_error(text, &i).empty();
  if (refused([&] { (void)cli::parse_i64(text, "n"); }) == i_ok) fail("i64 verdicts differ", text);
  if (i_ok && cli::parse_i64(std::to_string(i), "n") != i) fail("i64 round trip", text);
  if (u_ok && i_ok && u <= static_cast<std::uint64_t>(INT64_MAX) &&
      static_cast<std::uint64_t>(i) != u)
    fail("u64 and i64 disagree", text);

  double f = 0;
  if (!refused([&] { f = cli::parse_f64(text, "x"); }) && !std::isfinite(f))
    fail("non-finite f64 accepted", text);

  std::vector<std::uint64_t> list;
  if (!refused([&] { list = cli::parse_u64_list(text, "list"); }) && list.empty())
    fail("empty list accepted", text);

  cli::Range r;
  if (!refused([&] { r = cli::parse_range(text, "range"); }) && r.begin > r.end)
    fail("reversed range accepted", text);

  cli::Size2 s;
  if (!refused([&] { s = cli::parse_size(text, "size"); }) && (s.width == 0 || s.height == 0))
    fail("empty size accepted", text);

  cli::DatasetSpec d;
  if (!refused([&] { d = cli::parse_dataset_spec(text, "input"); }) &&
      (d.file.empty() || d.dataset.size() < 2 || d.dataset.front() != '/'))
    fail("bad dataset spec accepted", text);
  return 0;
}
