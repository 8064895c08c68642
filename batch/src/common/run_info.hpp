// Run metadata recorded in every output file: time stamps, command line, host, version.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
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

// Provenance: what a user needs to repeat a run (root attributes, docs/output.md).
// The current working directory ("unknown" when it cannot be read).
std::string working_directory();
// The git commit the build was configured from, "unknown" when not built from a git checkout,
// and whether that checkout had uncommitted changes ("yes", "no", "unknown").
std::string_view build_git_commit() noexcept;
std::string_view build_git_dirty() noexcept;
// The compiler ("GCC 12.2.0") and the flags of this build (build type, CMAKE_CXX_FLAGS...).
std::string compiler();
std::string_view compiler_flags() noexcept;

// CRC-32 (IEEE 802.3, zlib's crc32) of data, continuing from crc.
std::uint32_t crc32(const void* data, std::size_t size, std::uint32_t crc = 0) noexcept;

// An input file's identity: absolute path, size, modification time and a cheap checksum.
struct FileProvenance {
  std::string path;  // absolute, lexically normal (symlinks kept as given)
  std::uint64_t size = 0;
  std::string mtime;     // ISO 8601 UTC with nanoseconds
  std::string checksum;  // "crc32:xxxxxxxx" of the whole file up to 2 MiB, else of its first
                         // MiB followed by its last MiB
};
// Throws std::runtime_error when the file cannot be read.
FileProvenance file_provenance(const std::filesystem::path& path);

// Testing aid, unset in normal use: with POOLRUN_TEST_POINT=NAME:ACTION, the master reaching
// the point NAME does ACTION: TERM, INT, USR1, KILL or SEGV (that signal to itself) or a number
// of seconds to sleep, so that a test reaches a narrow window every time instead of by luck.
// Points: lock_taken (the output's lock taken, before the output is looked at or created),
// pass_end (a pass's last chunk consumed, before the next pass or the results),
// resume_opened (a --resume has the file open for writing, before SWMR writing starts),
// ledger_reopened (the run's end reopened the file without SWMR, before the rename).
void test_point(const char* name);

}  // namespace common
