#include "common/lock.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>

#include "common/errors.hpp"
#include "common/run_info.hpp"

namespace common {

namespace fs = std::filesystem;

namespace {

// A process's start time (clock ticks since boot, /proc/PID/stat field 22), or "" if unknown.
std::string process_start(long pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return {};
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return {};
  std::istringstream rest(stat.substr(close + 2));
  std::string field;
  for (int i = 3; i <= 22 && rest >> field; ++i) {
    if (i == 22) return field;
  }
  return {};
}

struct Holder {
  std::string host;
  long pid = 0;
  std::string start;
  std::string slurm_job;  // the Slurm job of the run, when it ran in one
};

constexpr std::string_view kSlurmJob = "slurm_job=";
constexpr std::string_view kSlurmCluster = "slurm_cluster=";

// "host pid start [slurm_job=ID [slurm_cluster=NAME]]": the start time may be missing
// (unknown); the Slurm fields are named, and only the job is kept here.
Holder parse(const std::string& content) {
  Holder h;
  std::istringstream in(content);
  in >> h.host >> h.pid;
  std::string field;
  while (in >> field) {
    if (field.rfind(kSlurmJob, 0) == 0)
      h.slurm_job = field.substr(kSlurmJob.size());
    else if (field.find('=') == std::string::npos && h.start.empty())
      h.start = field;
  }
  return h;
}

// One word of the lock line from the environment, or "" when unset or not one word.
std::string env_word(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return {};
  const std::string s(v);
  return s.find_first_of(" \t\n") == std::string::npos ? s : std::string();
}

// What this process writes in its lock. The Slurm job (and cluster) let a batch script tell its
// own dead launch's lock from another run's (slurm/common.sh).
std::string holder_line() {
  std::ostringstream line;
  line << hostname() << ' ' << ::getpid() << ' ' << process_start(::getpid());
  if (const auto job = env_word("SLURM_JOB_ID"); !job.empty()) {
    line << ' ' << kSlurmJob << job;
    if (const auto cluster = env_word("SLURM_CLUSTER_NAME"); !cluster.empty())
      line << ' ' << kSlurmCluster << cluster;
  }
  line << '\n';
  return line.str();
}

bool alive_here(const Holder& h) {
  if (h.pid <= 0) return false;
  if (::kill(static_cast<pid_t>(h.pid), 0) != 0 && errno == ESRCH) return false;
  const std::string now = process_start(h.pid);
  return now.empty() || h.start.empty() || now == h.start;  // a reused pid is another program
}

double age_seconds(const fs::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return 0;
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const double t =
      static_cast<double>(st.st_mtim.tv_sec) + static_cast<double>(st.st_mtim.tv_nsec) * 1e-9;
  return std::chrono::duration<double>(now).count() - t;
}

}  // namespace

OutputLock::Writer OutputLock::writer(const fs::path& output, double stale_after) {
  const fs::path path = lock_path(output);
  std::ifstream in(path);
  if (!in) return Writer::none;
  std::ostringstream content;
  content << in.rdbuf();
  const auto h = parse(content.str());
  const bool same_host = h.host == hostname();
  const bool stale = same_host ? !alive_here(h) : age_seconds(path) > stale_after;
  return stale ? Writer::gone : Writer::alive;
}

fs::path OutputLock::lock_path(const fs::path& output) {
  fs::path p = output;
  p += ".lock";
  return p;
}

OutputLock OutputLock::acquire(const fs::path& output, double stale_after) {
  const fs::path path = lock_path(output);
  const std::string me = holder_line();
  for (int attempt = 0; attempt < 3; ++attempt) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0) {
      const ssize_t written = ::write(fd, me.data(), me.size());
      const int err = written < 0 ? errno : ENOSPC;  // a short write: the disk is full
      ::fsync(fd);
      ::close(fd);
      if (written != static_cast<ssize_t>(me.size())) {
        ::unlink(path.c_str());
        throw UsageError("cannot write the lock " + path.string() + ": " + std::strerror(err));
      }
      return OutputLock(path, me);
    }
    if (errno != EEXIST)
      throw UsageError("cannot create the lock " + path.string() + ": " + std::strerror(errno));
    // Something that is no lock file (a directory, a socket) would look held forever.
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
      throw UsageError("'" + path.string() + "', where the lock of output '" + output.string() +
                       "' goes, is not a regular file; remove it or choose another output");
    std::ifstream in(path);
    std::stringstream content;
    content << in.rdbuf();
    const Holder h = parse(content.str());
    const bool same_host = h.host == hostname();
    const bool stale = same_host ? !alive_here(h) : age_seconds(path) > stale_after;
    if (!stale) {
      throw UsageError("output '" + output.string() + "' is being written by another run (" +
                       (h.host.empty() ? std::string("unknown host") : h.host) + ", pid " +
                       std::to_string(h.pid) +
                       (h.slurm_job.empty() ? std::string() : ", Slurm job " + h.slurm_job) +
                       "); if that run is gone, remove '" + path.string() + "'");
    }
    ::unlink(path.c_str());  // stale: its holder is gone; take it over
  }
  throw UsageError("cannot take the lock " + path.string() + " (another run keeps taking it)");
}

OutputLock::OutputLock(OutputLock&& other) noexcept
    : path_(std::move(other.path_)), content_(std::move(other.content_)) {
  other.path_.clear();
}

OutputLock& OutputLock::operator=(OutputLock&& other) noexcept {
  if (this != &other) {
    release();
    path_ = std::move(other.path_);
    content_ = std::move(other.content_);
    other.path_.clear();
  }
  return *this;
}

OutputLock::~OutputLock() {
  release();
}

void OutputLock::touch() noexcept {
  if (!path_.empty()) ::utimensat(AT_FDCWD, path_.c_str(), nullptr, 0);
}

void OutputLock::release() noexcept {
  if (path_.empty()) return;
  // Only our own lock: a run that took over a lock it judged stale must keep it.
  std::ifstream in(path_);
  std::stringstream content;
  content << in.rdbuf();
  if (content.str() == content_) ::unlink(path_.c_str());
  path_.clear();
}

}  // namespace common
