#include "libpool/errors.hpp"

#include <mpi.h>

#include <charconv>
#include <cstdio>
#include <utility>

namespace libpool {

namespace {
std::string mpi_message(const std::string& call, int code) {
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(code, text, &len) != MPI_SUCCESS) len = 0;
  return call +
         " failed: " + (len > 0 ? std::string(text, len) : "MPI error " + std::to_string(code));
}

// ", chunk 412 (items 41200..41299)" for a map's chunk, ", submit #7" for the eighth submit.
std::string which_work(const RemoteErrorInfo& i) {
  if (i.item_count > 0) {
    return ", chunk " + std::to_string(i.chunk) + " (items " + std::to_string(i.item_begin) + ".." +
           std::to_string(i.item_begin + i.item_count - 1) + ")";
  }
  return ", submit #" + std::to_string(i.chunk);
}

std::string remote_message(const RemoteErrorInfo& i) {
  const std::string where = "worker " + std::to_string(i.rank) + " of " + std::to_string(i.ranks) +
                            " on " + i.host + ", task " + i.task + which_work(i);
  return where + ": " + i.type + ": " + i.message;
}

std::string seconds(double s) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f s", s);
  return text;
}

// A limit the user set, as given: the shortest text that reads back to it (0.25 s, not 0.2 s).
std::string limit_seconds(double s) {
  char text[32];
  const auto r = std::to_chars(text, text + sizeof text - 2, s);
  return std::string(text, r.ptr) + " s";
}

std::string lost_message(int rank, const std::string& host, double silent_s) {
  return "rank " + std::to_string(rank) + " on " + host +
         " stopped answering (nothing received for " + seconds(silent_s) + ")";
}

std::string timeout_message(const RemoteErrorInfo& i, double limit_s, double elapsed_s) {
  return "rank " + std::to_string(i.rank) + " on " + i.host + ": task " +
         (i.task.empty() ? std::string("?") : i.task) + which_work(i) +
         " exceeded the task timeout of " + limit_seconds(limit_s) + " (running for " +
         seconds(elapsed_s) + ")";
}
}  // namespace

MpiError::MpiError(const std::string& call, int code)
    : Error(mpi_message(call, code)), code_(code) {}

RemoteInfo::RemoteInfo(RemoteErrorInfo info) {
  std::string what = remote_message(info);
  shared_ = std::make_shared<const Shared>(Shared{std::move(info), std::move(what)});
}

RemoteError::RemoteError(RemoteErrorInfo info) : RemoteError(RemoteInfo(std::move(info))) {}

RemoteError::RemoteError(const RemoteInfo& r) : Error(r.description()), RemoteInfo(r) {}

WorkerLost::WorkerLost(int rank, std::string host, double silent_s)
    : BrokenPool(lost_message(rank, host, silent_s)),
      rank_(rank),
      host_(std::move(host)),
      silent_s_(silent_s) {}

TaskTimeout::TaskTimeout(RemoteErrorInfo where, double limit_s, double elapsed_s)
    : BrokenPool(timeout_message(where, limit_s, elapsed_s)),
      info_(std::move(where)),
      limit_s_(limit_s),
      elapsed_s_(elapsed_s) {}

}  // namespace libpool
