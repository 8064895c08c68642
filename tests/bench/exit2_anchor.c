/* The anchor for how fast a rejected poolrun job ends: the smallest MPI program whose ranks all
 * exit 2, the way poolrun's ranks leave on a usage error (MPI_Init, MPI_Finalize, exit 2, no
 * MPI_Abort). Under Open MPI 4.1's mpirun such a job ends 1-2 s later than one that exits 0:
 * the first non-zero exit makes mpirun give every rank it has not yet reaped a SIGTERM and a
 * SIGKILL, each after odls_base_sigkill_timeout (1 s). usage_exit.sh times both. */
#include <mpi.h>
#include <stdio.h>

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank == 0) fprintf(stderr, "exit2_anchor: error: rejected\n");
  MPI_Finalize();
  return 2;
}
