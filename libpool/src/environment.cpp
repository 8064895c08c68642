#include "libpool/environment.hpp"

#include "mpi_check.hpp"

namespace libpool {

Environment::Environment(int& argc, char**& argv) {
  init(&argc, &argv);
}
Environment::Environment() {
  init(nullptr, nullptr);
}

void Environment::init(int* argc, char*** argv) {
  int initialised = 0;
  LIBPOOL_MPI(MPI_Initialized(&initialised));
  if (initialised) {
    LIBPOOL_MPI(MPI_Query_thread(&thread_level_));
  } else {
    // FUNNELED: only the main thread calls MPI; rank 0's task thread never does.
    LIBPOOL_MPI(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &thread_level_));
    owns_ = true;
  }
  LIBPOOL_MPI(MPI_Comm_rank(MPI_COMM_WORLD, &rank_));
  LIBPOOL_MPI(MPI_Comm_size(MPI_COMM_WORLD, &size_));
  host_ = processor_name();
}

Environment::~Environment() {
  if (!owns_) return;
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

std::string processor_name() {
  char name[MPI_MAX_PROCESSOR_NAME];
  int len = 0;
  LIBPOOL_MPI(MPI_Get_processor_name(name, &len));
  return std::string(name, len);
}

}  // namespace libpool
