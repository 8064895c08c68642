// GoogleTest under MPI: every rank runs the same test list (executors are collective), rank 0
// prints the usual report, other ranks print only their failures, and the exit code is the
// worst over all ranks, so a failure anywhere fails the CTest test.

#include <gtest/gtest.h>
#include <mpi.h>

#include <cstdio>

#include "libpool/environment.hpp"

namespace {

class RankFailurePrinter : public testing::EmptyTestEventListener {
 public:
  explicit RankFailurePrinter(int rank) : rank_(rank) {}
  void OnTestPartResult(const testing::TestPartResult& r) override {
    if (!r.failed()) return;
    std::fprintf(stderr, "[rank %d] %s:%d: Failure\n%s\n", rank_,
                 r.file_name() ? r.file_name() : "?", r.line_number(), r.summary());
  }

 private:
  int rank_;
};

}  // namespace

int main(int argc, char** argv) {
  libpool::Environment env(argc, argv);
  testing::InitGoogleTest(&argc, argv);
  if (env.rank() != 0) {
    auto& listeners = testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
    listeners.Append(new RankFailurePrinter(env.rank()));
  }
  int local = RUN_ALL_TESTS();
  int worst = 0;
  MPI_Allreduce(&local, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (env.rank() == 0 && worst != 0 && local == 0) {
    std::fprintf(stderr, "a test failed on another rank (see its [rank N] lines)\n");
  }
  return worst;
}
