// Run metadata recorded in every output file: time stamps, command line, host, version.
#pragma once

#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace common {

// "2024-11-25T14:03:12Z" (ISO 8601, UTC, whole seconds).
std::string iso8601_utc(std::chrono::system_clock::time_point t);
std::string iso8601_utc_now();

// Quotes an argument for a POSIX shell only when needed (single quotes; ' becomes '\'').
std::string shell_quote(std::string_view arg);
// The command line as a user could paste it back into a shell.
std::string join_command_line(int argc, const char* const* argv);
std::string join_command_line(std::span<const std::string> args);

std::string hostname();
// SLURM_JOB_ID when running under Slurm.
std::optional<std::string> slurm_job_id();
// The libpool project version this library was built from ("0.1.0").
std::string_view libpool_version() noexcept;

}  // namespace common
