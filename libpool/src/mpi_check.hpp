#pragma once
// Every MPI call in libpool goes through LIBPOOL_MPI: the pool's communicator returns errors
// (MPI_ERRORS_RETURN) and this turns them into MpiError naming the call.

#include <mpi.h>

#include "libpool/errors.hpp"

namespace libpool::detail {

inline void mpi_check(int rc, const char* call) {
  if (rc != MPI_SUCCESS) throw MpiError(call, rc);
}

}  // namespace libpool::detail

#define LIBPOOL_MPI(call) ::libpool::detail::mpi_check((call), #call)
