/* MPI ping-pong between ranks 0 and 1: the round-trip floor of this machine's MPI, printed as
 * round trips per second. Plain C, blocking calls, as a bare reference for the pool. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  const int n = argc > 1 ? atoi(argv[1]) : 200000;
  long payload = 0;
  for (int warm = 0; warm < 2; ++warm) {
    MPI_Barrier(MPI_COMM_WORLD);
    const double t0 = MPI_Wtime();
    for (int i = 0; i < n; ++i) {
      if (rank == 0) {
        MPI_Send(&payload, 1, MPI_LONG, 1, 0, MPI_COMM_WORLD);
        MPI_Recv(&payload, 1, MPI_LONG, 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      } else if (rank == 1) {
        MPI_Recv(&payload, 1, MPI_LONG, 0, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        ++payload;
        MPI_Send(&payload, 1, MPI_LONG, 0, 0, MPI_COMM_WORLD);
      }
    }
    const double dt = MPI_Wtime() - t0;
    if (rank == 0 && warm == 1) {
      printf("mode=pingpong n=%d wall_s=%.4f rate=%.0f rtt_us=%.3f\n", n, dt, n / dt, 1e6 * dt / n);
    }
  }
  MPI_Finalize();
  return payload == 2L * n ? 0 : 1;
}
