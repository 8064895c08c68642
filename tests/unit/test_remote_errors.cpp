// Serial: which standard type a task's exception is re-raised as (the worker's nearest_std_base,
// the error payload, the master's make_remote_error), for every standard type libpool knows.

#include <gtest/gtest.h>
#include <libpool/detail/protocol.hpp>
#include <libpool/libpool.hpp>

#include <any>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>
#include <typeinfo>
#include <variant>
#include <vector>

namespace {

using libpool::RemoteErrorInfo;
using libpool::detail::make_remote_error;
using libpool::detail::nearest_std_base;

// One std::exception base: `catch (const std::exception&)` must match every remote error.
static_assert(!std::is_base_of_v<std::exception, libpool::RemoteInfo>);
static_assert(std::is_base_of_v<libpool::Error, libpool::RemoteError>);
static_assert(!std::is_base_of_v<libpool::Error, libpool::Remote<std::runtime_error>>);

struct UserError : std::overflow_error {
  using std::overflow_error::overflow_error;
};
struct ToolError : libpool::Error {
  using libpool::Error::Error;
};

template <class T>
bool caught_as(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const T&) {
    return true;
  } catch (...) {
  }
  return false;
}

struct Case {
  std::exception_ptr thrown;                  // what a task throws
  std::string std_base;                       // nearest_std_base's answer
  bool (*caught)(const std::exception_ptr&);  // whether the master's exception is that type
};

template <class T>
Case thrown(T e, std::string std_base) {
  return {std::make_exception_ptr(std::move(e)), std::move(std_base), &caught_as<T>};
}

std::vector<Case> cases() {
  return {
      thrown(std::invalid_argument("m"), "std::invalid_argument"),
      thrown(std::domain_error("m"), "std::domain_error"),
      thrown(std::length_error("m"), "std::length_error"),
      thrown(std::out_of_range("m"), "std::out_of_range"),
      thrown(std::logic_error("m"), "std::logic_error"),
      {std::make_exception_ptr(std::future_error(std::future_errc::broken_promise)),
       "std::logic_error", &caught_as<std::logic_error>},
      thrown(std::range_error("m"), "std::range_error"),
      thrown(std::overflow_error("m"), "std::overflow_error"),
      thrown(std::underflow_error("m"), "std::underflow_error"),
      thrown(std::runtime_error("m"), "std::runtime_error"),
      {std::make_exception_ptr(std::system_error(std::make_error_code(std::errc::io_error))),
       "std::runtime_error", &caught_as<std::runtime_error>},
      {std::make_exception_ptr(UserError("m")), "std::overflow_error",
       &caught_as<std::overflow_error>},
      thrown(std::bad_array_new_length(), "std::bad_array_new_length"),
      thrown(std::bad_alloc(), "std::bad_alloc"),
      thrown(std::bad_any_cast(), "std::bad_any_cast"),
      thrown(std::bad_cast(), "std::bad_cast"),
      thrown(std::bad_typeid(), "std::bad_typeid"),
      thrown(std::bad_optional_access(), "std::bad_optional_access"),
      thrown(std::bad_variant_access(), "std::bad_variant_access"),
      thrown(std::bad_function_call(), "std::bad_function_call"),
      thrown(std::bad_weak_ptr(), "std::bad_weak_ptr"),
      thrown(std::bad_exception(), "std::bad_exception"),
      thrown(std::exception(), "std::exception"),
      // libpool's own errors stay libpool errors, though they are runtime_errors.
      {std::make_exception_ptr(libpool::CodecError("m")), "", &caught_as<libpool::RemoteError>},
      {std::make_exception_ptr(ToolError("m")), "", &caught_as<libpool::RemoteError>},
  };
}

std::string base_of(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return nearest_std_base(e);
  }
}

RemoteErrorInfo where() {
  RemoteErrorInfo info;
  info.type = "some::Type";
  info.message = "went wrong";
  info.rank = 3;
  info.ranks = 8;
  info.host = "node17";
  info.task = "primes.count";
  info.chunk = 412;
  info.item_begin = 41200;
  info.item_count = 100;
  return info;
}

const char* kWhat =
    "worker 3 of 8 on node17, task primes.count, chunk 412 (items 41200..41299): some::Type: "
    "went wrong";

}  // namespace

TEST(RemoteErrors, TheWorkerNamesTheNearestStandardBase) {
  for (const auto& c : cases()) EXPECT_EQ(base_of(c.thrown), c.std_base);
}

TEST(RemoteErrors, TheMasterRaisesThatTypeWithTheRemoteText) {
  for (const auto& c : cases()) {
    // Through the payload, as a worker sends it.
    libpool::Writer w;
    libpool::detail::write_error(w, "some::Type", base_of(c.thrown), "went wrong",
                                 libpool::detail::Phase::Run, "node17");
    libpool::Reader r(w.data(), w.size());
    RemoteErrorInfo info = libpool::detail::read_error(r);
    EXPECT_EQ(info.std_base, c.std_base);
    EXPECT_EQ(info.message, "went wrong");
    EXPECT_EQ(info.host, "node17");
    const RemoteErrorInfo full = where();
    info.rank = full.rank;
    info.ranks = full.ranks;
    info.task = full.task;
    info.chunk = full.chunk;
    info.item_begin = full.item_begin;
    info.item_count = full.item_count;

    const std::exception_ptr error = make_remote_error(info);
    EXPECT_TRUE(c.caught(error)) << c.std_base;
    EXPECT_TRUE(caught_as<libpool::RemoteInfo>(error)) << c.std_base;
    EXPECT_EQ(caught_as<libpool::Error>(error), c.std_base.empty()) << c.std_base;
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {  // would not match with two std::exception bases
      EXPECT_STREQ(e.what(), kWhat) << c.std_base;
      const libpool::RemoteInfo* remote = libpool::remote_info(e);
      ASSERT_NE(remote, nullptr) << c.std_base;
      EXPECT_EQ(remote->description(), kWhat);
      EXPECT_EQ(remote->type(), "some::Type");
      EXPECT_EQ(remote->rank(), 3);
      EXPECT_EQ(remote->host(), "node17");
      EXPECT_EQ(remote->task(), "primes.count");
      EXPECT_EQ(remote->chunk(), 412u);
    } catch (...) {
      ADD_FAILURE() << c.std_base << ": not caught as std::exception";
    }
  }
}

TEST(RemoteErrors, AnUnknownBaseIsARemoteError) {
  RemoteErrorInfo info = where();
  info.std_base = "std::not_a_type";
  const std::exception_ptr error = make_remote_error(info);
  EXPECT_TRUE(caught_as<libpool::RemoteError>(error));
  EXPECT_EQ(base_of(std::make_exception_ptr(libpool::RemoteError(where()))), "");
}

TEST(RemoteErrors, CopiesShareTheText) {
  const libpool::Remote<std::bad_alloc> a(where());
  const libpool::Remote<std::bad_alloc> b = a;
  EXPECT_EQ(a.what(), b.what());  // the same buffer, not just equal text
  EXPECT_STREQ(b.what(), kWhat);
  // A copy sliced to a standard type with a message keeps the text.
  const libpool::Remote<std::length_error> l(where());
  const std::logic_error sliced = l;
  EXPECT_STREQ(sliced.what(), kWhat);
  static_assert(std::is_nothrow_copy_constructible_v<libpool::Remote<std::length_error>>);
  static_assert(std::is_nothrow_copy_constructible_v<libpool::RemoteError>);
}
