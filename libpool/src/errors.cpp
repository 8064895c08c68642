#include "libpool/errors.hpp"

#include <mpi.h>

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

std::string remote_message(const RemoteErrorInfo& i) {
  std::string where = "worker " + std::to_string(i.rank) + " of " + std::to_string(i.ranks) +
                      " on " + i.host + ", task " + i.task;
  if (i.item_count > 0) {
    where += ", chunk " + std::to_string(i.chunk) + " (items " + std::to_string(i.item_begin) +
             ".." + std::to_string(i.item_begin + i.item_count - 1) + ")";
  } else {
    where += ", work " + std::to_string(i.chunk);
  }
  return where + ": " + i.type + ": " + i.message;
}
}  // namespace

MpiError::MpiError(const std::string& call, int code)
    : Error(mpi_message(call, code)), code_(code) {}

RemoteError::RemoteError(RemoteErrorInfo info)
    : Error(remote_message(info)), info_(std::move(info)) {}

}  // namespace libpool
