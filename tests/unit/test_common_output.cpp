// The output writer (PRODUCT.md §4): layout, refusal of existing files, crash safety, resume.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "common/errors.hpp"
#include "common/lock.hpp"
#include "common/output.hpp"
#include "common/run_info.hpp"
#include "test_common_util.hpp"

using namespace test_common;
using common::OutputFile;
using common::RunStatus;

namespace {

common::RunMeta meta() {
  common::RunMeta m;
  m.workload = "primes";
  m.config = "to = 10000000000\n";
  m.command_line = "poolrun primes --to 1e10";
  m.ranks = 3;
  m.hosts = {"node1"};
  m.identity = {{"workload", "primes"}, {"to", "10000000000"}};
  return m;
}

void write_run(OutputFile& out) {
  out.result().write_scalar("count", std::uint64_t{455052511});
  out.append_chunk(chunk_row(0, 100, 1, 0.1, 0.2, "done", 1));
  out.append_chunk(chunk_row(100, 200, 2, 0.15, 0.3, "done", 1));
  out.flush();
  out.append_chunk(chunk_row(200, 300, 1, 0.2, 0.4, "done", 2));
  const std::vector<common::WorkerRow> workers{{1, "node1", 2, 0.3, 0.01},
                                               {2, "node1", 1, 0.15, 0.2}};
  out.set_workers(workers);
}

}  // namespace

TEST(CommonOutput, CompleteLayoutThroughRawApi) {
  TempDir dir;
  const auto path = dir / "primes.h5";
  ::setenv("SLURM_JOB_ID", "4242", 1);
  {
    OutputFile out = OutputFile::create(path, false, meta());
    ::unsetenv("SLURM_JOB_ID");
    write_run(out);
    out.finish(RunStatus::complete, 1.25);
    EXPECT_TRUE(out.finished());
  }
  ASSERT_TRUE(std::filesystem::exists(path));
  EXPECT_FALSE(std::filesystem::exists(dir / "primes.h5.partial"));

  const hid_t f = raw_open(path);
  ASSERT_GE(f, 0);
  EXPECT_EQ(raw_attr_string(f, ".", "workload"), "primes");
  EXPECT_EQ(raw_attr_string(f, ".", "status"), "complete");
  EXPECT_EQ(raw_attr_string(f, ".", "libpool_version"), std::string(common::libpool_version()));
  EXPECT_TRUE(std::regex_match(raw_attr_string(f, ".", "created"),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")));
  EXPECT_EQ(raw_attr_num<double>(f, ".", "wall_seconds", H5T_NATIVE_DOUBLE, H5T_FLOAT), 1.25);
  EXPECT_EQ(raw_attr_num<std::int64_t>(f, ".", "ranks", H5T_NATIVE_INT64, H5T_INTEGER), 3);
  EXPECT_EQ(raw_attr_strings(f, ".", "hosts"), std::vector<std::string>{"node1"});
  EXPECT_EQ(raw_attr_string(f, ".", "config"), "to = 10000000000\n");
  EXPECT_EQ(raw_attr_string(f, ".", "command_line"), "poolrun primes --to 1e10");
  EXPECT_EQ(raw_attr_string(f, ".", "slurm_job_id"), "4242");

  EXPECT_EQ(raw_dataset<std::uint64_t>(f, "result/count", H5T_NATIVE_UINT64),
            std::vector<std::uint64_t>{455052511});
  EXPECT_EQ(raw_dataset<std::uint64_t>(f, "chunks/begin", H5T_NATIVE_UINT64),
            (std::vector<std::uint64_t>{0, 100, 200}));
  EXPECT_EQ(raw_dataset<std::uint64_t>(f, "chunks/end", H5T_NATIVE_UINT64),
            (std::vector<std::uint64_t>{100, 200, 300}));
  EXPECT_EQ(raw_dataset<std::int64_t>(f, "chunks/rank", H5T_NATIVE_INT64),
            (std::vector<std::int64_t>{1, 2, 1}));
  EXPECT_EQ(raw_dataset<double>(f, "chunks/start_s", H5T_NATIVE_DOUBLE),
            (std::vector<double>{0.1, 0.15, 0.2}));
  EXPECT_EQ(raw_dataset<double>(f, "chunks/end_s", H5T_NATIVE_DOUBLE),
            (std::vector<double>{0.2, 0.3, 0.4}));
  EXPECT_EQ(raw_dataset<std::int64_t>(f, "chunks/attempt", H5T_NATIVE_INT64),
            (std::vector<std::int64_t>{1, 1, 2}));
  EXPECT_EQ(raw_dataset_strings(f, "chunks/status"),
            (std::vector<std::string>{"done", "done", "done"}));
  EXPECT_EQ(raw_dataset<std::int64_t>(f, "workers/rank", H5T_NATIVE_INT64),
            (std::vector<std::int64_t>{1, 2}));
  EXPECT_EQ(raw_dataset_strings(f, "workers/host"), (std::vector<std::string>{"node1", "node1"}));
  EXPECT_EQ(raw_dataset<std::uint64_t>(f, "workers/chunks", H5T_NATIVE_UINT64),
            (std::vector<std::uint64_t>{2, 1}));
  EXPECT_EQ(raw_dataset<double>(f, "workers/busy_s", H5T_NATIVE_DOUBLE),
            (std::vector<double>{0.3, 0.15}));
  EXPECT_EQ(raw_dataset<double>(f, "workers/idle_s", H5T_NATIVE_DOUBLE),
            (std::vector<double>{0.01, 0.2}));
  EXPECT_LT(H5Lexists(f, "error", H5P_DEFAULT), 1);
  H5Fclose(f);
}

TEST(CommonOutput, NoSlurmAttributeOutsideSlurm) {
  TempDir dir;
  ::unsetenv("SLURM_JOB_ID");
  OutputFile out = OutputFile::create(dir / "a.h5", false, meta());
  out.finish(RunStatus::complete, 0.5);
  const hid_t f = raw_open(dir / "a.h5");
  EXPECT_EQ(H5Aexists(f, "slurm_job_id"), 0);
  EXPECT_EQ(raw_dataset<std::uint64_t>(f, "chunks/begin", H5T_NATIVE_UINT64).size(), 0u);
  H5Fclose(f);
}

TEST(CommonOutput, ExistingFileRefusedUnlessForce) {
  TempDir dir;
  const auto path = dir / "exists.h5";
  { std::ofstream(path) << "precious"; }
  try {
    OutputFile::check_target(path, false);
    ADD_FAILURE() << "not refused";
  } catch (const common::UsageError& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.find('\n'), std::string::npos);
    EXPECT_NE(msg.find("already exists"), std::string::npos) << msg;
    EXPECT_NE(msg.find("--force"), std::string::npos) << msg;
  }
  EXPECT_THROW(OutputFile::create(path, false, meta()), common::UsageError);
  EXPECT_FALSE(std::filesystem::exists(dir / "exists.h5.partial"));  // nothing touched
  {
    std::ifstream in(path);
    std::string s;
    in >> s;
    EXPECT_EQ(s, "precious");
  }
  EXPECT_THROW(OutputFile::check_target(dir / "no/such/dir/x.h5", true), common::UsageError);
  EXPECT_THROW(OutputFile::check_target(dir.path(), true), common::UsageError);

  OutputFile out = OutputFile::create(path, true, meta());
  {
    std::ifstream in(path);  // the old file stays until the rename
    std::string s;
    in >> s;
    EXPECT_EQ(s, "precious");
  }
  out.finish(RunStatus::complete, 0.1);
  const hid_t f = raw_open(path);
  ASSERT_GE(f, 0);
  EXPECT_EQ(raw_attr_string(f, ".", "status"), "complete");
  H5Fclose(f);
}

TEST(CommonOutput, InterruptedWriterNeverClaimsComplete) {
  TempDir dir;
  const auto path = dir / "crash.h5";
  {
    OutputFile out = OutputFile::create(path, false, meta());
    out.result().write_scalar("count", std::uint64_t{1});
    out.append_chunk(chunk_row(0, 10, 1, 0, 1, "done", 1));
    out.flush();
    out.append_chunk(chunk_row(10, 20, 1, 1, 2, "done", 1));  // buffered: the destructor keeps it
  }  // destroyed without finish(), as when an exception unwinds the master
  EXPECT_FALSE(std::filesystem::exists(path));
  const auto partial = dir / "crash.h5.partial";
  ASSERT_TRUE(std::filesystem::exists(partial));
  const hid_t f = raw_open(partial);
  ASSERT_GE(f, 0);
  EXPECT_EQ(raw_attr_string(f, ".", "status"), "running");
  EXPECT_EQ(raw_dataset<std::uint64_t>(f, "chunks/begin", H5T_NATIVE_UINT64),
            (std::vector<std::uint64_t>{0, 10}));
  H5Fclose(f);
}

TEST(CommonOutput, KilledSwmrWriterLeavesARunningFileEveryFlushedRowReadable) {
  TempDir dir;
  const auto path = dir / "killed.h5";
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    try {
      OutputFile out = OutputFile::create(path, false, meta());
      out.start();
      out.append_chunk(chunk_row(0, 10, 1, 0, 1, "done", 1, 4));
      out.flush();
      out.append_chunk(
          chunk_row(10, 20, 1, 1, 2, "done", 1, 5));  // not flushed: lost with the process
      ::_exit(0);  // no destructors, no finish: like a SIGKILL right after a flush
    } catch (...) {
      ::_exit(3);
    }
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  EXPECT_FALSE(std::filesystem::exists(path));
  const auto partial = dir / "killed.h5.partial";
  // A SWMR reader opens what the dead writer left (a plain reader is told to run h5clear).
  const hid_t f = H5Fopen(partial.c_str(), H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  EXPECT_EQ(raw_attr_string(f, ".", "status"), "running");
  EXPECT_EQ(raw_dataset<std::uint64_t>(f, "chunks/end", H5T_NATIVE_UINT64),
            std::vector<std::uint64_t>{10});
  EXPECT_EQ(raw_dataset<std::uint64_t>(f, "chunks/partial", H5T_NATIVE_UINT64),
            std::vector<std::uint64_t>{4});
  H5Fclose(f);
  // --resume continues it: the row is kept, this is attempt 2.
  const auto rs = OutputFile::check_resume(path, meta());
  EXPECT_EQ(rs.file, partial);
  EXPECT_EQ(rs.status, "running");
  EXPECT_EQ(rs.chunks, 1u);
  OutputFile out = OutputFile::resume(path, meta());
  ASSERT_EQ(out.previous_chunks().size(), 1u);
  EXPECT_EQ(out.previous_chunks()[0].partial, 4u);
  EXPECT_EQ(out.previous_chunks()[0].pass, "count");
  EXPECT_EQ(out.attempt(), 2);
  out.start();
  out.append_chunk(chunk_row(10, 20, 1, 0, 1, "done", 2, 5));
  out.result().write_scalar("count", std::uint64_t{9});
  out.finish(RunStatus::complete, 1.0);
  const hid_t g = raw_open(path);
  ASSERT_GE(g, 0);
  EXPECT_EQ(raw_attr_string(g, ".", "status"), "complete");
  EXPECT_EQ(raw_dataset<std::int64_t>(g, "chunks/attempt", H5T_NATIVE_INT64),
            (std::vector<std::int64_t>{1, 2}));
  EXPECT_EQ(raw_dataset<std::uint64_t>(g, "resumes/chunks_kept", H5T_NATIVE_UINT64),
            std::vector<std::uint64_t>{1});
  H5Fclose(g);
}

TEST(CommonOutput, FailedRunRecordsError) {
  TempDir dir;
  const auto path = dir / "failed.h5";
  {
    OutputFile out = OutputFile::create(path, false, meta());
    out.append_chunk(chunk_row(0, 10, 1, 0, 1, "done", 1));
    out.append_chunk(chunk_row(10, 20, 2, 0, 1, "failed", 1));
    out.set_error({2, "node7", 10, 20, "ValueError: boom"});
    out.finish(RunStatus::failed, 2.0);
  }
  const hid_t f = raw_open(path);
  ASSERT_GE(f, 0);
  EXPECT_EQ(raw_attr_string(f, ".", "status"), "failed");
  EXPECT_EQ(raw_attr_num<std::int64_t>(f, "error", "rank", H5T_NATIVE_INT64, H5T_INTEGER), 2);
  EXPECT_EQ(raw_attr_string(f, "error", "host"), "node7");
  EXPECT_EQ(raw_attr_num<std::uint64_t>(f, "error", "chunk_begin", H5T_NATIVE_UINT64, H5T_INTEGER),
            10u);
  EXPECT_EQ(raw_attr_num<std::uint64_t>(f, "error", "chunk_end", H5T_NATIVE_UINT64, H5T_INTEGER),
            20u);
  EXPECT_EQ(raw_attr_string(f, "error", "message"), "ValueError: boom");
  EXPECT_EQ(raw_dataset_strings(f, "chunks/status"), (std::vector<std::string>{"done", "failed"}));
  H5Fclose(f);
}

TEST(CommonOutput, ResumeContinuesAPartialRun) {
  TempDir dir;
  const auto path = dir / "resume.h5";
  {
    OutputFile out = OutputFile::create(path, false, meta());
    out.append_chunk(chunk_row(0, 10, 1, 0, 1, "done", 1));
    out.append_chunk(chunk_row(10, 20, 1, 0, 1, "failed", 1));
    out.set_error({1, "node1", 10, 20, "ValueError: boom"});
    out.finish(RunStatus::failed, 1.0);
  }
  {
    OutputFile out = OutputFile::resume(path, meta());
    EXPECT_FALSE(std::filesystem::exists(path)) << "continues under the .partial name";
    EXPECT_EQ(out.file().attr_string("status"), "running");
    EXPECT_FALSE(out.file().exists("error")) << "the old error moves to /resumes";
    const auto& rows = out.previous_chunks();
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0].end, 10u);
    EXPECT_EQ(rows[0].status, "done");
    EXPECT_EQ(rows[1].status, "failed");
    out.append_chunk(chunk_row(10, 20, 2, 1.5, 2, "done", 2));
    out.result().write_scalar("count", std::uint64_t{4});
    out.finish(RunStatus::complete, 3.0);
  }
  const hid_t f = raw_open(path);
  EXPECT_EQ(raw_attr_string(f, ".", "status"), "complete");
  EXPECT_EQ(raw_dataset<std::uint64_t>(f, "chunks/begin", H5T_NATIVE_UINT64),
            (std::vector<std::uint64_t>{0, 10, 10}));
  EXPECT_EQ(raw_dataset_strings(f, "resumes/previous_status"), std::vector<std::string>{"failed"});
  EXPECT_EQ(raw_dataset_strings(f, "resumes/previous_error"),
            std::vector<std::string>{"ValueError: boom"});
  H5Fclose(f);
  EXPECT_TRUE(OutputFile::check_resume(path, meta()).complete);
  EXPECT_THROW(OutputFile::resume(path, meta()), common::UsageError);  // nothing to resume
  EXPECT_THROW(OutputFile::check_resume(dir / "none.h5", meta()), common::UsageError);
}

TEST(CommonOutput, ResumeRefusesAnotherIdentityNamingWhatDiffers) {
  TempDir dir;
  const auto path = dir / "id.h5";
  {
    OutputFile out = OutputFile::create(path, false, meta());
    out.finish(RunStatus::partial, 1.0);
  }
  auto other = meta();
  other.identity[1].second = "20000000000";
  try {
    OutputFile::check_resume(path, other);
    FAIL() << "accepted another --to";
  } catch (const common::UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("to differs"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("recorded 10000000000, now 20000000000"),
              std::string::npos)
        << e.what();
  }
  auto more = meta();
  more.identity.emplace_back("seed", "7");
  EXPECT_THROW(OutputFile::check_resume(path, more), common::UsageError);
  auto fewer = meta();
  fewer.identity.pop_back();
  EXPECT_THROW(OutputFile::check_resume(path, fewer), common::UsageError);
  EXPECT_NO_THROW(OutputFile::check_resume(path, meta()));
  // Not an HDF5 file (a run that died before its first flush): refused with a hint.
  { std::ofstream(dir / "junk.h5.partial") << "junk"; }
  EXPECT_THROW(OutputFile::check_resume(dir / "junk.h5", meta()), common::UsageError);
}

TEST(CommonOutputLock, OneWriterPerOutputAndStaleLocksAreTakenOver) {
  TempDir dir;
  const auto out = dir / "x.h5";
  const auto lock_file = common::OutputLock::lock_path(out);
  {
    auto lock = common::OutputLock::acquire(out);
    EXPECT_TRUE(std::filesystem::exists(lock_file));
    try {
      common::OutputLock::acquire(out);  // the same pid is alive: refused
      FAIL() << "a second writer got the lock";
    } catch (const common::UsageError& e) {
      EXPECT_NE(std::string(e.what()).find("pid " + std::to_string(::getpid())), std::string::npos)
          << e.what();
    }
  }
  EXPECT_FALSE(std::filesystem::exists(lock_file)) << "released";
  // A holder on this host that is gone: stale, taken over.
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);
  { std::ofstream(lock_file) << common::hostname() << " " << child << " 1\n"; }
  EXPECT_NO_THROW(common::OutputLock::acquire(out));
  // Another node's lock: alive while fresh, stale once it has not been touched for a while.
  { std::ofstream(lock_file) << "othernode 12345 1\n"; }
  EXPECT_THROW(common::OutputLock::acquire(out, 60.0), common::UsageError);
  struct timespec old[2] = {{0, UTIME_OMIT}, {::time(nullptr) - 120, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, lock_file.c_str(), old, 0), 0);
  EXPECT_NO_THROW(common::OutputLock::acquire(out, 60.0));
}

TEST(CommonOutputLock, NamesTheSlurmJobThatHoldsIt) {
  // Inside a Slurm job the lock names the job (slurm/common.sh removes its own dead launch's
  // lock by it); a refusal names it too. Older locks without it still parse.
  TempDir dir;
  const auto out = dir / "job.h5";
  const auto lock_file = common::OutputLock::lock_path(out);
  ::setenv("SLURM_JOB_ID", "4243", 1);
  ::setenv("SLURM_CLUSTER_NAME", "dev", 1);
  {
    auto lock = common::OutputLock::acquire(out);
    std::ifstream in(lock_file);
    std::string host, pid, start, job, cluster, more;
    in >> host >> pid >> start >> job >> cluster;
    EXPECT_EQ(host, common::hostname());
    EXPECT_EQ(pid, std::to_string(::getpid()));
    EXPECT_FALSE(start.empty());
    EXPECT_EQ(job, "slurm_job=4243");
    EXPECT_EQ(cluster, "slurm_cluster=dev");
    EXPECT_FALSE(in >> more);
  }
  ::unsetenv("SLURM_JOB_ID");
  ::unsetenv("SLURM_CLUSTER_NAME");
  EXPECT_FALSE(std::filesystem::exists(lock_file)) << "released";
  { std::ofstream(lock_file) << "othernode 12345 777 slurm_job=99\n"; }
  try {
    common::OutputLock::acquire(out, 60.0);
    FAIL() << "took a fresh lock of another node";
  } catch (const common::UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("othernode, pid 12345, Slurm job 99)"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(common::OutputLock::writer(out, 60.0), common::OutputLock::Writer::alive);
  // A lock without a start time: the Slurm fields are not taken for one (which would make this
  // live pid look like a reused one).
  {
    std::ofstream(lock_file) << common::hostname() << " " << ::getpid()
                             << " slurm_job=5 slurm_cluster=dev\n";
  }
  EXPECT_EQ(common::OutputLock::writer(out, 60.0), common::OutputLock::Writer::alive);
  std::filesystem::remove(lock_file);
}

TEST(CommonOutput, H5pyReadsTheFile) {
  if (::access("/usr/bin/python3", X_OK) != 0) GTEST_SKIP() << "no /usr/bin/python3";
  if (std::system("/usr/bin/python3 -c 'import h5py' >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "no h5py";
  TempDir dir;
  const auto path = dir / "py.h5";
  {
    OutputFile out = OutputFile::create(path, false, meta());
    write_run(out);
    out.result().write_strings("sums", std::vector<std::string>{"0", "21333332533333340000000"});
    out.finish(RunStatus::complete, 1.0);
  }
  const std::string script =
      "import h5py, sys\n"
      "f = h5py.File(sys.argv[1], 'r')\n"
      "a = f.attrs\n"
      "assert a['status'] == 'complete', a['status']\n"
      "assert a['workload'] == 'primes'\n"
      "assert a['ranks'] == 3\n"
      "assert list(a['hosts']) == ['node1'], list(a['hosts'])\n"
      "assert list(f['chunks/begin'][:]) == [0, 100, 200]\n"
      "assert list(f['chunks/status'].asstr()[:]) == ['done'] * 3\n"
      "assert list(f['workers/host'].asstr()[:]) == ['node1'] * 2\n"
      "assert int(f['result/count'][()]) == 455052511\n"
      "assert int(f['result/sums'].asstr()[1]) == 40_000_000 * 39_999_999 * 79_999_999 // 6\n"
      "print('ok')\n";
  const auto script_path = dir / "check.py";
  { std::ofstream(script_path) << script; }
  const std::string cmd =
      "/usr/bin/python3 " + script_path.string() + " " + path.string() + " 2>&1";
  FILE* pipe = ::popen(cmd.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buf[256];
  while (std::fgets(buf, sizeof buf, pipe)) output += buf;
  EXPECT_EQ(::pclose(pipe), 0) << output;
  EXPECT_EQ(output, "ok\n");
}
