// poolrun exec: any program as a task - a command farm with the ledger, --resume and Slurm.
//
// Tasks are commands: the lines of a task file (each run by /bin/sh -c), or a template over a
// range or over the lines of a file, GNU parallel style ({} the item, {#} its 1-based number).
// One task is one chunk, so the ledger has a row per task and a crash loses only the tasks then
// running. Each rank indexes the task file itself (8 bytes a task: no rank holds the file) and
// runs its tasks one at a time:
//
//   rank (subreaper) --posix_spawn--> task (own process group) --> its children
//      |  pipes: the last --keep-output bytes of stdout/stderr (all of it to --output-dir)
//      '--> watchdog (forked at setup): told each task's group; when the rank dies (even by
//           SIGKILL) its pipe closes and the watchdog TERMs, then KILLs, the groups still alive.
//
// A task ends when its command exits: what it left running in its process group is killed then,
// and so is whatever was reparented to the rank (a child that left the group with setsid, once
// its parent is gone). A signal to the rank (SIGINT, SIGTERM, SIGUSR1) sends SIGTERM to the
// running task, then SIGKILL after --grace; such a task is not recorded and stays "not done".
#include <fcntl.h>
#include <mpi.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <thread>

#include "exec_record.hpp"
#include "poolrun.hpp"

extern char** environ;

namespace poolrun {

namespace {

namespace fs = std::filesystem;
using libpool::batch::UsageError;

double unix_now() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}
double mono_now() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// POSIX shell quoting: the word survives /bin/sh -c as one argument, whatever it holds.
std::string shell_quote(const std::string& w) {
  const bool plain = !w.empty() && std::all_of(w.begin(), w.end(), [](unsigned char c) {
    return std::isalnum(c) || std::strchr("@%+=:,./-_", c) != nullptr;
  });
  if (plain) return w;
  std::string q = "'";
  for (const char c : w) {
    if (c == '\'')
      q += "'\\''";
    else
      q += c;
  }
  return q + "'";
}

// The launcher's variables: a task that is an MPI program must not join poolrun's job.
bool launcher_variable(std::string_view entry) {
  for (const std::string_view prefix : {"OMPI_", "PMIX_", "PMI_", "SLURM_STEP_"})
    if (entry.starts_with(prefix)) return true;
  return false;
}

// The stop flag's value (Options::stop_flag, below any signal number) that --halt soon sends
// the workers: start no task, let the running one finish.
constexpr int kHaltSoon = -1;

// When --halt stops the run.
struct Halt {
  bool soon = false;
  bool now = false;         // the running tasks are killed too
  std::uint64_t count = 1;  // failures, or
  double percent = 0;       // a percentage of the tasks (when > 0)
};

Halt parse_halt(const std::string& text) {
  Halt h;
  if (text == "never") return h;
  std::string when = text, rest;
  if (const auto comma = text.find(','); comma != std::string::npos) {
    when = text.substr(0, comma);
    rest = text.substr(comma + 1);
  }
  const std::string forms = "never, or soon or now with ,fail=N or ,fail=N% (got '" + text + "')";
  if (when != "soon" && when != "now") throw UsageError("--halt: " + forms);
  h.soon = true;
  h.now = when == "now";
  if (rest.empty()) return h;
  if (!rest.starts_with("fail=")) throw UsageError("--halt: " + forms);
  std::string n = rest.substr(5);
  const bool pct = !n.empty() && n.back() == '%';
  if (pct) n.pop_back();
  char* end = nullptr;
  errno = 0;
  const double v = n.empty() ? -1 : std::strtod(n.c_str(), &end);
  if (n.empty() || *end != '\0' || errno != 0 || !std::isfinite(v) || v <= 0 || (pct && v > 100) ||
      (!pct && v != std::floor(v)))
    throw UsageError("--halt: fail= takes a positive count or a percentage up to 100% (got '" +
                     text + "')");
  if (pct)
    h.percent = v;
  else
    h.count = static_cast<std::uint64_t>(v);
  return h;
}

// ---- per rank: the task list, the environment, the watchdog ----------------------------------

struct Config {
  // The source of the tasks.
  std::string tasks_file;
  libpool::Span range{};
  bool range_given = false;
  std::string args_file;
  std::vector<std::string> words;  // the template
  bool shell = false;
  // How a task runs.
  std::string workdir;
  std::string output_dir;
  std::uint64_t keep_output = 64 * 1024;
  double timeout = 0;
  double grace = 2;
  std::uint64_t retries = 0;
};

// What every rank prepared in setup(); the task function reads it.
struct RankState {
  Config config;
  int rank = 0;
  std::string host;
  std::string output;
  std::vector<std::uint64_t> offsets;  // where each task's line starts (task and args files)
  int fd = -1;                         // that file, open for the rank's life
  std::vector<std::string> env;        // the submitting environment, launcher variables removed
  int watchdog = -1;                   // the pipe to the watchdog (-1: none)
  pid_t watchdog_pid = -1;
};
RankState g_state;

// Reads line `i` of the indexed file (without its newline).
std::string read_line(std::uint64_t i) {
  std::string line;
  std::uint64_t pos = g_state.offsets.at(i);
  char buf[4096];
  for (;;) {
    const ssize_t n = ::pread(g_state.fd, buf, sizeof buf, static_cast<off_t>(pos));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error("reading the task file: " + std::string(std::strerror(errno)));
    }
    if (n == 0) break;
    const char* nl = static_cast<const char*>(std::memchr(buf, '\n', static_cast<std::size_t>(n)));
    if (nl) {
      line.append(buf, static_cast<std::size_t>(nl - buf));
      break;
    }
    line.append(buf, static_cast<std::size_t>(n));
    pos += static_cast<std::uint64_t>(n);
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

// Indexes the lines of `path` that are tasks: every non-empty line of an --args file; of a task
// file, those that are neither blank nor a # comment.
std::vector<std::uint64_t> index_lines(const std::string& path, bool commands, int fd) {
  std::vector<std::uint64_t> offsets;
  char buf[1 << 16];
  std::uint64_t pos = 0, line_start = 0;
  bool at_start = true;  // no character of this line seen yet
  bool content = false;  // the line holds a task
  bool decided = false;  // the first non-blank character was seen
  for (;;) {
    const ssize_t n = ::pread(fd, buf, sizeof buf, static_cast<off_t>(pos));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw UsageError(path + ": " + std::strerror(errno));
    }
    if (n == 0) break;
    for (ssize_t k = 0; k < n; ++k) {
      const char c = buf[k];
      if (c == '\n') {
        if (content) offsets.push_back(line_start);
        line_start = pos + static_cast<std::uint64_t>(k) + 1;
        at_start = true;
        content = decided = false;
        continue;
      }
      if (c == '\r') continue;
      if (commands) {
        if (!decided && c != ' ' && c != '\t') {
          decided = true;
          content = c != '#';
        }
      } else {
        content = true;
      }
      at_start = false;
    }
    pos += static_cast<std::uint64_t>(n);
  }
  if (!at_start && content) offsets.push_back(line_start);
  return offsets;
}

// The master's environment, on every rank (mpirun passes a rank only what -x names).
std::vector<std::string> shared_environment() {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  std::string blob;
  if (rank == 0)
    for (char** e = environ; *e; ++e) {
      blob += *e;
      blob += '\0';
    }
  unsigned long long size = blob.size();
  MPI_Bcast(&size, 1, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD);
  blob.resize(size);
  // In pieces below INT_MAX bytes.
  for (std::size_t at = 0; at < blob.size(); at += 1u << 30) {
    const int n = static_cast<int>(std::min<std::size_t>(blob.size() - at, 1u << 30));
    MPI_Bcast(blob.data() + at, n, MPI_CHAR, 0, MPI_COMM_WORLD);
  }
  std::vector<std::string> env;
  for (std::size_t at = 0; at < blob.size();) {
    const std::size_t end = blob.find('\0', at);
    std::string entry = blob.substr(at, end - at);
    at = end + 1;
    if (!launcher_variable(entry)) env.push_back(std::move(entry));
  }
  return env;
}

// OMP_NUM_THREADS for a task: the cores its rank owns (all cores shared by the ranks of this node
// when they are not bound).
int cores_per_rank() {
  MPI_Comm node;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
  int local = 1;
  MPI_Comm_size(node, &local);
  MPI_Comm_free(&node);
  cpu_set_t set;
  CPU_ZERO(&set);
  int cores = 1;
  if (sched_getaffinity(0, sizeof set, &set) == 0) cores = CPU_COUNT(&set);
  const long online = sysconf(_SC_NPROCESSORS_ONLN);
  if (online > 0 && cores >= online) cores /= std::max(1, local);
  return std::max(1, cores);
}

// One message to the watchdog: a task's process group begins (+) or ends (-).
struct WatchMessage {
  char op;
  pid_t group;
};

// Forked before the pool starts: only async-signal-safe calls below, and none of the rank's
// descriptors kept (an MPI socket held open would hide the rank's death from its peers).
[[noreturn]] void watchdog_main(int in, double grace) {
  for (int s : {SIGINT, SIGTERM, SIGUSR1, SIGUSR2, SIGHUP, SIGPIPE}) ::signal(s, SIG_IGN);
  ::prctl(PR_SET_NAME, "poolrun-watch");
  ::dup2(in, 0);
  ::close_range(1, ~0U, 0);
  constexpr int kMax = 64;
  pid_t live[kMax] = {};
  WatchMessage m{};
  for (;;) {
    const ssize_t n = ::read(0, &m, sizeof m);
    if (n == static_cast<ssize_t>(sizeof m)) {
      if (m.op == '+') {
        for (pid_t& g : live)
          if (g == 0) {
            g = m.group;
            break;
          }
      } else {
        for (pid_t& g : live)
          if (g == m.group) g = 0;
      }
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    break;  // the rank is gone (or ended)
  }
  bool any = false;
  for (pid_t g : live)
    if (g > 0 && ::kill(-g, SIGTERM) == 0) any = true;
  if (any) {
    timespec ts{static_cast<time_t>(grace), static_cast<long>((grace - std::floor(grace)) * 1e9)};
    while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
    for (pid_t g : live)
      if (g > 0) ::kill(-g, SIGKILL);
  }
  ::_exit(0);
}

void start_watchdog() {
  // A socket, not a pipe: sending to a watchdog that died is an error (MSG_NOSIGNAL), never a
  // SIGPIPE that would end the rank.
  int p[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) != 0) return;
  const pid_t pid = ::fork();
  if (pid == 0) watchdog_main(p[0], g_state.config.grace);
  ::close(p[0]);
  if (pid < 0) {
    ::close(p[1]);
    return;
  }
  g_state.watchdog = p[1];
  g_state.watchdog_pid = pid;
}

void tell_watchdog(char op, pid_t group) {
  if (g_state.watchdog < 0) return;
  const WatchMessage m{op, group};
  (void)!::send(g_state.watchdog, &m, sizeof m, MSG_NOSIGNAL);
}

// Kills and reaps what was reparented to this rank (the subreaper): processes a task left that
// escaped its process group. Runs between tasks, when no task of this rank is running.
void sweep_orphans() {
  // The kernel hands an orphan to the subreaper's first live thread, the main one: its list is
  // the one to read (a task's own children belong to the thread that spawned it, and are gone).
  static const std::string path = "/proc/self/task/" + std::to_string(::getpid()) + "/children";
  std::vector<pid_t> children;
  {
    std::ifstream in(path);
    long pid = 0;
    while (in >> pid)
      if (pid != g_state.watchdog_pid) children.push_back(static_cast<pid_t>(pid));
  }
  for (pid_t c : children) ::kill(c, SIGKILL);
  for (;;) {
    const pid_t r = ::waitpid(-1, nullptr, WNOHANG);
    if (r <= 0) break;
  }
}

// ---- one task --------------------------------------------------------------------------------

std::string substitute(const std::string& word, const std::string& item, std::uint64_t seq,
                       bool quote, bool& used) {
  std::string out;
  for (std::size_t i = 0; i < word.size();) {
    if (word.compare(i, 2, "{}") == 0) {
      out += quote ? shell_quote(item) : item;
      i += 2;
      used = true;
    } else if (word.compare(i, 3, "{#}") == 0) {
      out += std::to_string(seq);
      i += 3;
      used = true;
    } else {
      out += word[i++];
    }
  }
  return out;
}

// The command of task i: argv to run, and the line that shows it (a task file line).
struct Command {
  std::vector<std::string> argv;
  std::string line;
};

Command command_of(std::uint64_t i) {
  const Config& c = g_state.config;
  Command cmd;
  if (!c.tasks_file.empty()) {
    cmd.line = read_line(i);
    cmd.argv = {"/bin/sh", "-c", cmd.line};
    return cmd;
  }
  const std::string item = c.range_given ? std::to_string(c.range.begin + i) : read_line(i);
  bool used = false;
  if (c.shell) {
    for (const auto& w : c.words) {
      if (!cmd.line.empty()) cmd.line += ' ';
      cmd.line += substitute(w, item, i + 1, true, used);
    }
    if (!used) cmd.line += " " + shell_quote(item);
    cmd.argv = {"/bin/sh", "-c", cmd.line};
    return cmd;
  }
  for (const auto& w : c.words) cmd.argv.push_back(substitute(w, item, i + 1, false, used));
  if (!used) cmd.argv.push_back(item);  // GNU parallel's rule: the item goes last
  for (const auto& a : cmd.argv) cmd.line += (cmd.line.empty() ? "" : " ") + shell_quote(a);
  return cmd;
}

// The last `keep` bytes of a stream, and its size; everything to `file` when there is one.
struct Capture {
  int fd = -1;
  int file = -1;
  std::string tail;
  std::uint64_t bytes = 0;
  std::uint64_t keep = 0;
  // Reads what is there; false at end of file.
  bool pump() {
    char buf[1 << 16];
    for (;;) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n > 0) {
        bytes += static_cast<std::uint64_t>(n);
        if (file >= 0) (void)!::write(file, buf, static_cast<std::size_t>(n));
        tail.append(buf, static_cast<std::size_t>(n));
        if (tail.size() > 2 * keep + sizeof buf) tail.erase(0, tail.size() - keep);
        continue;
      }
      if (n == 0) return false;
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK;
    }
  }
  void finish() {
    if (tail.size() > keep) tail.erase(0, tail.size() - keep);
    if (fd >= 0) ::close(fd);
    if (file >= 0) ::close(file);
    fd = file = -1;
  }
};

std::string env_value(const std::vector<std::string>& env, std::string_view name) {
  for (const auto& e : env)
    if (e.size() > name.size() && e.compare(0, name.size(), name) == 0 && e[name.size()] == '=')
      return e.substr(name.size() + 1);
  return {};
}

ExecRecord run_once(std::uint64_t i, const Command& cmd, int try_number) {
  const Config& c = g_state.config;
  ExecRecord rec;
  rec.command = cmd.line;
  rec.rank = g_state.rank;
  rec.host = g_state.host;
  rec.start = unix_now();

  std::vector<std::string> env = g_state.env;
  env.push_back("POOLRUN_TASK_INDEX=" + std::to_string(i));
  env.push_back("POOLRUN_TASK_SEQ=" + std::to_string(i + 1));
  env.push_back("POOLRUN_TASK_ATTEMPT=" + std::to_string(try_number));
  env.push_back("POOLRUN_RANK=" + std::to_string(g_state.rank));
  env.push_back("POOLRUN_OUTPUT=" + g_state.output);
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = cmd.argv;
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  Capture out, err;
  out.keep = err.keep = c.keep_output;
  int po[2], pe[2];
  if (::pipe2(po, O_CLOEXEC) != 0 || ::pipe2(pe, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe: " + std::string(std::strerror(errno)));
  out.fd = po[0];
  err.fd = pe[0];
  ::fcntl(out.fd, F_SETFL, O_NONBLOCK);
  ::fcntl(err.fd, F_SETFL, O_NONBLOCK);
  if (!c.output_dir.empty()) {
    const std::string base = c.output_dir + "/" + std::to_string(i + 1);
    out.file = ::open((base + ".out").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    err.file = ::open((base + ".err").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  }

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, po[1], 1);
  posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
  if (!c.workdir.empty()) posix_spawn_file_actions_addchdir_np(&fa, c.workdir.c_str());
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  posix_spawnattr_t at;
  posix_spawnattr_init(&at);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&at, &none);
  posix_spawnattr_setsigdefault(&at, &all);
  posix_spawnattr_setpgroup(&at, 0);
  posix_spawnattr_setflags(&at,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  // The search path is the submitting environment's, not this rank's.
  const std::string path = env_value(env, "PATH");
  std::string program = args[0];
  // The last program looked up (a template runs the same one for every task).
  static std::string looked_up, found_at;
  if (program == looked_up) {
    program = found_at;
  } else if (program.find('/') == std::string::npos && !path.empty()) {
    std::size_t at_ = 0;
    for (;;) {
      const std::size_t colon = path.find(':', at_);
      const std::string dir = path.substr(at_, colon - at_);
      const std::string candidate = (dir.empty() ? "." : dir) + "/" + program;
      if (::access(candidate.c_str(), X_OK) == 0) {
        program = candidate;
        break;
      }
      if (colon == std::string::npos) break;
      at_ = colon + 1;
    }
    if (program != args[0]) {  // found: kept for the next task
      looked_up = args[0];
      found_at = program;
    }
  }
  const int rc = ::posix_spawn(&pid, program.c_str(), &fa, &at, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  ::close(po[1]);
  ::close(pe[1]);
  if (rc != 0) {
    out.finish();
    err.finish();
    rec.exit_code = 127;
    rec.error = "cannot run " + args[0] + ": " + std::strerror(rc);
    rec.err_tail = rec.error + "\n";
    rec.end = unix_now();
    return rec;
  }
  tell_watchdog('+', pid);

  // The child's exit wakes the poll through a pidfd, as its output does through the pipes.
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  const double t0 = mono_now();
  double kill_at = -1;  // SIGKILL due (after a SIGTERM)
  bool exited = false;
  int status = 0;
  for (;;) {
    pollfd fds[3];
    nfds_t n = 0;
    for (Capture* cap : {&out, &err})
      if (cap->fd >= 0) fds[n++] = pollfd{cap->fd, POLLIN, 0};
    if (pidfd >= 0) fds[n++] = pollfd{pidfd, POLLIN, 0};
    // The wait is short while a deadline is near (a signal, --timeout, --grace).
    ::poll(fds, n, pidfd >= 0 ? 50 : 5);
    for (Capture* cap : {&out, &err})
      if (cap->fd >= 0 && !cap->pump()) {
        ::close(cap->fd);
        cap->fd = -1;
      }
    const pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid) {
      exited = true;
      break;
    }
    const double now = mono_now();
    if (kill_at < 0) {
      if (libpool::batch::detail::g_interrupt_signal > 0) {
        rec.interrupted = 1;
        ::kill(-pid, SIGTERM);
        kill_at = now + c.grace;
      } else if (c.timeout > 0 && now - t0 >= c.timeout) {
        rec.timed_out = 1;
        ::kill(-pid, SIGTERM);
        kill_at = now + c.grace;
      }
    } else if (now >= kill_at) {
      ::kill(-pid, SIGKILL);
      kill_at = now + 3600;
    }
  }
  if (pidfd >= 0) ::close(pidfd);
  // The command is over: whatever it left in its group goes, then its output is read to the end
  // (a killed background child no longer holds the pipes).
  ::kill(-pid, SIGKILL);
  tell_watchdog('-', pid);
  for (Capture* cap : {&out, &err}) {
    while (cap->fd >= 0) {
      pollfd p{cap->fd, POLLIN, 0};
      if (::poll(&p, 1, 1000) <= 0) break;  // a descendant that left the group holds it
      if (!cap->pump()) break;
    }
  }
  out.finish();
  err.finish();
  sweep_orphans();
  rec.end = unix_now();
  if (exited && WIFEXITED(status)) {
    rec.exit_code = WEXITSTATUS(status);
  } else if (exited && WIFSIGNALED(status)) {
    rec.signal = WTERMSIG(status);
  }
  // A signal that stops the run may reach the task before its rank: srun and Slurm signal every
  // process of the step, and the default action of SIGUSR1 is to end it. A task ended by such a
  // signal, in a rank that gets it too (waited for briefly), was interrupted, not failed.
  if (rec.signal == SIGINT || rec.signal == SIGTERM || rec.signal == SIGUSR1 ||
      rec.signal == SIGHUP) {
    for (int k = 0; k < 40 && libpool::batch::detail::g_interrupt_signal <= 0; ++k)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (libpool::batch::detail::g_interrupt_signal > 0 &&
      !(exited && WIFEXITED(status) && WEXITSTATUS(status) == 0))
    rec.interrupted = 1;
  // A task that finished its work after all keeps its result.
  if (rec.interrupted && rec.exit_code == 0 && rec.signal == 0) rec.interrupted = 0;
  rec.out_tail = std::move(out.tail);
  rec.err_tail = std::move(err.tail);
  rec.out_bytes = out.bytes;
  rec.err_bytes = err.bytes;
  return rec;
}

// Task `begin` of a run, its try number `round` (1, then 2... in the rounds of --retries).
ExecRecord exec_task(std::int32_t round, std::uint64_t begin, std::uint64_t end) {
  if (end != begin + 1) throw std::logic_error("exec: one task a chunk");
  test_delay();
  ExecRecord rec;
  // A rank stopped by a signal, or told by --halt soon to start nothing more, does not start the
  // task it holds (sent just before the master stopped): it stays "not done".
  if (libpool::batch::detail::g_interrupt_signal != 0) {
    rec.interrupted = 1;
    return rec;
  }
  rec = run_once(begin, command_of(begin), round);
  rec.tries = round;
  return rec;
}

// ---- the workload ----------------------------------------------------------------------------

// A task's state in /result/state.
enum State : std::uint8_t {
  not_run = 0,
  succeeded = 1,
  exit_failed = 2,
  signalled = 3,
  timed_out_ = 4,
  not_started = 5
};

State state_of(const ExecRecord& r) {
  if (r.ok()) return succeeded;
  if (!r.error.empty()) return not_started;
  if (r.timed_out) return timed_out_;
  if (r.signal != 0) return signalled;
  return exit_failed;
}

class Exec final : public libpool::batch::Workload {
 public:
  std::string name() const override { return "exec"; }
  std::string description() const override {
    return "Any program as a task: a command farm with a row per task (GNU parallel style)";
  }
  void options(libpool::batch::Options& o) override {
    Config& c = g_state.config;
    o.add("--tasks", c.tasks_file,
          "Task file: one shell command a line (# comments and blank lines skipped)")
        .input();
    range_opt_ = o.add("--range", c.range, "A template's items: the integers A:B");
    o.add("--args", c.args_file, "A template's items: the lines of FILE").input();
    o.command("command", c.words,
              "The template after --: {} is the item, {#} its number from 1 (the item goes last "
              "when neither appears)");
    o.flag("--shell", c.shell, "Run the template through /bin/sh -c, each substituted item quoted");
    o.add("--retries", c.retries, "Run a failed task up to N more times (at most 254)").cosmetic();
    o.add("--timeout", c.timeout,
          "Kill a task that runs longer than S seconds (TERM, then KILL after --grace); 0: none")
        .cosmetic();
    o.add("--grace", c.grace, "Seconds between a task's SIGTERM and its SIGKILL").cosmetic();
    o.add("--halt", halt_,
          "never, or soon|now[,fail=N|N%]: after failures start no task (soon) or also kill the "
          "running ones (now)")
        .cosmetic();
    o.add("--keep-output", c.keep_output,
          "Bytes of each task's stdout and stderr kept in the output file (the last ones)")
        .cosmetic();
    o.add("--output-dir", c.output_dir,
          "Also keep each task's whole stdout and stderr as "
          "DIR/SEQ.out and DIR/SEQ.err")
        .cosmetic();
    o.add("--workdir", c.workdir, "The tasks' working directory (default: where poolrun runs)")
        .cosmetic();
    o.flag("--retry-failed", retry_failed_, "With --resume: run the failed tasks again").cosmetic();
  }
  void check() const override {
    const Config& c = g_state.config;
    // A config written by --dump-config holds every option, the unused ones empty.
    const int sources = !c.tasks_file.empty() + !c.range.empty() + !c.args_file.empty();
    if (sources == 0 && range_opt_->given()) throw UsageError("--range: an empty range");
    if (sources != 1)
      throw UsageError("exec: give the tasks with one of --tasks, --range or --args");
    if (!c.tasks_file.empty() && !c.words.empty())
      throw UsageError(
          "exec: --tasks runs each line as a command; a template after -- goes with "
          "--range or --args");
    if (!c.tasks_file.empty() && c.shell)
      throw UsageError("exec: --shell goes with a template (--tasks lines always run in /bin/sh)");
    if (c.tasks_file.empty() && c.words.empty())
      throw UsageError(
          "exec: --range and --args need a template after --, such as "
          "-- ./simulate --seed {}");
    if (!(c.timeout >= 0)) throw UsageError("--timeout: 0 or more seconds");
    if (!(c.grace >= 0) || c.grace > 3600) throw UsageError("--grace: 0 to 3600 seconds");
    if (c.keep_output > (64u << 20)) throw UsageError("--keep-output: at most 64 MiB");
    if (c.retries > 254) throw UsageError("--retries: at most 254");
    (void)parse_halt(halt_);
  }
  void tasks(libpool::Registry& registry) const override {
    registry.add("poolrun.exec", exec_task);
  }
  // A worker holds one task ahead: without it the hand-off between two tasks (the result's
  // trip to the master, the next task's back, with both sides asleep in their back-off) costs
  // ~2.5 ms, a quarter of a 10 ms task. The task held is started only while the run goes on
  // (--halt soon and signals: kHaltSoon and the stop flag).
  void pool(libpool::Options& options) const override { options.prefetch = 1; }
  void setup() override {
    // Collective first, before anything here can throw on one rank only.
    g_state.env = shared_environment();
    const int cores = cores_per_rank();
    Config& c = g_state.config;
    c.range_given = !c.range.empty();
    MPI_Comm_rank(MPI_COMM_WORLD, &g_state.rank);
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    g_state.host = host;
    if (env_value(g_state.env, "OMP_NUM_THREADS").empty())
      g_state.env.push_back("OMP_NUM_THREADS=" + std::to_string(cores));
    const auto where = " (on " + g_state.host + ")";
    for (const auto* dir : {&c.workdir, &c.output_dir}) {
      if (dir->empty()) continue;
      struct stat st {};
      if (::stat(dir->c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        throw UsageError((dir == &c.workdir ? "--workdir " : "--output-dir ") + *dir +
                         ": not a directory" + where);
      if (::access(dir->c_str(), dir == &c.workdir ? X_OK : W_OK | X_OK) != 0)
        throw UsageError((dir == &c.workdir ? "--workdir " : "--output-dir ") + *dir + ": " +
                         std::strerror(errno) + where);
    }
    const std::string& file = c.tasks_file.empty() ? c.args_file : c.tasks_file;
    if (!file.empty()) {
      if (g_state.fd >= 0) ::close(g_state.fd);
      g_state.fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
      if (g_state.fd < 0) throw UsageError(file + ": " + std::strerror(errno) + where);
      g_state.offsets = index_lines(file, !c.tasks_file.empty(), g_state.fd);
      if (g_state.offsets.empty())
        throw UsageError(file + ": no " + (c.tasks_file.empty() ? "items" : "tasks"));
    }
    // Orphans of a task come back to this rank, which kills them (see the top of this file).
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    start_watchdog();
  }

  void run(libpool::batch::Run& run) override {
    const Config& c = g_state.config;
    g_state.output = run.output();
    const std::uint64_t n = c.range_given ? c.range.size() : g_state.offsets.size();
    const Halt halt = parse_halt(halt_);
    const std::uint64_t halt_after =
        halt.percent > 0
            ? std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil(
                                             halt.percent / 100.0 * static_cast<double>(n))))
            : halt.count;
    // One row per task in /result, written at its place as tasks end.
    auto state = run.rows<std::uint8_t>("state", n);
    auto exit_code = run.rows<std::int32_t>("exit_code", n);
    auto signal = run.rows<std::int32_t>("signal", n);
    auto tries = run.rows<std::int32_t>("tries", n);
    auto rank = run.rows<std::int32_t>("rank", n);
    auto start = run.rows<double>("start", n);
    auto end = run.rows<double>("end", n);
    // Each task's state as its newest record says (--resume reads every record of every
    // earlier attempt and round, in ledger order; a task run again has several).
    std::vector<std::uint8_t> states(n, not_run);
    std::vector<double> newest(n, -1.0);
    std::vector<std::uint8_t> last_try(n, 0);  // the try number of that record (at most 255)
    std::uint64_t failures_now = 0;  // tasks that failed for good in this attempt (--halt)
    const std::int32_t rounds = static_cast<std::int32_t>(c.retries) + 1;
    // --retries: each round after the first runs the tasks whose last try failed before this
    // round (in this attempt or, resumed, an earlier one), wherever a rank is free (another
    // rank, most often), as new ledger rows.
    for (std::int32_t round = 1; round <= rounds; ++round) {
      std::vector<std::uint64_t> retry;
      if (round > 1) {
        for (std::uint64_t i = 0; i < n; ++i)
          if (states[i] > succeeded && last_try[i] < round) retry.push_back(i);
        if (retry.empty()) break;
      }
      std::vector<libpool::Span> holes;
      if (round > 1) {
        std::uint64_t from = 0;
        for (const std::uint64_t i : retry) {
          if (i > from) holes.push_back({from, i});
          from = i + 1;
        }
        if (from < n) holes.push_back({from, n});
      }
      const auto seen = [&](const libpool::Span& s, ExecRecord& r) {
        if (r.end < newest.at(s.begin)) return;
        newest[s.begin] = r.end;
        states[s.begin] = state_of(r);
        last_try[s.begin] = static_cast<std::uint8_t>(std::min(r.tries, 255));
      };
      // The first round runs again the tasks that failed before (--retry-failed); a round of
      // retries, those whose last try failed (the others are its holes).
      const auto again = [&](const libpool::Span& s) {
        return round > 1 || (retry_failed_ && states.at(s.begin) > succeeded);
      };
      const auto done = [&](const libpool::Span& s, ExecRecord& r) {
        if (r.interrupted) return false;
        const std::uint64_t i = s.begin;
        const State st = state_of(r);
        states.at(i) = st;
        newest.at(i) = r.end;
        last_try.at(i) = static_cast<std::uint8_t>(std::min(r.tries, 255));
        const std::uint8_t st8 = st;
        state.write(i, std::span<const std::uint8_t>(&st8, 1));
        exit_code.write(i, std::span<const std::int32_t>(&r.exit_code, 1));
        signal.write(i, std::span<const std::int32_t>(&r.signal, 1));
        tries.write(i, std::span<const std::int32_t>(&r.tries, 1));
        rank.write(i, std::span<const std::int32_t>(&r.rank, 1));
        start.write(i, std::span<const double>(&r.start, 1));
        end.write(i, std::span<const double>(&r.end, 1));
        if (st == succeeded) return true;
        if (round < rounds) return true;  // tried again in the next round
        if (++failures_now >= halt_after && halt.soon && !run.failed()) {
          run.fail("--halt " + halt_ + ": " + std::to_string(failures_now) +
                   " task(s) failed, the last: #" + std::to_string(i + 1) + " " + r.command);
          if (halt.now) {
            // The running tasks are stopped as by a signal (SIGTERM, then SIGKILL after
            // --grace) and not recorded: --resume runs them.
            run.pool().signal_workers(SIGTERM);
            libpool::batch::detail::g_interrupt_signal = SIGTERM;
          } else {
            // Those running finish; the one a worker holds ahead does not start.
            run.pool().signal_workers(kHaltSoon);
          }
        }
        return true;
      };
      const bool complete = run.each(
          {.name = "tasks", .space = {0, n}, .unit = "tasks", .holes = holes, .chunksize = 1}, seen,
          again, done, exec_task, round);
      if (!complete) return;
    }
    std::uint64_t count[6] = {};
    for (const std::uint8_t s : states) ++count[std::min<std::uint8_t>(s, 5)];
    const std::uint64_t failed = n - count[succeeded] - count[not_run];
    auto& result = run.result();
    result.scalar("tasks", n);
    result.scalar("succeeded", count[succeeded]);
    result.scalar("failed", failed);
    result.attr("state", "meaning",
                std::string("0 not run, 1 succeeded, 2 exit status not 0, 3 killed by a signal, "
                            "4 timed out, 5 could not start"));
    const std::string counts = std::to_string(count[exit_failed]) + " exit status, " +
                               std::to_string(count[signalled]) + " signal, " +
                               std::to_string(count[timed_out_]) + " timeout, " +
                               std::to_string(count[not_started]) + " not started";
    if (failed > 0) {
      run.fail(std::to_string(failed) + " of " + std::to_string(n) + " tasks failed (" + counts +
               "); poolreport --failed-tasks " + run.output() + " lists their commands");
      return;
    }
    run.summary("exec: " + std::to_string(n) + " tasks succeeded");
  }

 private:
  std::string halt_ = "never";
  bool retry_failed_ = false;
  std::optional<libpool::batch::Option> range_opt_;
};

}  // namespace

std::unique_ptr<libpool::batch::Workload> make_exec() {
  return std::make_unique<Exec>();
}

}  // namespace poolrun
