#include "libpool/environment.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>

#include "mpi_check.hpp"

namespace libpool {

Environment::Environment(int& argc, char**& argv) {
  init(&argc, &argv);
}
Environment::Environment() {
  init(nullptr, nullptr);
}

namespace {

// Debian's Open MPI probes the UCX transport at start-up before it settles on ob1 where no
// network device wants UCX; that probe is 0.2 s of every run. When all ranks share one node
// (mpirun's local size equals the world size, or a singleton) shared memory is all there is to
// choose, so ask for ob1 directly. Never when the user chose a pml, nor with
// LIBPOOL_MPI_DEFAULTS=0, nor across nodes, where UCX may be the right choice.
void prefer_shared_memory_transport() {
  if (const char* off = std::getenv("LIBPOOL_MPI_DEFAULTS"); off && std::string(off) == "0") return;
  if (std::getenv("OMPI_MCA_pml")) return;
  const char* world = std::getenv("OMPI_COMM_WORLD_SIZE");
  const char* local = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
  const bool singleton = !world && !std::getenv("PMIX_RANK") && !std::getenv("SLURM_JOB_ID");
  if (singleton || (world && local && std::string(world) == local)) {
    setenv("OMPI_MCA_pml", "ob1", 0);
  }
}

}  // namespace

void Environment::init(int* argc, char*** argv) {
  int initialised = 0;
  LIBPOOL_MPI(MPI_Initialized(&initialised));
  if (initialised) {
    LIBPOOL_MPI(MPI_Query_thread(&thread_level_));
  } else {
    prefer_shared_memory_transport();
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

void abort_job(int code) {
  std::fflush(stdout);
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);  // MPI_Abort does not return; if it ever did, the job must still end
}

}  // namespace libpool
