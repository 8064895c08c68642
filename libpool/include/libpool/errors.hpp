#pragma once
// One exception base for everything libpool throws, and the few kinds a caller tells apart.

#include <cstdint>
#include <stdexcept>
#include <string>

namespace libpool {

// Base of every libpool exception: `catch (const libpool::Error&)` catches them all.
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
  std::string message;           // its what()
  int rank = -1;                 // the rank that ran the task
  int ranks = 0;                 // the pool's size
  std::string host;              // that rank's processor name
  std::string task;              // registered task name
  std::uint64_t chunk = 0;       // chunk index within a map, or the submit's position (from 0)
  std::uint64_t item_begin = 0;  // first item of the chunk (map only)
  std::uint64_t item_count = 0;  // items in the chunk (map only; 0 for submit)
};

class RemoteError : public Error {
 public:
  explicit RemoteError(RemoteErrorInfo info);
  const RemoteErrorInfo& info() const noexcept { return info_; }
  const std::string& type() const noexcept { return info_.type; }
  const std::string& message() const noexcept { return info_.message; }
  int rank() const noexcept { return info_.rank; }
  const std::string& host() const noexcept { return info_.host; }
  const std::string& task() const noexcept { return info_.task; }
  std::uint64_t chunk() const noexcept { return info_.chunk; }

 private:
  RemoteErrorInfo info_;
};

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
