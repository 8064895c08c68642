// The table of built-in workloads: adding one is its file plus one line here.
#include "poolrun.hpp"

namespace poolrun {

// Each built-in workload's file defines its factory.
std::unique_ptr<libpool::batch::Workload> make_powersum();
std::unique_ptr<libpool::batch::Workload> make_primes();
std::unique_ptr<libpool::batch::Workload> make_pi();
std::unique_ptr<libpool::batch::Workload> make_factor();
std::unique_ptr<libpool::batch::Workload> make_seed();
std::unique_ptr<libpool::batch::Workload> make_datagen();
std::unique_ptr<libpool::batch::Workload> make_stats();
std::unique_ptr<libpool::batch::Workload> make_thumbnails();

std::vector<std::unique_ptr<libpool::batch::Workload>> builtin_workloads() {
  std::vector<std::unique_ptr<libpool::batch::Workload>> w;
  w.push_back(make_powersum());
  w.push_back(make_primes());
  w.push_back(make_pi());
  w.push_back(make_factor());
  w.push_back(make_seed());
  w.push_back(make_datagen());
  w.push_back(make_stats());
  w.push_back(make_thumbnails());
  return w;
}

}  // namespace poolrun
