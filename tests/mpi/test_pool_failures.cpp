// The failure matrix (after CPython's test_deadlock.py): an error at task encode, task decode,
// execution, result encode and result decode, in the initializer, and a registry mismatch, each
// ends in a clean exception at every rank count, never a hang, and the pool stays usable.

#include <gtest/gtest.h>

#include <stdexcept>

#include "pool_tasks.hpp"

using namespace pool_tests;
using libpool::Executor;
using libpool::Options;

namespace {

// Checks the pool still works on every rank after a failure.
void expect_pool_usable(Executor& ex) {
  std::vector<libpool::Future<std::int64_t>> fs;
  for (int i = 0; i < 4 * ex.size(); ++i) fs.push_back(ex.submit(square, i));
  for (int i = 0; i < 4 * ex.size(); ++i) EXPECT_EQ(fs[i].get(), i * i);
}

}  // namespace

TEST(FailureMatrix, ErrorAtTaskEncode) {
  Executor ex(registry());
  if (!ex.is_master()) return;
  auto f = ex.submit(boom_arg, Boom{Where::Encode});
  EXPECT_TRUE(f.done());
  try {
    f.get();
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "boom while encoding");
  }
  expect_pool_usable(ex);
}

TEST(FailureMatrix, ErrorAtTaskDecode) {
  Executor ex(registry());
  if (!ex.is_master()) return;
  try {
    ex.submit(boom_arg, Boom{Where::Decode}).get();
    FAIL();
  } catch (const std::runtime_error& e) {
    // The codec's own exception, re-raised as its standard type.
    const libpool::RemoteInfo* r = libpool::remote_info(e);
    ASSERT_NE(r, nullptr) << e.what();
    EXPECT_EQ(r->type(), "std::runtime_error");
    EXPECT_EQ(r->message(), "boom while decoding (decoding arguments)");
  }
  expect_pool_usable(ex);
}

TEST(FailureMatrix, ErrorAtExecution) {
  Executor ex(registry());
  if (!ex.is_master()) return;
  EXPECT_THROW(ex.submit(divide, 1, 0).get(), std::domain_error);
  expect_pool_usable(ex);
}

TEST(FailureMatrix, ErrorAtResultEncode) {
  Executor ex(registry());
  if (!ex.is_master()) return;
  try {
    ex.submit(make_boom, static_cast<int>(Where::Encode)).get();
    FAIL();
  } catch (const std::runtime_error& e) {
    const libpool::RemoteInfo* r = libpool::remote_info(e);
    ASSERT_NE(r, nullptr) << e.what();
    EXPECT_EQ(r->type(), "std::runtime_error");
    EXPECT_EQ(r->message(), "boom while encoding (encoding result)");
  }
  expect_pool_usable(ex);
}

TEST(FailureMatrix, ErrorAtResultDecode) {
  Executor ex(registry());
  if (!ex.is_master()) return;
  auto f = ex.submit(make_boom, static_cast<int>(Where::Decode));
  try {
    f.get();
    FAIL();
  } catch (const libpool::RemoteInfo&) {
    FAIL() << "the result decodes on the master: a local exception, not a remote one";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "boom while decoding");
  }
  expect_pool_usable(ex);
}

TEST(FailureMatrix, ErrorsInsideMapChunks) {
  Executor ex(registry());
  if (!ex.is_master()) return;
  // Result decode fails for item 3: the map raises there, after items 0..2.
  std::vector<int> where = {0, 0, 0, static_cast<int>(Where::Decode), 0};
  std::vector<int> seen;
  auto r = ex.map(make_boom, {.chunksize = 1}, where);
  EXPECT_THROW(
      {
        for (const auto& b : r) seen.push_back(static_cast<int>(b.fail_at));
      },
      std::runtime_error);
  EXPECT_EQ(seen.size(), 3u);
  // Result encode fails on the worker: a remote error for the chunk.
  std::vector<int> enc = {0, static_cast<int>(Where::Encode)};
  EXPECT_THROW(ex.map(make_boom, {.chunksize = 2}, enc).to_vector(), libpool::RemoteInfo);
  // Argument encode fails on the master, while the chunk is built.
  std::vector<Boom> args = {Boom{}, Boom{Where::Encode}};
  EXPECT_THROW(ex.map(echo_boom, args).to_vector(), std::runtime_error);
  expect_pool_usable(ex);
}

TEST(FailureMatrix, InitializerThatIsNotRegistered) {
  static void (*unregistered)(int) = +[](int) {};
  Options opt;
  opt.initializer(unregistered, 1);
  EXPECT_THROW(Executor(registry(), opt), libpool::BrokenPool);
  Executor ex(registry());
  if (ex.is_master()) {
    expect_pool_usable(ex);
  }
}

TEST(FailureMatrix, RegistryMismatchBetweenRanks) {
  if (world_size() == 1) GTEST_SKIP() << "needs two ranks to disagree";
  libpool::Registry r = make_registry();
  static std::int64_t (*extra)(std::int64_t) = +[](std::int64_t x) { return x + 1; };
  if (world_rank() == world_size() - 1) r.add("test.only_on_last_rank", extra);
  try {
    Executor ex(r);
    ADD_FAILURE() << "pool started with different registries";
  } catch (const libpool::BrokenPool& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("registries differ"), std::string::npos) << what;
    EXPECT_NE(what.find(std::to_string(world_size() - 1)), std::string::npos) << what;
  }
  Executor ex(registry());
  if (ex.is_master()) {
    expect_pool_usable(ex);
  }
}

TEST(FailureMatrix, InitializerFailureAfterMaxTasksBreaksThePool) {
  // Every initializer succeeds at start; the last rank's second run (after 2 tasks) fails. Work
  // that was pending then fails with BrokenPool, and the pool refuses new work.
  if (world_size() == 1) GTEST_SKIP() << "the failing rank must be a worker";
  Options opt;
  opt.initializer(fail_second_time_on, world_size() - 1, 1);
  opt.max_tasks_per_worker = 2;
  Executor ex(registry(), opt);
  if (!ex.is_master()) return;
  std::vector<libpool::Future<std::int64_t>> fs;
  for (int i = 0; i < 40; ++i) fs.push_back(ex.submit(sleep_then, 5));
  int broken = 0, ok = 0;
  for (auto& f : fs) {
    try {
      EXPECT_EQ(f.get(), 5);
      ++ok;
    } catch (const libpool::BrokenPool& e) {
      ++broken;
      EXPECT_NE(std::string(e.what()).find("disk went away"), std::string::npos) << e.what();
    }
  }
  EXPECT_GE(broken, 1);
  EXPECT_EQ(ok + broken, 40);
  EXPECT_THROW(ex.submit(square, 1), libpool::BrokenPool);
}
