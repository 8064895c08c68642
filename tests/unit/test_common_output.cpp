// The output writer (PRODUCT.md §4): layout, refusal of existing files, crash safety, resume.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "common/errors.hpp"
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
  return m;
}

void write_run(OutputFile& out) {
  out.result().write_scalar("count", std::uint64_t{455052511});
  out.append_chunk({0, 100, 1, 0.1, 0.2, 1, "done"});
  out.append_chunk({100, 200, 2, 0.15, 0.3, 1, "done"});
  out.flush();
  out.append_chunk({200, 300, 1, 0.2, 0.4, 2, "done"});
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
    out.append_chunk({0, 10, 1, 0, 1, 1, "done"});
    out.flush();
    out.append_chunk({10, 20, 1, 1, 2, 1, "done"});  // buffered: the destructor keeps it
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

TEST(CommonOutput, KilledProcessLeavesOnlyRunningPartial) {
  TempDir dir;
  const auto path = dir / "killed.h5";
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    try {
      OutputFile out = OutputFile::create(path, false, meta());
      out.append_chunk({0, 10, 1, 0, 1, 1, "done"});
      out.flush();
    } catch (...) {
      ::_exit(3);
    }
    ::_exit(0);  // no destructors, no finish: like a crash right after a flush
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  EXPECT_FALSE(std::filesystem::exists(path));
  const hid_t f = raw_open(dir / "killed.h5.partial");
  ASSERT_GE(f, 0);
  EXPECT_EQ(raw_attr_string(f, ".", "status"), "running");
  EXPECT_EQ(raw_dataset<std::uint64_t>(f, "chunks/end", H5T_NATIVE_UINT64),
            std::vector<std::uint64_t>{10});
  H5Fclose(f);
}

TEST(CommonOutput, FailedRunRecordsError) {
  TempDir dir;
  const auto path = dir / "failed.h5";
  {
    OutputFile out = OutputFile::create(path, false, meta());
    out.append_chunk({0, 10, 1, 0, 1, 1, "done"});
    out.append_chunk({10, 20, 2, 0, 1, 1, "failed"});
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
    out.append_chunk({0, 10, 1, 0, 1, 1, "done"});
    out.finish(RunStatus::partial, 1.0);
  }
  {
    OutputFile out = OutputFile::resume(path);
    EXPECT_EQ(out.file().attr_string("config"), "to = 10000000000\n");
    const auto rows = out.chunks();
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].end, 10u);
    EXPECT_EQ(rows[0].status, "done");
    out.append_chunk({10, 20, 2, 1.5, 2, 1, "done"});
    out.result().write_scalar("count", std::uint64_t{4});
    out.finish(RunStatus::complete, 3.0);
  }
  const hid_t f = raw_open(path);
  EXPECT_EQ(raw_attr_string(f, ".", "status"), "complete");
  EXPECT_EQ(raw_dataset<std::uint64_t>(f, "chunks/begin", H5T_NATIVE_UINT64),
            (std::vector<std::uint64_t>{0, 10}));
  H5Fclose(f);
  EXPECT_THROW(OutputFile::resume(path), common::UsageError);  // complete: nothing to resume
  EXPECT_THROW(OutputFile::resume(dir / "none.h5"), common::UsageError);
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
