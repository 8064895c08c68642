#pragma once
// RAII for MPI itself: initialises MPI (thread level FUNNELED) unless someone already did, and
// finalises it only if it initialised it.

#include <mpi.h>

#include <string>

namespace libpool {

class Environment {
 public:
  Environment(int& argc, char**& argv);
  Environment();
  ~Environment();
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;

  int rank() const noexcept { return rank_; }
  int size() const noexcept { return size_; }
  const std::string& host() const noexcept { return host_; }
  int thread_level() const noexcept { return thread_level_; }

 private:
  void init(int* argc, char*** argv);
  bool owns_ = false;
  int rank_ = 0;
  int size_ = 1;
  int thread_level_ = MPI_THREAD_SINGLE;
  std::string host_;
};

// The calling process's processor name (MPI_Get_processor_name); MPI must be initialised.
std::string processor_name();

// Ends the whole job: MPI_Abort on MPI_COMM_WORLD with this exit code. For after a WorkerLost or a
// TaskTimeout, once the master has saved what it needs: a stopped or stuck rank cannot be made to
// leave the pool, and MPI_Finalize would wait for it forever.
[[noreturn]] void abort_job(int code = 1);

}  // namespace libpool
