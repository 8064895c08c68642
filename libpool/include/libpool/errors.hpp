#pragma once
// One exception base for everything libpool throws, and the few kinds a caller tells apart.
// A task's own exception is re-raised on the master: as Remote<std::...> when it is of a standard
// type (it is the user's exception, not libpool's), as RemoteError otherwise; both are RemoteInfo.

#include <cstdint>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

namespace libpool {

// Base of every exception libpool raises of its own: `catch (const libpool::Error&)` catches them
// all, and a task's exception of no standard type (RemoteError).
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An MPI call returned an error code; what() names the call and MPI's own message.
class MpiError : public Error {
 public:
  MpiError(const std::string& call, int code);
  int code() const noexcept { return code_; }

 private:
  int code_;
};

// Bytes that do not decode into the expected type (truncated, trailing, or out of range).
class CodecError : public Error {
 public:
  using Error::Error;
};

// A task name that is unknown, registered twice, or collides with another name's hash.
class RegistryError : public Error {
 public:
  using Error::Error;
};

// The pool cannot run tasks: an initializer failed, the ranks' registries differ, or it was used
// after shutdown. Every pending future of a broken pool holds this exception.
class BrokenPool : public Error {
 public:
  using Error::Error;
};

// A worker rank stopped answering: the master heard nothing from it (no result, no heartbeat) for
// longer than Options::worker_timeout. The rank may be dead, stopped or unreachable. Breaks the
// pool; every pending future holds this exception. The rank cannot be made to leave: save what you
// need and end the job (libpool::abort_job).
class WorkerLost : public BrokenPool {
 public:
  WorkerLost(int rank, std::string host, double silent_s);
  int rank() const noexcept { return rank_; }
  const std::string& host() const noexcept { return host_; }
  // How long the master had heard nothing from the rank when it gave up on it.
  double silent_seconds() const noexcept { return silent_s_; }

 private:
  int rank_;
  std::string host_;
  double silent_s_;
};

// future.get() on a future that was cancelled.
class CancelledError : public Error {
 public:
  CancelledError() : Error("future was cancelled") {}
};

// A wait with a timeout ran out of time.
class TimeoutError : public Error {
 public:
  TimeoutError() : Error("timed out") {}
  explicit TimeoutError(const std::string& what) : Error(what) {}
};

// What a task threw on a worker, with where it happened. The worker itself survives.
struct RemoteErrorInfo {
  std::string type;              // demangled type of the exception thrown by the task
  std::string std_base;          // the nearest standard type it derives from ("std::logic_error"),
                                 // empty if none (or a libpool::Error): see Remote below
  std::string message;           // its what()
  int rank = -1;                 // the rank that ran the task
  int ranks = 0;                 // the pool's size
  std::string host;              // that rank's processor name
  std::string task;              // registered task name
  std::uint64_t chunk = 0;       // chunk index within a map, or the submit's position (from 0)
  std::uint64_t item_begin = 0;  // first item of the chunk (map only)
  std::uint64_t item_count = 0;  // items in the chunk (map only; 0 for submit)
};

// Where and what a task failed on a worker: a base of every exception that stands for a task's
// failure, whatever its type, so `catch (const libpool::RemoteInfo&)` catches them all. It is not
// itself a std::exception: a Remote<std::invalid_argument> has exactly one std::exception base,
// and `catch (const std::exception&)` still matches it (two would make that catch ambiguous).
// Copies share the text (copying never throws).
class RemoteInfo {
 public:
  explicit RemoteInfo(RemoteErrorInfo info);
  RemoteInfo(const RemoteInfo&) = default;
  RemoteInfo& operator=(const RemoteInfo&) = default;
  virtual ~RemoteInfo() = default;

  const RemoteErrorInfo& info() const noexcept { return shared_->info; }
  const std::string& type() const noexcept { return shared_->info.type; }
  const std::string& message() const noexcept { return shared_->info.message; }
  int rank() const noexcept { return shared_->info.rank; }
  const std::string& host() const noexcept { return shared_->info.host; }
  const std::string& task() const noexcept { return shared_->info.task; }
  std::uint64_t chunk() const noexcept { return shared_->info.chunk; }
  // The exception's what(): "worker 3 of 8 on node17, task primes.count, chunk 412 (items
  // 41200..41299): std::invalid_argument: ..." (not named what(), which would be ambiguous beside
  // std::exception's in the classes below).
  const std::string& description() const noexcept { return shared_->what; }

 private:
  struct Shared {
    RemoteErrorInfo info;
    std::string what;
  };
  std::shared_ptr<const Shared> shared_;
};

// A task's exception of no standard type (an int, a class not derived from std::exception, a
// libpool::Error such as a CodecError while decoding the arguments): a libpool::Error like every
// error of libpool's own.
class RemoteError : public Error, public RemoteInfo {
 public:
  explicit RemoteError(RemoteErrorInfo info);

 private:
  explicit RemoteError(const RemoteInfo& r);
};

// A task's exception of a standard type (std::invalid_argument, std::bad_alloc, ...) or of a user
// type derived from one, re-raised on the master as the nearest standard type, as Python re-raises
// the task's own type: `catch (const std::invalid_argument&)` catches it. The exception is the
// user's, not libpool's, so it is no libpool::Error. type() names the real type; what() is
// description(), the same text a RemoteError gives. The standard types the worker recognises are
// listed in protocol.cpp (std_types).
template <class Std>
class Remote final : public Std, public RemoteInfo {
  static_assert(std::is_base_of_v<std::exception, Std>, "Remote<T>: T is a std::exception type");

 public:
  explicit Remote(RemoteErrorInfo info) : Remote(RemoteInfo(std::move(info))) {}
  // std::bad_alloc and the like take no message: what() is overridden for all of them alike.
  const char* what() const noexcept override { return description().c_str(); }

 private:
  explicit Remote(const RemoteInfo& r) : Std(base(r)), RemoteInfo(r) {}
  static Std base(const RemoteInfo& r) {
    // With a message, a copy sliced to Std (`catch (std::logic_error e)`) keeps the text.
    if constexpr (std::is_constructible_v<Std, const std::string&>) {
      return Std(r.description());
    } else {
      return Std();
    }
  }
};

// The remote part of an exception caught as a standard type, or nullptr if it did not come from
// a task on a worker: `catch (const std::exception& e) { if (auto* r = libpool::remote_info(e))
// ... r->rank() ... }`.
inline const RemoteInfo* remote_info(const std::exception& e) noexcept {
  return dynamic_cast<const RemoteInfo*>(&e);
}

// A task ran longer than Options::task_timeout. Breaks the pool; every pending future holds this
// exception. The task cannot be interrupted and its rank stays busy until it returns: save what you
// need and end the job (libpool::abort_job). info() says where: rank, host, task, chunk or work id
// (its type and message are empty).
class TaskTimeout : public BrokenPool {
 public:
  TaskTimeout(RemoteErrorInfo where, double limit_s, double elapsed_s);
  const RemoteErrorInfo& info() const noexcept { return info_; }
  int rank() const noexcept { return info_.rank; }
  const std::string& host() const noexcept { return info_.host; }
  const std::string& task() const noexcept { return info_.task; }
  std::uint64_t chunk() const noexcept { return info_.chunk; }
  double limit_seconds() const noexcept { return limit_s_; }
  // How long the task had run when the limit was noticed.
  double elapsed_seconds() const noexcept { return elapsed_s_; }

 private:
  RemoteErrorInfo info_;
  double limit_s_;
  double elapsed_s_;
};

}  // namespace libpool
