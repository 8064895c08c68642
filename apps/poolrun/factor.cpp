// poolrun factor: the smallest prime factor of each number (0 means prime).
//
// The numbers form an index space cut into chunks (--chunksize; auto: ~64K numbers). A task reads
// its own slab of --input through the file its rank opened once (the pool initializer), or takes
// its numbers from --numbers (every rank parsed the same list), and returns the numbers with
// their factors. The master writes them at their place in /result as chunks complete, in
// coalesced runs, so no rank ever holds the whole input.
#include <filesystem>
#include <iostream>
#include <optional>

#include "common/cli.hpp"
#include "common/errors.hpp"
#include "common/h5.hpp"
#include "kernels/factor.hpp"
#include "poolrun.hpp"

namespace poolrun {

namespace {

// --numbers or --input, on every rank (setup() sets them from that rank's own parse, and opens
// the input once: tasks stay on the MPI thread, where tiny ones run several times faster).
std::vector<std::uint64_t> g_numbers;
common::cli::DatasetSpec g_input_spec;

struct FactorInput {
  h5::File file;
  h5::Dataset dataset;
  std::uint64_t rows = 0;
  bool is_signed = false;
};
FactorInput* g_input = nullptr;  // never closed: HDF5's exit handler does it

const FactorInput& factor_input() {
  if (!g_input) throw std::logic_error("factor: the input was not opened on this rank");
  return *g_input;
}

// A worker reads the input in blocks and serves the chunks inside a block from memory: chunks
// come in order, so --chunksize 1 costs one HDF5 read per block, not one per number.
constexpr std::uint64_t kReadBlock = 1 << 16;
struct BlockCache {
  std::uint64_t begin = 0;
  std::vector<std::uint64_t> values;
  bool holds(std::uint64_t b, std::uint64_t e) const {
    return b >= begin && e <= begin + values.size();
  }
};
thread_local BlockCache t_cache;

// Reads the numbers [b, e) of the input into t_cache.values.
void read_block(const FactorInput& in, std::uint64_t b, std::uint64_t e) {
  const h5::Dataset& d = in.dataset;
  t_cache.values.resize(e - b);
  if (in.is_signed) {
    std::vector<std::int64_t> raw(e - b);
    d.read_slab<std::int64_t>({b}, {e - b}, std::span<std::int64_t>(raw));
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] < 0)
        throw std::domain_error("negative number " + std::to_string(raw[i]) + " at " +
                                std::to_string(b + i));
      t_cache.values[i] = static_cast<std::uint64_t>(raw[i]);
    }
  } else {
    d.read_slab<std::uint64_t>({b}, {e - b}, std::span<std::uint64_t>(t_cache.values));
  }
}

}  // namespace

// The numbers [begin, end) and their smallest factors: numbers first, then factors.
std::vector<std::uint64_t> factor_span_task(std::uint64_t from_input, std::uint64_t begin,
                                            std::uint64_t end) {
  test_delay();
  std::vector<std::uint64_t> out(2 * (end - begin));
  if (from_input != 0) {
    const FactorInput& in = factor_input();
    const std::uint64_t rows = in.rows;
    if (end > rows) throw std::out_of_range("factor: chunk past the end of the input");
    if (!t_cache.holds(begin, end)) {
      // Signed inputs were checked for negatives before the run; read as int64 to check again.
      const std::uint64_t b = begin;
      const std::uint64_t e = std::min(rows, std::max(end, begin + kReadBlock));
      try {
        read_block(in, b, e);
      } catch (const h5::Error& err) {
        throw h5::Error("--input " + g_input_spec.str() + ", rows [" + std::to_string(b) + ", " +
                            std::to_string(e) + ")",
                        err);
      }
      t_cache.begin = b;
    }
    std::copy_n(t_cache.values.begin() + static_cast<std::ptrdiff_t>(begin - t_cache.begin),
                end - begin, out.begin());
  } else {
    if (end > g_numbers.size()) throw std::out_of_range("factor: chunk past the end of --numbers");
    std::copy(g_numbers.begin() + static_cast<std::ptrdiff_t>(begin),
              g_numbers.begin() + static_cast<std::ptrdiff_t>(end), out.begin());
  }
  const std::size_t n = end - begin;
  for (std::size_t i = 0; i < n; ++i) out[n + i] = kernels::smallest_factor(out[i]);
  return out;
}

namespace {

class Factor final : public libpool::batch::Workload {
 public:
  std::string name() const override { return "factor"; }
  std::string description() const override {
    return "smallest prime factor of each number, 0 for a prime (smallest_factor)";
  }
  void options(libpool::batch::Options& o) override {
    auto numbers = o.add("--numbers", numbers_, "The numbers to factor");
    input_opt_.emplace(
        o.add("--input", input_, "A 1-D unsigned or non-negative integer dataset").input());
    numbers.excludes(*input_opt_);
  }
  void check() const override {
    if (from_input()) {
      count_ = check_input_numbers();
      return;
    }
    if (numbers_.empty())
      throw common::UsageError("give --numbers N1,N2,... or --input FILE.h5:/DSET");
    count_ = numbers_.size();
  }
  void tasks(libpool::Registry& registry) const override {
    registry.add("poolrun.factor_span", factor_span_task);
  }
  void setup() override {
    if (!from_input()) {
      g_numbers = numbers_;
      return;
    }
    g_input_spec = {input_.file, input_.dataset};
    auto in = std::make_unique<FactorInput>();
    in->file = h5::File::open(input_.file);
    in->dataset = in->file.open_dataset(input_.dataset);
    in->rows = in->dataset.num_elements();
    const auto t = in->dataset.dtype();
    in->is_signed = t == h5::Dtype::int8 || t == h5::Dtype::int16 || t == h5::Dtype::int32 ||
                    t == h5::Dtype::int64;
    g_input = in.release();
  }

  void run(libpool::batch::Run& run) override {
    const std::uint64_t n = count_;
    // The results go at their place as chunks complete; a chunk's ledger row keeps its primes.
    auto numbers = run.rows<std::uint64_t>("number", n, {}, 1 << 16);
    auto factors = run.rows<std::uint64_t>("smallest_factor", n, {}, 1 << 16);
    const bool show = !run.quiet() && n <= 20;
    const auto primes = run.write_rows(
        {.name = "numbers", .space = {0, n}, .unit = "numbers", .max_chunk = 1 << 16},
        [&](const libpool::Span& span, std::vector<std::uint64_t>& v) {
          const std::size_t k = span.size();
          if (v.size() != 2 * k) throw std::runtime_error("factor: wrong result size");
          const std::span<const std::uint64_t> all(v);
          numbers.write(span.begin, all.first(k));
          factors.write(span.begin, all.subspan(k));
          std::uint64_t p = 0;
          for (std::size_t i = 0; i < k; ++i) {
            p += v[k + i] == 0;
            if (show)
              std::cout << "  " << v[i] << ": "
                        << (v[k + i] == 0 ? std::string("prime") : std::to_string(v[k + i])) << '\n'
                        << std::flush;
          }
          return p;
        },
        factor_span_task, std::uint64_t{from_input() ? 1u : 0u});
    if (!primes) return;
    run.summary("factor: " + std::to_string(n) + " numbers, " + std::to_string(*primes) +
                " prime (smallest_factor 0)");
  }

 private:
  bool from_input() const { return input_opt_->given(); }

  // Checks the --input dataset (1-D, integers, non-empty, no negative value) reading bounded
  // slabs only; returns its length. UsageError otherwise (every rank, before any work).
  std::uint64_t check_input_numbers() const {
    const std::string what = "--input " + input_.str();
    if (!std::filesystem::exists(input_.file)) throw common::UsageError(what + ": no such file");
    try {
      auto file = h5::File::open(input_.file);
      check_finished(file, what);
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
      const std::uint64_t n = d.num_elements();
      if (n == 0) throw common::UsageError(what + ": the dataset is empty");
      if (is_signed) {
        std::vector<std::int64_t> buf;
        for (std::uint64_t b = 0; b < n; b += kReadBlock * 16) {
          const std::uint64_t e = std::min(n, b + kReadBlock * 16);
          buf.resize(e - b);
          d.read_slab<std::int64_t>({b}, {e - b}, std::span<std::int64_t>(buf));
          for (auto v : buf)
            if (v < 0) throw common::UsageError(what + ": negative value " + std::to_string(v));
        }
      }
      return n;
    } catch (const h5::Error& e) {
      throw common::UsageError(what + ": cannot read it, corrupt or truncated? (" + e.what() + ")");
    }
  }

  std::vector<std::uint64_t> numbers_;
  libpool::batch::DatasetSpec input_;
  std::optional<libpool::batch::Option> input_opt_;
  mutable std::uint64_t count_ = 0;
};

}  // namespace

std::unique_ptr<libpool::batch::Workload> make_factor() {
  return std::make_unique<Factor>();
}

}  // namespace poolrun
