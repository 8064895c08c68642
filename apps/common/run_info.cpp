#include "common/run_info.hpp"

#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <ctime>

#ifndef POOLCOMMON_VERSION
#error "POOLCOMMON_VERSION must be defined by the build"
#endif

namespace common {

std::string iso8601_utc(std::chrono::system_clock::time_point t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return std::string(buf, n);
}

std::string iso8601_utc_now() {
  return iso8601_utc(std::chrono::system_clock::now());
}

std::string shell_quote(std::string_view arg) {
  constexpr std::string_view safe =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-";
  if (!arg.empty() && arg.find_first_not_of(safe) == std::string_view::npos)
    return std::string(arg);
  std::string out = "'";
  for (char c : arg) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  out += '\'';
  return out;
}

std::string join_command_line(int argc, const char* const* argv) {
  std::string out;
  for (int i = 0; i < argc; ++i) {
    if (i > 0) out += ' ';
    out += shell_quote(argv[i] ? argv[i] : "");
  }
  return out;
}

std::string join_command_line(std::span<const std::string> args) {
  std::string out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (i > 0) out += ' ';
    out += shell_quote(args[i]);
  }
  return out;
}

std::string hostname() {
  char buf[HOST_NAME_MAX + 1] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

std::optional<std::string> slurm_job_id() {
  const char* id = std::getenv("SLURM_JOB_ID");
  if (id == nullptr || *id == '\0') return std::nullopt;
  return std::string(id);
}

std::string_view libpool_version() noexcept {
  return POOLCOMMON_VERSION;
}

}  // namespace common
