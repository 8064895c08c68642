// A task's exception of a standard type is re-raised on the master as that type (the nearest
// standard base of a user type), as Python re-raises the task's own type; any other is a
// libpool::RemoteError. Every one of them is caught as std::exception (one base, no ambiguity)
// and as libpool::RemoteInfo, and says where it happened.

#include <mpi.h>

#include <gtest/gtest.h>

#include <exception>
#include <functional>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <variant>
#include <vector>

#include "pool_tasks.hpp"

using namespace pool_tests;
using libpool::Executor;
using libpool::RemoteErrorInfo;
using libpool::Span;

namespace {

std::string processor_name() {
  char name[MPI_MAX_PROCESSOR_NAME];
  int len = 0;
  MPI_Get_processor_name(name, &len);
  return std::string(name, static_cast<std::size_t>(len));
}

// Rethrows `error` as Expected, as std::exception and as RemoteInfo: each catch must match, and
// each must see the same remote text. Returns what RemoteInfo says.
template <class Expected>
RemoteErrorInfo expect_remote(const std::exception_ptr& error, const std::string& type) {
  RemoteErrorInfo info;
  if (!error) {
    ADD_FAILURE() << "no exception, expected " << type;
    return info;
  }
  std::string expected_what;
  try {
    std::rethrow_exception(error);
  } catch (const Expected& e) {
    const libpool::RemoteInfo* r = libpool::remote_info(e);
    EXPECT_NE(r, nullptr) << type << ": caught, but without its remote part";
    if (r) expected_what = r->description();
    EXPECT_EQ(std::string(e.what()), expected_what);
  } catch (...) {
    ADD_FAILURE() << type << ": not caught as " << typeid(Expected).name();
  }
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {  // would not match if the object had two std::exception bases
    EXPECT_EQ(std::string(e.what()), expected_what);
  } catch (...) {
    ADD_FAILURE() << type << ": not caught as std::exception";
  }
  try {
    std::rethrow_exception(error);
  } catch (const libpool::RemoteInfo& r) {
    info = r.info();
    EXPECT_EQ(r.type(), type);
    EXPECT_EQ(r.description(), expected_what);
    EXPECT_NE(r.description().find(": " + type + ": " + r.message()), std::string::npos)
        << r.description();
    EXPECT_NE(r.description().find("task " + r.task()), std::string::npos) << r.description();
  } catch (...) {
    ADD_FAILURE() << type << ": not caught as libpool::RemoteInfo";
  }
  // Only a task's exception of no standard type is a libpool error.
  bool is_libpool_error = false;
  try {
    std::rethrow_exception(error);
  } catch (const libpool::Error&) {
    is_libpool_error = true;
  } catch (...) {
  }
  EXPECT_EQ(is_libpool_error, (std::is_same_v<Expected, libpool::RemoteError>)) << type;
  return info;
}

using Check = RemoteErrorInfo (*)(const std::exception_ptr&, const std::string&);

struct Case {
  Thrown kind;
  const char* type;  // the real type's name, as type() gives it
  Check check;       // catches it as the type the master raises
  bool has_message;  // what() says "thrown on rank R"
};

const std::vector<Case>& cases() {
  static const std::vector<Case> all = {
      {Thrown::InvalidArgument, "std::invalid_argument", &expect_remote<std::invalid_argument>,
       true},
      {Thrown::OutOfRange, "std::out_of_range", &expect_remote<std::logic_error>, true},
      {Thrown::ModelError, "pool_tests::ModelError", &expect_remote<std::runtime_error>, true},
      {Thrown::BadAlloc, "std::bad_alloc", &expect_remote<std::bad_alloc>, false},
      {Thrown::StdException, "std::exception", &expect_remote<std::exception>, false},
      {Thrown::BadOptionalAccess, "std::bad_optional_access",
       &expect_remote<std::bad_optional_access>, false},
      {Thrown::BadVariantAccess, "std::bad_variant_access", &expect_remote<std::bad_variant_access>,
       false},
      {Thrown::BadCast, "std::bad_cast", &expect_remote<std::bad_cast>, false},
      {Thrown::Int, "int", &expect_remote<libpool::RemoteError>, false},
      {Thrown::NotAnException, "pool_tests::NotAnException", &expect_remote<libpool::RemoteError>,
       false},
      {Thrown::ToolError, "pool_tests::ToolError", &expect_remote<libpool::RemoteError>, true},
  };
  return all;
}

// Where it happened: a rank of the pool on this host (every test rank runs here), and for the
// tasks that say so in their message, that very rank.
void expect_where(const RemoteErrorInfo& info, const Case& c, const Executor& ex,
                  const std::string& task) {
  EXPECT_EQ(info.task, task) << c.type;
  EXPECT_GE(info.rank, 0) << c.type;
  EXPECT_LT(info.rank, ex.size()) << c.type;
  EXPECT_EQ(info.ranks, ex.size()) << c.type;
  EXPECT_EQ(info.host, processor_name()) << c.type;
  if (c.has_message) {
    EXPECT_EQ(info.message, "thrown on rank " + std::to_string(info.rank)) << c.type;
  }
}

std::exception_ptr error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (...) {
    return std::current_exception();
  }
  return nullptr;
}

}  // namespace

TEST(RemoteTypes, SubmitReRaisesTheNearestStandardType) {
  Executor ex(registry());
  if (!ex.is_master()) return;
  std::vector<libpool::Future<int>> fs;
  for (const auto& c : cases()) fs.push_back(ex.submit(throw_kind, static_cast<int>(c.kind)));
  for (std::size_t i = 0; i < fs.size(); ++i) {
    const Case& c = cases()[i];
    const RemoteErrorInfo info = c.check(error_of([&] { fs[i].get(); }), c.type);
    expect_where(info, c, ex, "test.throw_kind");
    EXPECT_EQ(info.chunk, i) << c.type;  // the submit's position
    EXPECT_EQ(info.item_count, 0u) << c.type;
    // future.exception() holds the same object.
    EXPECT_EQ(c.check(fs[i].exception(), c.type).rank, info.rank) << c.type;
  }
  // The worker carries on.
  EXPECT_EQ(ex.submit(square, 7).get(), 49);
}

TEST(RemoteTypes, NearestBaseOnlyNotASibling) {
  Executor ex(registry());
  if (!ex.is_master()) return;
  const auto out_of_range = ex.submit(throw_kind, static_cast<int>(Thrown::OutOfRange)).exception();
  expect_remote<std::out_of_range>(out_of_range, "std::out_of_range");
  try {
    std::rethrow_exception(out_of_range);
  } catch (const std::invalid_argument&) {
    ADD_FAILURE() << "an out_of_range caught as invalid_argument";
  } catch (const std::runtime_error&) {
    ADD_FAILURE() << "an out_of_range caught as runtime_error";
  } catch (const std::logic_error& e) {
    // A copy sliced to the standard type keeps the remote text.
    const std::logic_error copy = e;
    EXPECT_STREQ(copy.what(), e.what());
  }
  // A user type comes back as its standard base, not as itself (the master cannot build it).
  try {
    ex.submit(throw_kind, static_cast<int>(Thrown::ModelError)).get();
    ADD_FAILURE() << "nothing thrown";
  } catch (const ModelError&) {
    ADD_FAILURE() << "the user's own type cannot be rebuilt on the master";
  } catch (const std::runtime_error& e) {
    ASSERT_NE(libpool::remote_info(e), nullptr);
    EXPECT_EQ(libpool::remote_info(e)->type(), "pool_tests::ModelError");
  }
  // libpool's own error types stay libpool errors: catch (const libpool::Error&) still works.
  try {
    ex.submit(throw_kind, static_cast<int>(Thrown::ToolError)).get();
    ADD_FAILURE() << "nothing thrown";
  } catch (const libpool::RemoteError& e) {
    EXPECT_EQ(e.type(), "pool_tests::ToolError");
    EXPECT_EQ(e.info().std_base, "");
  }
  // A local exception is no RemoteInfo.
  const std::invalid_argument local("here");
  EXPECT_EQ(libpool::remote_info(local), nullptr);
}

TEST(RemoteTypes, MapRaisesTheTypeAtTheFailingChunk) {
  Executor ex(registry());
  if (!ex.is_master()) return;
  for (const auto& c : cases()) {
    // Chunks of 2: [0 1] [2 3] [4]; item 3 fails, so chunk 1 does, after items 0 and 1.
    const std::vector<int> kinds = {0, 0, 0, static_cast<int>(c.kind), 0};
    std::vector<int> seen;
    const auto error = error_of([&] {
      for (int v : ex.map(throw_kind, {.chunksize = 2}, kinds)) seen.push_back(v);
    });
    const RemoteErrorInfo info = c.check(error, c.type);
    expect_where(info, c, ex, "test.throw_kind");
    EXPECT_EQ(info.chunk, 1u) << c.type;
    EXPECT_EQ(info.item_begin, 2u) << c.type;
    EXPECT_EQ(info.item_count, 2u) << c.type;
    EXPECT_EQ(seen.size(), 2u) << c.type;
  }
  EXPECT_EQ(ex.submit(square, 7).get(), 49);
}

TEST(RemoteTypes, MapUnorderedRaisesTheType) {
  Executor ex(registry());
  if (!ex.is_master()) return;
  for (const auto& c : cases()) {
    const std::vector<int> kinds = {0, 0, 0, static_cast<int>(c.kind), 0};
    const auto error =
        error_of([&] { ex.map_unordered(throw_kind, {.chunksize = 2}, kinds).to_vector(); });
    const RemoteErrorInfo info = c.check(error, c.type);
    expect_where(info, c, ex, "test.throw_kind");
    EXPECT_EQ(info.chunk, 1u) << c.type;
    EXPECT_EQ(info.item_begin, 2u) << c.type;
    EXPECT_EQ(info.item_count, 2u) << c.type;
  }
}

TEST(RemoteTypes, MapSpansYieldsTheTypeWithTheChunk) {
  Executor ex(registry());
  if (!ex.is_master()) return;
  for (const auto& c : cases()) {
    auto chunks = ex.map_spans(span_throw_kind, Span{0, 1000}, {.chunksize = 10},
                               static_cast<int>(c.kind), std::uint64_t{250});
    int failed = 0;
    for (auto& chunk : chunks) {
      if (!chunk.error) continue;
      ++failed;
      const RemoteErrorInfo info = c.check(chunk.error, c.type);
      expect_where(info, c, ex, "test.span_throw_kind");
      EXPECT_EQ(info.chunk, chunk.index) << c.type;
      EXPECT_EQ(info.item_begin, chunk.span.begin) << c.type;
      EXPECT_EQ(info.item_count, chunk.span.size()) << c.type;
      EXPECT_TRUE(chunk.span.begin <= 250 && 250 < chunk.span.end) << c.type;
      // value() rethrows the same exception.
      c.check(error_of([&] { chunk.value(); }), c.type);
      chunks.stop();
    }
    EXPECT_EQ(failed, 1) << c.type;
  }
}
