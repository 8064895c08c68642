// poolrun factor: the smallest prime factor of each number (0 means prime), one task each,
// results taken as they complete and stored in input order.
#include <filesystem>
#include <iostream>

#include "common/cli.hpp"
#include "common/errors.hpp"
#include "common/h5.hpp"
#include "kernels/factor.hpp"
#include "poolrun.hpp"

namespace poolrun {

std::uint64_t smallest_factor_task(std::uint64_t n) {
  return kernels::smallest_factor(n);
}

void register_factor(libpool::Registry& registry) {
  registry.add("poolrun.smallest_factor", smallest_factor_task);
}

namespace {

class Factor final : public Workload {
 public:
  const char* name() const override { return "factor"; }
  const char* description() const override {
    return "smallest prime factor of each number, 0 for a prime (smallest_factor)";
  }
  void add_options(CLI::App& sub) override {
    auto* numbers = common::cli::add_u64_list(sub, "--numbers", numbers_, "The numbers to factor");
    auto* input = common::cli::add_dataset_spec(sub, "--input", input_,
                                                "A 1-D unsigned or non-negative integer dataset");
    numbers->excludes(input);
    input_opt_ = input;
  }
  void validate(const CommonOptions&) const override {
    if (input_opt_->count() > 0) {
      load_input();
      return;
    }
    if (numbers_.empty())
      throw common::UsageError("give --numbers N1,N2,... or --input FILE.h5:/DSET");
  }

  int run(Run& run) override {
    if (input_opt_->count() > 0) numbers_ = load_input();
    const std::size_t n = numbers_.size();
    std::vector<std::uint64_t> factors(n, 0);
    std::vector<std::uint64_t> order;  // input positions in completion order
    std::uint64_t next_index = 0;
    const bool show = !run.quiet() && n <= 20;
    run.start_progress("factor", n);
    const bool ok = run_chunks<std::uint64_t>(
        run,
        [&]() -> std::optional<Span> {
          if (next_index >= n) return std::nullopt;
          ++next_index;
          return Span{next_index - 1, next_index};
        },
        [&](Span s) { return run.pool().submit(smallest_factor_task, numbers_[s.begin]); },
        [&](Span s, const std::uint64_t& f) {
          factors[s.begin] = f;
          order.push_back(s.begin);
          if (show)
            std::cout << "  " << numbers_[s.begin] << ": "
                      << (f == 0 ? std::string("prime") : std::to_string(f)) << '\n'
                      << std::flush;
        });
    if (ok) {
      auto& result = run.out().result();
      result.write_dataset("number", numbers_);
      result.write_dataset("smallest_factor", factors);
      result.write_dataset("completion_order", order);
    }
    const double wall = run.elapsed();
    const int code = run.finish();
    if (!run.quiet() && code == exit_complete) {
      const auto primes = std::count(factors.begin(), factors.end(), std::uint64_t{0});
      std::cout << "factor: " << n << " numbers, " << primes << " prime (smallest_factor 0)\n  on "
                << run.pool().size() << " rank(s) in " << human_seconds(wall) << ", "
                << human_rate(static_cast<double>(n) / wall, "numbers/s") << " -> "
                << run.options().output << '\n';
    }
    return code;
  }

 private:
  // The --input dataset's values; UsageError when it is missing, not 1-D, not integers, negative
  // or empty (checked on every rank before any work, read again by the master to run).
  std::vector<std::uint64_t> load_input() const {
    const std::string what = "--input " + input_.str();
    if (!std::filesystem::exists(input_.file)) throw common::UsageError(what + ": no such file");
    try {
      auto file = h5::File::open(input_.file);
      if (!file.exists(input_.dataset) || !file.is_dataset(input_.dataset))
        throw common::UsageError(what + ": no such dataset");
      auto d = file.open_dataset(input_.dataset);
      if (d.ndim() != 1) throw common::UsageError(what + ": expected a 1-D dataset");
      const auto t = d.dtype();
      const bool is_unsigned = t == h5::Dtype::uint8 || t == h5::Dtype::uint16 ||
                               t == h5::Dtype::uint32 || t == h5::Dtype::uint64;
      const bool is_signed = t == h5::Dtype::int8 || t == h5::Dtype::int16 ||
                             t == h5::Dtype::int32 || t == h5::Dtype::int64;
      if (!is_unsigned && !is_signed)
        throw common::UsageError(what + ": expected integers, found " +
                                 std::string(h5::to_string(t)));
      if (d.num_elements() == 0) throw common::UsageError(what + ": the dataset is empty");
      if (is_signed) {
        for (auto v : d.read<std::int64_t>())
          if (v < 0) throw common::UsageError(what + ": negative value " + std::to_string(v));
      }
      return d.read<std::uint64_t>();
    } catch (const h5::Error& e) {
      throw common::UsageError(what + ": cannot read it (" + e.call() + ")");
    }
  }

  std::vector<std::uint64_t> numbers_;
  common::cli::DatasetSpec input_;
  CLI::Option* input_opt_ = nullptr;
};

}  // namespace

std::unique_ptr<Workload> make_factor() {
  return std::make_unique<Factor>();
}

}  // namespace poolrun
