// The table of built-in workloads: adding one is its file plus one line here.
#include "poolrun.hpp"

namespace poolrun {

// Each built-in workload's file defines its factory.
std::unique_ptr<libpool::batch::Workload> make_powersum();
std::unique_ptr<libpool::batch::Workload> make_primes();
std::unique_ptr<libpool::batch::Workload> make_pi();
std::unique_ptr<libpool::batch::Workload> make_factor();
std::unique_ptr<libpool::batch::Workload> make_seed();
std::unique_ptr<libpool::batch::Workload> make_thumbnails();

namespace {

// A workload not yet on the public API, with the function that registers its tasks.
class WithTasks final : public Workload {
 public:
  WithTasks(std::unique_ptr<Workload> inner, void (*tasks)(libpool::Registry&))
      : inner_(std::move(inner)), tasks_(tasks) {}
  std::string name() const override { return inner_->name(); }
  std::string description() const override { return inner_->description(); }
  void add_options(CLI::App& sub) override { inner_->add_options(sub); }
  void validate(const CommonOptions& o) const override { inner_->validate(o); }
  void adjust_options(CommonOptions& o) override { inner_->adjust_options(o); }
  void register_tasks(libpool::Registry& registry) const override { tasks_(registry); }
  void setup() override { inner_->setup(); }
  void configure(libpool::Options& o) const override { inner_->configure(o); }
  common::Identity identity() const override { return inner_->identity(); }
  std::vector<std::string> input_files() const override { return inner_->input_files(); }
  int run(Run& run) override { return inner_->run(run); }

 private:
  std::unique_ptr<Workload> inner_;
  void (*tasks_)(libpool::Registry&);
};

}  // namespace

std::vector<std::unique_ptr<Workload>> builtin_workloads() {
  using libpool::batch::detail::adapt;
  std::vector<std::unique_ptr<Workload>> w;
  w.push_back(adapt(make_powersum()));
  w.push_back(adapt(make_primes()));
  w.push_back(adapt(make_pi()));
  w.push_back(adapt(make_factor()));
  w.push_back(adapt(make_seed()));
  w.push_back(std::make_unique<WithTasks>(make_datagen(), register_datagen));
  w.push_back(std::make_unique<WithTasks>(make_stats(), register_stats));
  w.push_back(adapt(make_thumbnails()));
  return w;
}

}  // namespace poolrun
