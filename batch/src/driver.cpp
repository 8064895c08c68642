// The SPMD driver of every batch program (poolrun, and users' programs): parse and check on every
// rank, agree, run the workload's per-rank setup, build the pool, run on rank 0.
#include <mpi.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>

#include "batch/core.hpp"
#include "common/cli.hpp"
#include "common/errors.hpp"
#include "common/h5.hpp"
#include "common/output.hpp"
#include "common/run_info.hpp"

namespace libpool::batch::detail {

namespace {
std::string g_program = "poolrun";
}  // namespace

const std::string& program_name() {
  return g_program;
}

namespace {

// The output must not be a file the run reads, whatever path or symlink names it.
void check_not_an_input(const std::string& output, const std::vector<std::string>& inputs) {
  struct stat o {};
  if (::stat(output.c_str(), &o) != 0) return;
  for (const auto& in : inputs) {
    struct stat i {};
    if (::stat(in.c_str(), &i) == 0 && i.st_dev == o.st_dev && i.st_ino == o.st_ino)
      throw common::UsageError("output '" + output + "' is the input file '" + in +
                               "' of this run: refused even with --force");
  }
}
// Bumped whenever a kernel changes the bits of a result or the ledger's layout changes:
// --resume refuses to mix versions (2: partials of any size in /partials).
constexpr const char* kResultsVersion = "2";

void add_common_options(CLI::App& app, CommonOptions& o) {
  app.add_option("-o,--output", o.output, "Output file (default: <workload>.h5)")
      ->type_name("FILE.h5");
  app.add_flag("--force", o.force, "Replace an existing output file");
  app.add_option("--chunksize", o.chunksize, "Items per chunk, or auto")
      ->type_name("N|auto")
      ->capture_default_str()
      ->transform(CLI::Validator(
          [](std::string& s) -> std::string {
            if (s == "auto") return {};
            std::uint64_t v = 0;
            auto err = common::cli::u64_error(s, &v);
            if (!err.empty()) return err + " (expected a positive integer or auto)";
            if (v == 0) return "must be positive or auto";
            s = std::to_string(v);
            return {};
          },
          ""));
  app.add_option("--schedule", o.schedule, "How chunks are cut: dynamic (fixed) or guided")
      ->capture_default_str()
      ->check(CLI::IsMember({"dynamic", "guided"}));
  app.add_option("--progress", o.progress,
                 "Progress: auto (a live bar when stderr is a terminal, a line every "
                 "--progress-interval otherwise), always (the live bar on any stderr: under "
                 "mpirun on a terminal), never")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "always", "never"}));
  // Intervals and limits: finite numbers only (CLI::Range alone lets NaN through).
  common::cli::add_f64(app, "--progress-interval", o.progress_interval,
                       "Seconds between progress lines when the bar is not drawn (logs, Slurm)")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 86400.0));
  app.add_flag("--debug", o.debug,
               "HDF5 errors in full: the C++ call and HDF5's whole error stack");
  app.add_flag("-q,--quiet", o.quiet, "No progress and no summary (errors still go to stderr)");
  app.add_flag("--resume", o.resume,
               "Continue the interrupted or crashed run that wrote --output, redoing only the "
               "chunks it did not finish");
  common::cli::add_f64(
      app, "--flush-interval", o.flush_interval,
      "Seconds between ledger flushes: how old the newest completed chunk on disk may be")
      ->capture_default_str()
      ->check(CLI::Range(0.01, 3600.0));
  common::cli::add_f64(app, "--task-timeout", o.task_timeout,
                       "A task running longer than this many seconds ends the job like a lost "
                       "rank (0: no limit)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1e9));
}

// FILE.h5.partial and FILE.h5.lock sit beside the output: no output may take one of those names
// (it would replace a live run's file or lock), and they must fit, or the run would fail after
// the pool started.
void check_output_name(const std::string& output) {
  const std::filesystem::path p(output);
  const std::string name = p.filename().string();
  for (const std::string_view own : {".partial", ".lock"})
    if (name.ends_with(own))
      throw common::UsageError("--output: '" + output + "' ends in " + std::string(own) +
                               ", the name of another output's " +
                               (own == ".lock" ? "lock" : "file while it is written") +
                               "; choose another name");
  const std::string dir = p.has_parent_path() ? p.parent_path().string() : std::string(".");
  long max = ::pathconf(dir.c_str(), _PC_NAME_MAX);
  if (max <= 0) max = 255;
  const std::size_t longest = std::string_view(".partial").size();
  if (name.size() + longest > static_cast<std::size_t>(max))
    throw common::UsageError("--output: the file name is " + std::to_string(name.size()) +
                             " bytes long; at most " + std::to_string(max - longest) +
                             " here, since " + name.substr(0, 16) + "....partial sits beside it");
}

// Rank 0 prints; the others parse silently (same argv, same verdict).
struct Muted {
  explicit Muted(bool mute) : mute_(mute) {
    if (mute_) {
      out_ = std::cout.rdbuf(sink_.rdbuf());
      err_ = std::cerr.rdbuf(sink_.rdbuf());
    }
  }
  ~Muted() {
    if (mute_) {
      std::cout.rdbuf(out_);
      std::cerr.rdbuf(err_);
    }
  }
  Muted(const Muted&) = delete;
  Muted& operator=(const Muted&) = delete;

 private:
  bool mute_;
  std::ostringstream sink_;
  std::streambuf* out_ = nullptr;
  std::streambuf* err_ = nullptr;
};

std::vector<std::string> gather_hosts(int size) {
  constexpr int len = MPI_MAX_PROCESSOR_NAME;
  std::array<char, len> mine{};
  const std::string host = libpool::processor_name();
  std::strncpy(mine.data(), host.c_str(), len - 1);
  std::vector<char> all(static_cast<std::size_t>(len) * static_cast<std::size_t>(size));
  MPI_Allgather(mine.data(), len, MPI_CHAR, all.data(), len, MPI_CHAR, MPI_COMM_WORLD);
  std::vector<std::string> hosts;
  for (int r = 0; r < size; ++r) hosts.emplace_back(all.data() + static_cast<std::size_t>(r) * len);
  return hosts;
}

// The MPI library's own description, on one line ("unknown" if MPI cannot say).
std::string mpi_library_version() {
  char buf[MPI_MAX_LIBRARY_VERSION_STRING] = {};
  int len = 0;
  if (MPI_Get_library_version(buf, &len) != MPI_SUCCESS) return "unknown";
  std::string v(buf, static_cast<std::size_t>(std::clamp(len, 0, MPI_MAX_LIBRARY_VERSION_STRING)));
  for (char& c : v)
    if (c == '\n' || c == '\r' || c == '\0') c = ' ';
  while (!v.empty() && v.back() == ' ') v.pop_back();
  return v.empty() ? "unknown" : v;
}

// The `workload = "NAME"` key before any [table] of a TOML file; empty when there is none or
// the file cannot be read (CLI11 reports that itself).
std::string config_workload(const std::string& file) {
  std::ifstream in(file);
  static const std::regex key(
      R"re(^\s*workload\s*=\s*(?:"([^"]*)"|'([^']*)'|([A-Za-z0-9_]+))\s*(?:#.*)?$)re");
  for (std::string line; std::getline(in, line);) {
    const auto b = line.find_first_not_of(" \t");
    if (b != std::string::npos && line[b] == '[') break;
    std::smatch m;
    if (std::regex_match(line, m, key)) return m[1].matched ? m[1] : m[2].matched ? m[2] : m[3];
  }
  return {};
}

// CLI11 cannot select a subcommand from a config file: a stored configuration names its workload
// in a top-level key, and when the command line names none, it is inserted as the first
// argument. A command line that names another workload is refused. Returns the arguments to
// parse and sets `workload` to the workload they select (empty when none).
std::vector<std::string> select_workload(int argc, char** argv,
                                         const std::vector<std::unique_ptr<Entry>>& workloads,
                                         std::string& workload) {
  std::vector<std::string> args(argv, argv + argc);
  std::string config;
  std::string given;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--config" && i + 1 < args.size()) {
      config = args[++i];
    } else if (a.starts_with("--config=")) {
      config = a.substr(9);
    } else if (a == "-o" || a == "--output") {
      // A value, even if it spells a workload; an empty one would silently mean the default.
      if (i + 1 < args.size() && args[i + 1].empty())
        throw common::UsageError(a + ": the file name is empty");
      ++i;
    } else if (a == "--output=" || a == "-o=") {
      throw common::UsageError("--output: the file name is empty");
    } else if (given.empty()) {
      for (const auto& w : workloads)
        if (a == w->name()) given = a;
    }
  }
  // A program of one workload needs no subcommand: it is inserted.
  const bool listing = std::find(args.begin(), args.end(), "--list") != args.end();
  if (given.empty() && workloads.size() == 1 && config.empty() && !listing) {
    args.insert(args.begin() + 1, workloads.front()->name());
    given = workloads.front()->name();
  }
  workload = given;
  if (config.empty()) return args;
  const std::string from_file = config_workload(config);
  if (from_file.empty()) return args;
  const bool known = std::any_of(workloads.begin(), workloads.end(),
                                 [&](const auto& w) { return from_file == w->name(); });
  if (!known)
    throw common::UsageError("--config " + config + ": unknown workload '" + from_file + "'");
  if (!given.empty() && given != from_file)
    throw common::UsageError("the command line runs " + given + " but --config " + config +
                             " is a " + from_file + " configuration");
  if (given.empty()) args.insert(args.begin() + 1, from_file);
  workload = from_file;
  return args;
}

std::vector<std::string> unique_hosts(const std::vector<std::string>& hosts) {
  std::vector<std::string> u;
  for (const auto& h : hosts)
    if (std::find(u.begin(), u.end(), h) == u.end()) u.push_back(h);
  return u;
}

// Open MPI can start N separate one-rank jobs when the launcher's PMI does not match the MPI
// library: each would then compute the whole run alone. Batch scripts say how many ranks they
// asked for (slurm/common.sh sets it to SLURM_NTASKS).
void check_rank_count(int size) {
  const char* expect = std::getenv("POOLRUN_EXPECT_RANKS");
  if (!expect || !*expect) return;
  const std::string want(expect);
  if (want != std::to_string(size))
    throw common::UsageError("MPI started " + std::to_string(size) +
                             " rank(s) but this job asked for " + want +
                             " (POOLRUN_EXPECT_RANKS): launch with srun --mpi=pmix, or mpirun "
                             "inside the allocation");
}

}  // namespace

int run_main(int argc, char** argv, std::vector<std::unique_ptr<Entry>> entries,
             const std::string& program, const std::string& about) {
  g_program = program;
  libpool::Environment env(argc, argv);
  install_signal_handlers();
  const int rank = env.rank();

  CommonOptions common_options;
  auto& workloads = entries;
  CLI::App app(program + ": " + about, program);
  app.set_version_flag("--version", program + " " + std::string(common::libpool_version()));
  app.require_subcommand(1);
  std::string workload_key;
  CLI::Option* workload_opt =
      app.add_option("--workload", workload_key,
                     "The workload; a configuration file that names it runs it when the command "
                     "line names none")
          ->group("");
  add_common_options(app, common_options);
  // The table of workloads, one a line (scripts and tests read it): name, then description.
  app.add_flag_callback(
         "--list",
         [&] {
           for (const auto& w : workloads)
             std::cout << w->name() << '\t' << w->description() << '\n';
           throw CLI::Success();
         },
         "List the workloads (name and description, tab-separated) and exit")
      ->configurable(false);  // an action, not a setting: --dump-config leaves it out
  for (auto& w : workloads) {
    CLI::App* sub = app.add_subcommand(w->name(), w->description())->fallthrough();
    sub->footer("Common options (before or after the workload; see " + program +
                " --help): -o/--output FILE.h5, "
                "--force, --config FILE.toml, --dump-config, --chunksize N|auto, --schedule "
                "dynamic|guided, --progress auto|always|never, --progress-interval S, --resume, "
                "--flush-interval S, "
                "--task-timeout S, --debug, -q/--quiet, --version");
    w->add_options(*sub);
  }
  common::cli::add_config(app);

  // -1: go on; otherwise the exit code every rank leaves with.
  int verdict = -1;
  Entry* chosen = nullptr;
  common::OutputLock lock;  // rank 0: held from before the output is touched until the end
  common::Identity identity;
  {
    Muted muted(rank != 0);
    std::vector<std::string> args;
    std::string selected;
    try {
      args = select_workload(argc, argv, workloads, selected);
    } catch (const common::UsageError& e) {
      std::cerr << program << ": error: " << e.what() << '\n';
      verdict = exit_usage;
    }
    // The stored and dumped configuration names the workload it runs.
    if (!selected.empty()) workload_opt->default_str(selected);
    std::vector<const char*> arg_ptrs;
    for (const auto& a : args) arg_ptrs.push_back(a.c_str());
    if (verdict != -1) {
      // refused above
    } else if (auto code =
                   common::cli::parse(app, static_cast<int>(arg_ptrs.size()), arg_ptrs.data())) {
      verdict = *code;
    } else {
      for (auto& w : workloads)
        if (app.got_subcommand(w->name())) chosen = w.get();
      h5::set_debug_errors(common_options.debug);
      try {
        if (!workload_key.empty() && workload_key != chosen->name())
          throw common::UsageError("--workload " + workload_key + " does not match the workload " +
                                   chosen->name() + " on the command line");
        common_options.chunksize_value();
        check_rank_count(env.size());
        chosen->adjust_options(common_options);
        chosen->validate(common_options);
        if (common_options.output.empty()) {
          common_options.output = std::string(chosen->name()) + ".h5";
          // The recorded configuration names the file actually written.
          app.get_option("--output")->default_str(common_options.output);
        }
        check_output_name(common_options.output);
        check_not_an_input(common_options.output, chosen->input_files());
        identity = {{"workload", chosen->name()}, {"results_version", kResultsVersion}};
        for (auto& kv : chosen->identity()) identity.push_back(std::move(kv));
        if (rank == 0) {
          // One writer per output: the lock comes before anything looks at or touches it.
          lock = common::OutputLock::acquire(common_options.output);
          common::test_point("lock_taken");
          if (common_options.resume) {
            common::RunMeta m;
            m.identity = identity;
            const auto rs = common::OutputFile::check_resume(common_options.output, m);
            if (rs.complete) {
              std::cout << program << ": " << rs.file.string()
                        << " is already complete; nothing to resume\n";
              verdict = exit_complete;
            }
          } else {
            common::OutputFile::check_target(common_options.output, common_options.force);
          }
        }
      } catch (const common::UsageError& e) {
        std::cerr << program << ": error: " << e.what() << '\n';
        verdict = exit_usage;
      }
    }
  }
  // Every rank leaves together, or none does: the pool's constructor is a collective.
  int agreed = verdict;
  MPI_Allreduce(&verdict, &agreed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (agreed != -1) {
    if (rank == 0 && verdict == -1)
      std::cerr << program << ": error: invalid options or inputs on another rank\n";
    return agreed;
  }
  // The workload's per-rank setup (open an input, build a table), agreed on like the checks: a
  // rank that cannot prepare ends every rank before the pool starts; the first that failed says
  // why, once.
  {
    std::string why;
    try {
      chosen->setup();
    } catch (const std::exception& e) {
      why = e.what();
    }
    int mine = why.empty() ? env.size() : rank;
    int first = mine;
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (first < env.size()) {
      if (rank == first)
        std::cerr << program << ": error: "
                  << (rank == 0 ? std::string()
                                : "rank " + std::to_string(rank) + " on " +
                                      libpool::processor_name() + ": ")
                  << why << '\n';
      return exit_usage;
    }
  }
  const auto hosts = gather_hosts(env.size());

  libpool::Registry registry;
  for (const auto& w : workloads) w->register_tasks(registry);
  libpool::Options options;
  chosen->configure(options);
  // A signal to a worker alone stops the run as one to rank 0 does (RunCore::tick).
  options.stop_flag = &g_interrupt_signal;
  options.task_timeout = libpool::Seconds(common_options.task_timeout);

  const auto t0 = std::chrono::steady_clock::now();
  try {
    libpool::Executor pool(registry, options);
    if (!pool.is_master()) return 0;
    common::RunMeta meta;
    meta.workload = chosen->name();
    meta.config = common::cli::effective_config(app);
    meta.command_line = common::join_command_line(argc, argv);
    meta.ranks = pool.size();
    meta.hosts = unique_hosts(hosts);
    meta.identity = identity;
    meta.input_files = chosen->input_files();
    meta.mpi_library = mpi_library_version();
    std::optional<common::OutputFile> out;
    try {
      out.emplace(common_options.resume ? common::OutputFile::resume(common_options.output, meta)
                                        : common::OutputFile::create(common_options.output,
                                                                     common_options.force, meta));
    } catch (const common::UsageError& e) {  // the target appeared since the check
      std::cerr << program << ": error: " << e.what() << '\n';
      return exit_usage;
    }
    RunCore run(pool, *out, lock, common_options, hosts, t0);
    const int code = chosen->run(run);
    if (run.lost_rank()) {
      // The file is final; a rank that stopped answering cannot be told to leave its loop, so
      // only the launcher can end the job now.
      std::cerr << std::flush;
      lock.release();
      libpool::abort_job(code);
    }
    return code;
  } catch (const libpool::BrokenPool& e) {
    if (rank == 0)
      std::cerr << program << ": error: the pool could not start: " << e.what() << '\n';
    return exit_failed;
  } catch (const std::exception& e) {
    std::cerr << program << ": error: " << e.what() << '\n';
    return exit_failed;
  }
}

}  // namespace libpool::batch::detail
