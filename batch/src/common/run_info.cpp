#include "common/run_info.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <climits>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#ifndef POOLCOMMON_VERSION
#error "POOLCOMMON_VERSION must be defined by the build"
#endif
#ifndef POOLCOMMON_GIT_COMMIT
#define POOLCOMMON_GIT_COMMIT "unknown"
#endif
#ifndef POOLCOMMON_GIT_DIRTY
#define POOLCOMMON_GIT_DIRTY "unknown"
#endif
#ifndef POOLCOMMON_CXX_FLAGS
#define POOLCOMMON_CXX_FLAGS "unknown"
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

std::string working_directory() {
  std::vector<char> buf(PATH_MAX + 1);
  if (::getcwd(buf.data(), buf.size()) == nullptr) return "unknown";
  return buf.data();
}

std::string_view build_git_commit() noexcept {
  return POOLCOMMON_GIT_COMMIT;
}

std::string_view build_git_dirty() noexcept {
  return POOLCOMMON_GIT_DIRTY;
}

std::string compiler() {
#if defined(__clang__)
  return "Clang " __clang_version__;
#elif defined(__GNUC__)
  return "GCC " __VERSION__;
#else
  return "unknown";
#endif
}

std::string_view compiler_flags() noexcept {
  return POOLCOMMON_CXX_FLAGS;
}

namespace {
constexpr std::array<std::uint32_t, 256> crc_table() {
  std::array<std::uint32_t, 256> t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    t[i] = c;
  }
  return t;
}
constexpr auto kCrcTable = crc_table();

// Reads exactly n bytes at offset; false on a short read or an error.
bool read_at(int fd, std::uint64_t offset, std::size_t n, std::vector<unsigned char>& out) {
  out.resize(n);
  std::size_t got = 0;
  while (got < n) {
    const ssize_t r = ::pread(fd, out.data() + got, n - got, static_cast<off_t>(offset + got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    got += static_cast<std::size_t>(r);
  }
  return true;
}

// Closes the descriptor on every path out.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};
}  // namespace

std::uint32_t crc32(const void* data, std::size_t size, std::uint32_t crc) noexcept {
  const auto* p = static_cast<const unsigned char*>(data);
  crc = ~crc;
  for (std::size_t i = 0; i < size; ++i) crc = kCrcTable[(crc ^ p[i]) & 0xFFu] ^ (crc >> 8);
  return ~crc;
}

FileProvenance file_provenance(const std::filesystem::path& path) {
  const auto fail = [&](const char* what) {
    throw std::runtime_error("cannot " + std::string(what) + " '" + path.string() +
                             "': " + std::strerror(errno));
  };
  FileProvenance p;
  p.path = std::filesystem::absolute(path).lexically_normal().string();
  Fd f;
  f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (f.fd < 0) fail("open");
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) fail("stat");
  p.size = static_cast<std::uint64_t>(st.st_size);
  char ns[16];
  std::snprintf(ns, sizeof ns, "%09ld", static_cast<long>(st.st_mtim.tv_nsec));
  const std::string secs = iso8601_utc(std::chrono::system_clock::from_time_t(st.st_mtim.tv_sec));
  p.mtime = secs.substr(0, secs.size() - 1) + "." + ns + "Z";
  // At most 4 MiB read whatever the size: cheap enough for every run and every --resume (which
  // compares it), and it tells apart files that only share a size and a time stamp: the whole
  // file up to 4 MiB; beyond, its first MiB, 32 blocks of 64 KiB spread evenly between, and its
  // last MiB (docs/output.md).
  constexpr std::uint64_t kMiB = 1 << 20;
  constexpr std::uint64_t kBlock = 64 << 10;
  constexpr std::uint64_t kBlocks = 32;
  std::vector<unsigned char> buf;
  std::uint32_t crc = 0;
  const auto add = [&](std::uint64_t at, std::uint64_t n) {
    if (!read_at(f.fd, at, n, buf)) fail("read");
    crc = crc32(buf.data(), buf.size(), crc);
  };
  if (p.size <= 4 * kMiB) {
    add(0, p.size);
  } else {
    add(0, kMiB);
    const std::uint64_t span = p.size - 2 * kMiB - kBlock;  // where the blocks may start
    for (std::uint64_t k = 0; k < kBlocks; ++k) add(kMiB + span * k / (kBlocks - 1), kBlock);
    add(p.size - kMiB, kMiB);
  }
  char hex[16];
  std::snprintf(hex, sizeof hex, "%08x", crc);
  p.checksum = std::string("crc32:") + hex;
  return p;
}

void test_point(const char* name) {
  static const std::string spec = [] {
    const char* v = std::getenv("POOLRUN_TEST_POINT");
    return v ? std::string(v) : std::string();
  }();
  if (spec.empty()) return;
  const auto colon = spec.find(':');
  if (spec.substr(0, colon) != name || colon == std::string::npos) return;
  const std::string action = spec.substr(colon + 1);
  if (action == "TERM") {
    std::raise(SIGTERM);
  } else if (action == "INT") {
    std::raise(SIGINT);
  } else if (action == "USR1") {
    std::raise(SIGUSR1);
  } else if (action == "KILL") {
    std::raise(SIGKILL);
  } else if (action == "SEGV") {
    std::raise(SIGSEGV);
  } else {
    std::this_thread::sleep_for(
        std::chrono::duration<double>(std::strtod(action.c_str(), nullptr)));
  }
}

}  // namespace common
