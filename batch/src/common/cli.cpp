#include "common/cli.hpp"

#include <charconv>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <limits>
#include <set>

namespace common::cli {

namespace {

std::string quoted(std::string_view text) {
  return "'" + std::string(text) + "'";
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Reads digits with single '_' separators between digits (Python's rule) starting at i.
// Returns false on a misplaced '_'.
bool read_digits(std::string_view s, std::size_t& i, std::string& digits) {
  while (i < s.size()) {
    if (is_digit(s[i])) {
      digits += s[i++];
    } else if (s[i] == '_') {
      if (digits.empty() || i + 1 >= s.size() || !is_digit(s[i + 1]) || !is_digit(s[i - 1]))
        return false;
      ++i;
    } else {
      break;
    }
  }
  return true;
}

// Parses an exact integer "[+-]digits[.digits][e[+-]digits]" into sign and magnitude.
std::string integer_error(std::string_view text, bool& negative, std::uint64_t& magnitude) {
  if (text.empty()) return "empty value, expected an integer";
  std::size_t i = 0;
  negative = false;
  if (text[i] == '+' || text[i] == '-') negative = text[i++] == '-';
  std::string int_digits;
  std::string frac_digits;
  const auto junk = [&] { return quoted(text) + " is not an integer"; };
  if (!read_digits(text, i, int_digits)) return junk();
  if (i < text.size() && text[i] == '.') {
    ++i;
    if (i < text.size() && text[i] == '_') return junk();
    if (!read_digits(text, i, frac_digits)) return junk();
  }
  if (int_digits.empty() && frac_digits.empty()) return junk();
  long exponent = 0;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    bool exp_negative = false;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) exp_negative = text[i++] == '-';
    std::string exp_digits;
    if (!read_digits(text, i, exp_digits) || exp_digits.empty()) return junk();
    // Anything past 4 digits is out of range for a 64-bit integer either way.
    if (exp_digits.size() > 4) exp_digits = "9999";
    exponent = std::stol(exp_digits);
    if (exp_negative) exponent = -exponent;
  }
  if (i != text.size()) return junk();

  std::string digits = int_digits + frac_digits;
  exponent -= static_cast<long>(frac_digits.size());
  const auto first = digits.find_first_not_of('0');
  if (first == std::string::npos) {
    magnitude = 0;
    return {};
  }
  digits.erase(0, first);
  if (exponent < 0) {
    // Only trailing zeros may be divided away; anything else is a fraction.
    const auto drop = static_cast<std::size_t>(-exponent);
    if (drop >= digits.size() ||
        digits.find_first_not_of('0', digits.size() - drop) != std::string::npos)
      return quoted(text) + " is not an integer (it has a fractional part)";
    digits.resize(digits.size() - drop);
  } else if (exponent > 0) {
    if (digits.size() + static_cast<std::size_t>(exponent) > 20)
      return quoted(text) + " is too large";
    digits.append(static_cast<std::size_t>(exponent), '0');
  }
  std::uint64_t value = 0;
  for (char c : digits) {
    if (__builtin_mul_overflow(value, std::uint64_t{10}, &value) ||
        __builtin_add_overflow(value, static_cast<std::uint64_t>(c - '0'), &value))
      return quoted(text) + " is too large";
  }
  magnitude = value;
  return {};
}

std::string range_error(std::string_view text, Range* out) {
  const auto colon = text.find(':');
  if (colon == std::string_view::npos || text.find(':', colon + 1) != std::string_view::npos)
    return quoted(text) + " is not a range A:B";
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
  if (auto e = u64_error(text.substr(0, colon), &begin); !e.empty()) return "range start: " + e;
  if (auto e = u64_error(text.substr(colon + 1), &end); !e.empty()) return "range end: " + e;
  if (begin > end) return "range " + quoted(text) + " has its start after its end";
  if (out) *out = {begin, end};
  return {};
}

std::string spec_error(std::string_view text, DatasetSpec* out) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return quoted(text) + " is not FILE.h5:/DATASET";
  const auto file = text.substr(0, colon);
  const auto dataset = text.substr(colon + 1);
  if (file.empty()) return quoted(text) + " has no file name (expected FILE.h5:/DATASET)";
  if (dataset.size() < 2 || dataset.front() != '/')
    return quoted(text) + " has no absolute dataset path (expected FILE.h5:/DATASET)";
  if (out) *out = {std::string(file), std::string(dataset)};
  return {};
}

std::string size_error(std::string_view text, Size2* out) {
  const auto x = text.find_first_of("xX");
  if (x == std::string_view::npos || text.find_first_of("xX", x + 1) != std::string_view::npos)
    return quoted(text) + " is not a size WxH";
  Size2 size;
  if (auto e = u64_error(text.substr(0, x), &size.width); !e.empty()) return "width: " + e;
  if (auto e = u64_error(text.substr(x + 1), &size.height); !e.empty()) return "height: " + e;
  if (size.width == 0 || size.height == 0) return "size " + quoted(text) + " must be positive";
  if (out) *out = size;
  return {};
}

std::string f64_error(std::string_view text, double* out) {
  if (text.empty()) return "empty value, expected a number";
  std::string clean;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '_') {
      if (i == 0 || i + 1 == text.size() || !is_digit(text[i - 1]) || !is_digit(text[i + 1]))
        return quoted(text) + " is not a number";
      continue;
    }
    clean += text[i];
  }
  std::string_view body = clean;
  if (!body.empty() && body.front() == '+') body.remove_prefix(1);
  double value = 0;
  const auto [ptr, ec] = std::from_chars(body.data(), body.data() + body.size(), value);
  if (ec == std::errc::result_out_of_range) return quoted(text) + " is out of range";
  if (ec != std::errc() || ptr != body.data() + body.size())
    return quoted(text) + " is not a number";
  if (!std::isfinite(value)) return quoted(text) + " is not a finite number";
  if (out) *out = value;
  return {};
}

[[noreturn]] void usage(std::string_view what, const std::string& error) {
  throw UsageError(what.empty() ? error : std::string(what) + ": " + error);
}

std::string trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(" \t");
  return std::string(s.substr(b, e - b + 1));
}

// A CLI11 check built from one of the *_error functions.
template <class T>
CLI::Validator checker(std::string (*fn)(std::string_view, T*), const char* desc) {
  return CLI::Validator([fn](std::string& s) { return fn(s, nullptr); }, desc);
}

}  // namespace

std::string u64_error(std::string_view text, std::uint64_t* out) {
  bool negative = false;
  std::uint64_t magnitude = 0;
  auto err = integer_error(text, negative, magnitude);
  if (!err.empty()) return err;
  if (negative && magnitude != 0) return quoted(text) + " is negative, expected a value >= 0";
  if (out) *out = magnitude;
  return {};
}

std::string i64_error(std::string_view text, std::int64_t* out) {
  bool negative = false;
  std::uint64_t magnitude = 0;
  auto err = integer_error(text, negative, magnitude);
  if (!err.empty()) return err;
  constexpr auto max = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  if (magnitude > max + (negative ? 1 : 0))
    return quoted(text) + " is out of range for a 64-bit integer";
  if (out) {
    // Two's complement negation in unsigned arithmetic handles INT64_MIN exactly.
    *out =
        negative ? static_cast<std::int64_t>(~magnitude + 1) : static_cast<std::int64_t>(magnitude);
  }
  return {};
}

std::uint64_t parse_u64(std::string_view text, std::string_view what) {
  std::uint64_t v = 0;
  if (auto e = u64_error(text, &v); !e.empty()) usage(what, e);
  return v;
}

std::int64_t parse_i64(std::string_view text, std::string_view what) {
  std::int64_t v = 0;
  if (auto e = i64_error(text, &v); !e.empty()) usage(what, e);
  return v;
}

double parse_f64(std::string_view text, std::string_view what) {
  double v = 0;
  if (auto e = f64_error(text, &v); !e.empty()) usage(what, e);
  return v;
}

std::vector<std::uint64_t> parse_u64_list(std::string_view text, std::string_view what) {
  if (trim(text).empty()) usage(what, "empty list, expected N1,N2,...");
  std::vector<std::uint64_t> values;
  std::size_t pos = 0;
  while (true) {
    const auto comma = text.find(',', pos);
    const auto item = trim(
        text.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos));
    if (item.empty()) usage(what, "empty item in list " + quoted(text));
    values.push_back(parse_u64(item, what));
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return values;
}

Range parse_range(std::string_view text, std::string_view what) {
  Range r;
  if (auto e = range_error(text, &r); !e.empty()) usage(what, e);
  return r;
}

DatasetSpec parse_dataset_spec(std::string_view text, std::string_view what) {
  DatasetSpec s;
  if (auto e = spec_error(text, &s); !e.empty()) usage(what, e);
  return s;
}

Size2 parse_size(std::string_view text, std::string_view what) {
  Size2 s;
  if (auto e = size_error(text, &s); !e.empty()) usage(what, e);
  return s;
}

// ---- CLI11 -----------------------------------------------------------------------------------

CLI::Validator unsigned_number() {
  // A transform: the canonical decimal is what CLI11 converts and what --dump-config shows.
  return CLI::Validator(
      [](std::string& s) {
        std::uint64_t v = 0;
        auto err = u64_error(s, &v);
        if (err.empty()) s = std::to_string(v);
        return err;
      },
      "");
}

CLI::Validator signed_number() {
  return CLI::Validator(
      [](std::string& s) {
        std::int64_t v = 0;
        auto err = i64_error(s, &v);
        if (err.empty()) s = std::to_string(v);
        return err;
      },
      "");
}

CLI::Option* add_u64(CLI::App& app, const std::string& name, std::uint64_t& out,
                     const std::string& description) {
  return app.add_option(name, out, description)
      ->transform(unsigned_number())
      ->capture_default_str();
}

CLI::Option* add_i64(CLI::App& app, const std::string& name, std::int64_t& out,
                     const std::string& description) {
  return app.add_option(name, out, description)->transform(signed_number())->capture_default_str();
}

CLI::Option* add_f64(CLI::App& app, const std::string& name, double& out,
                     const std::string& description) {
  return app.add_option(name, out, description)
      ->transform(CLI::Validator(
          [](std::string& s) {
            double v = 0;
            auto err = f64_error(s, &v);
            if (err.empty()) {
              // Shortest text that reads back to the same double.
              char buf[32];
              const auto r = std::to_chars(buf, buf + sizeof buf, v);
              s.assign(buf, r.ptr);
            }
            return err;
          },
          ""))
      ->capture_default_str();
}

namespace {
// CLI11 drops empty items when it splits a list ("1,,2" becomes 1, 2); parse() checks the raw
// text of these options first, so a mistyped list is an error instead of a different list.
std::set<std::string>& list_option_names() {
  static std::set<std::string> names;
  return names;
}

void check_raw_lists(int argc, const char* const* argv) {
  const auto& names = list_option_names();
  for (int i = 1; i < argc; ++i) {
    const std::string_view token = argv[i];
    const auto eq = token.find('=');
    const std::string name(token.substr(0, eq));
    if (!names.count(name)) continue;
    if (eq != std::string_view::npos) {
      parse_u64_list(token.substr(eq + 1), name);
    } else if (i + 1 < argc) {
      parse_u64_list(argv[i + 1], name);
    }
  }
}
}  // namespace

CLI::Option* add_u64_list(CLI::App& app, const std::string& name, std::vector<std::uint64_t>& out,
                          const std::string& description) {
  for (const auto& n : CLI::detail::split_names(name)) {
    if (n.size() > 1 && n[0] == '-') list_option_names().insert(n);
  }
  return app.add_option(name, out, description)
      ->delimiter(',')
      ->transform(unsigned_number())
      ->type_name("N1,N2,...");
}

CLI::Option* add_range(CLI::App& app, const std::string& name,
                       std::function<void(const Range&)> set, const std::string& description) {
  return app
      .add_option_function<std::string>(
          name, [set = std::move(set)](const std::string& s) { set(parse_range(s, "")); },
          description)
      ->check(checker<Range>(range_error, ""))
      ->type_name("A:B");
}

CLI::Option* add_range(CLI::App& app, const std::string& name, Range& out,
                       const std::string& description) {
  return add_range(
      app, name, [&out](const Range& r) { out = r; }, description);
}

CLI::Option* add_dataset_spec(CLI::App& app, const std::string& name,
                              std::function<void(const DatasetSpec&)> set,
                              const std::string& description) {
  return app
      .add_option_function<std::string>(
          name, [set = std::move(set)](const std::string& s) { set(parse_dataset_spec(s, "")); },
          description)
      ->check(checker<DatasetSpec>(spec_error, ""))
      ->type_name("FILE.h5:/DSET");
}

CLI::Option* add_dataset_spec(CLI::App& app, const std::string& name, DatasetSpec& out,
                              const std::string& description) {
  return add_dataset_spec(
      app, name, [&out](const DatasetSpec& d) { out = d; }, description);
}

CLI::Option* add_size(CLI::App& app, const std::string& name, Size2& out,
                      const std::string& description) {
  return app
      .add_option_function<std::string>(
          name, [&out](const std::string& s) { out = parse_size(s, ""); }, description)
      ->check(checker<Size2>(size_error, ""))
      ->type_name("WxH");
}

namespace {
void forbid_config_extras(CLI::App& app) {
  app.allow_config_extras(CLI::config_extras_mode::error);
  // Subcommands copy the mode when created, so existing ones need it set too.
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; }))
    forbid_config_extras(*sub);
}
}  // namespace

ConfigOptions add_config(CLI::App& app) {
  // CLI11 reads config files for the top-level app only; on a subcommand it would be ignored.
  if (app.get_parent() != nullptr)
    throw std::logic_error("cli::add_config: add --config to the top-level app, not to '" +
                           app.get_name() + "'");
  ConfigOptions o;
  o.config =
      app.set_config("--config", "", "Read options from a TOML file (the command line wins)");
  o.config->type_name("FILE.toml");
  forbid_config_extras(app);
  o.dump = app.add_flag("--dump-config")
               ->description("Print the effective configuration as TOML and exit")
               ->configurable(false);
  return o;
}

namespace {
// A list option that was not given dumps as `name=""`, which the option itself refuses when the
// dump is read back (empty value): such a line is left out, as for an option never given.
bool empty_list_line(std::string_view line) {
  if (!line.ends_with("=\"\"\n") && !line.ends_with("=\"\"")) return false;
  auto key = line.substr(0, line.find('='));
  if (const auto dot = key.rfind('.'); dot != std::string_view::npos) key.remove_prefix(dot + 1);
  return list_option_names().count("--" + std::string(key)) > 0;
}
}  // namespace

std::string effective_config(const CLI::App& app) {
  const std::string full = app.config_to_str(true, true);
  // CLI11 also lists every subcommand that was not chosen ("pi.samples=0" in a primes run);
  // drop those blocks (a description comment plus its key line) so the dump is this run only.
  std::vector<std::string> skip;
  for (const CLI::App* sub : app.get_subcommands({}))
    if (!sub->get_name().empty() && !app.got_subcommand(sub)) skip.push_back(sub->get_name() + ".");
  std::string out;
  std::string block;
  bool drop = false;
  std::size_t pos = 0;
  while (pos < full.size()) {
    auto nl = full.find('\n', pos);
    if (nl == std::string::npos) nl = full.size() - 1;
    const std::string_view line(full.data() + pos, nl - pos + 1);
    pos = nl + 1;
    if (line == "\n") {  // blocks are separated by blank lines
      if (!drop) out += block;
      block = "\n";
      drop = false;
      continue;
    }
    if (!line.starts_with('#')) {
      for (const auto& prefix : skip) drop = drop || line.starts_with(prefix);
      if (empty_list_line(line)) {
        // Only this key and its description: options without one share a block.
        while (block.size() > 1) {
          const auto prev = block.rfind('\n', block.size() - 2);
          const auto start = prev == std::string::npos ? 0 : prev + 1;
          if (block[start] != '#') break;
          block.erase(start);
        }
        continue;
      }
    }
    block += line;
  }
  if (!drop) out += block;
  return out;
}

std::string one_line(const CLI::Error& e, std::string_view app_name) {
  std::string msg = e.what();
  // CLI11 says "INI" for every config format and does not say what is wrong with the key.
  constexpr std::string_view ini = "INI was not able to parse ";
  if (msg.starts_with(ini))
    msg = "unknown option '" + msg.substr(ini.size()) + "' in the config file";
  std::string line;
  bool pending_sep = false;
  for (char c : msg) {
    if (c == '\n' || c == '\r') {
      pending_sep = !line.empty();
      continue;
    }
    if (pending_sep) {
      line += "; ";
      pending_sep = false;
    }
    line += c;
  }
  return std::string(app_name) + ": error: " + line;
}

namespace {
// The app whose --dump-config was given, searching the selected subcommand chain.
const CLI::App* dump_requested(const CLI::App& app) {
  if (const CLI::Option* opt = app.get_option_no_throw("--dump-config"); opt && opt->count() > 0)
    return &app;
  for (const CLI::App* sub : app.get_subcommands())
    if (const CLI::App* hit = dump_requested(*sub)) return hit;
  return nullptr;
}
}  // namespace

std::string config_template(const CLI::App& app) {
  std::string out = effective_config(app);
  // Options without a value (required ones, and those with no default) would be left out:
  // list them commented, with their description, for the user to fill in.
  std::string missing;
  const auto add = [&](const CLI::App& a, const std::string& prefix) {
    for (const CLI::Option* opt : a.get_options({})) {
      // The same test as CLI11's config writer: these are the ones it leaves out.
      if (!opt->get_configurable() || opt->count() > 0 || !opt->get_default_str().empty() ||
          opt->get_expected_min() == 0 || opt->get_run_callback_for_default())
        continue;
      missing += "\n# " + opt->get_description() +
                 (opt->get_required() ? " (required)" : " (optional, no default)") + "\n# " +
                 prefix + opt->get_single_name() + "=" + opt->get_type_name() + "\n";
    }
  };
  add(app, "");
  std::vector<std::string> names;
  bool chosen = false;
  for (const CLI::App* sub : app.get_subcommands({})) {
    names.push_back(sub->get_name());
    if (app.got_subcommand(sub)) {
      add(*sub, sub->get_name() + ".");
      chosen = true;
    }
  }
  if (!chosen && !names.empty()) {
    missing += "\n# Choose one (on the command line or as workload=\"NAME\" above):";
    for (const auto& n : names) missing += " " + n;
    missing += "\n";
  }
  return out + missing;
}

std::optional<int> parse(CLI::App& app, int argc, const char* const* argv) {
  try {
    check_raw_lists(argc, argv);
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help, --help-all, --version
    return app.exit(e);
  } catch (const CLI::RequiredError& e) {
    // --dump-config without the required options: a template to fill in, not an error.
    for (int i = 1; i < argc; ++i) {
      if (std::string_view(argv[i]) == "--dump-config") {
        std::cout << config_template(app);
        return 0;
      }
    }
    std::cerr << one_line(e, std::filesystem::path(app.get_name()).filename().string()) << '\n';
    return 2;
  } catch (const CLI::Error& e) {
    std::cerr << one_line(e, std::filesystem::path(app.get_name()).filename().string()) << '\n';
    return 2;
  } catch (const UsageError& e) {
    std::cerr << std::filesystem::path(app.get_name()).filename().string()
              << ": error: " << e.what() << '\n';
    return 2;
  }
  if (const CLI::App* target = dump_requested(app)) {
    std::cout << effective_config(*target);
    return 0;
  }
  return std::nullopt;
}

}  // namespace common::cli
