// The table of built-in workloads (workloads.def) as the program's list.
#include "poolrun.hpp"

namespace poolrun {

#define POOLRUN_WORKLOAD(name) std::unique_ptr<libpool::batch::Workload> make_##name();
#include "workloads.def"
#undef POOLRUN_WORKLOAD

std::vector<std::unique_ptr<libpool::batch::Workload>> builtin_workloads() {
  std::vector<std::unique_ptr<libpool::batch::Workload>> w;
#define POOLRUN_WORKLOAD(name) w.push_back(make_##name());
#include "workloads.def"
#undef POOLRUN_WORKLOAD
  return w;
}

}  // namespace poolrun
