#pragma once
// Task functions shared by the MPI tests, registered identically on every rank.

#include <libpool/libpool.hpp>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace pool_tests {

std::int64_t square(std::int64_t x);
std::int64_t power(std::int64_t base, int exp);       // the tutorial's power(base, exp)
std::int64_t divide(std::int64_t a, std::int64_t b);  // throws std::domain_error on b == 0
std::int64_t risky(std::int64_t x);                   // the tutorial's risky_task: throws on x == 5
std::int64_t sleep_then(std::int64_t ms);             // sleeps ms milliseconds, returns ms
std::int64_t spin_for(std::int64_t ms);               // busy for ms milliseconds, returns ms
// Sleeps ms milliseconds on `rank` and other_ms elsewhere; returns the rank it ran on.
int nap_on_rank(int rank, std::int64_t ms, std::int64_t other_ms);
// A stop flag for Options::stop_flag, and a task that returns (its rank, the flag there).
extern volatile std::sig_atomic_t g_stop_flag;
std::pair<int, int> stop_flag_seen(int unused);
// raise(SIGSTOP) on `rank`, once per token; returns the rank it ran on.
int stop_on_rank(int rank, int token);
std::int64_t process_id(int);  // getpid()
int my_rank(int);
std::string greet(const std::string& name, int times);
double sum_vector(const std::vector<double>& v);
std::vector<double> make_vector(std::uint64_t n);
void touch(int);
int throw_non_std(int);

struct Particle {
  std::string name;
  std::vector<double> position;
  std::int64_t id = 0;
  LIBPOOL_FIELDS(name, position, id)
};
Particle move_particle(const Particle& p, double dx);

// Initializer state.
void set_global(std::int64_t value);
void set_thread_value(std::int64_t value);  // thread_local: seen only by the initializer's thread
std::int64_t get_thread_value(std::int64_t);
std::int64_t get_global(std::int64_t);
void fail_on_rank(int rank);
// Succeeds the first time, fails from the second run on `rank` (token: one test's own count).
void fail_second_time_on(int rank, int token);
void count_init();
std::pair<std::int64_t, std::int64_t> init_and_calls(int);  // (inits so far, calls since init)

// Failure matrix: a type whose codec fails where told to.
enum class Where : std::int32_t { Nowhere, Encode, Decode };
struct Boom {
  Where fail_at = Where::Nowhere;
};
Boom echo_boom(const Boom& b);
Boom make_boom(int where);  // returns a Boom that fails at `where`
std::int64_t boom_arg(const Boom&);

// map_spans tasks: sum of (i + offset) over [begin, end); items in [begin, end); throws for the
// chunk holding item `bad`; sleeps (end - begin) ms and returns it.
std::uint64_t span_series(std::uint64_t offset, std::uint64_t begin, std::uint64_t end);
std::uint64_t span_count(std::uint64_t begin, std::uint64_t end);
std::uint64_t span_fail_at(std::uint64_t bad, std::uint64_t begin, std::uint64_t end);
std::uint64_t span_sleep(std::uint64_t begin, std::uint64_t end);

// Remote exception types: what throw_kind throws. Those with a message say "thrown on rank R".
enum class Thrown : int {
  Nothing,            // returns 0
  InvalidArgument,    // std::invalid_argument
  OutOfRange,         // std::out_of_range
  ModelError,         // pool_tests::ModelError, derived from std::runtime_error
  BadAlloc,           // std::bad_alloc
  StdException,       // std::exception itself
  BadOptionalAccess,  // std::bad_optional_access
  BadVariantAccess,   // std::bad_variant_access
  BadCast,            // std::bad_cast
  Int,                // an int
  NotAnException,     // pool_tests::NotAnException, derived from nothing
  ToolError,          // pool_tests::ToolError, derived from libpool::Error
};
struct ModelError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct NotAnException {
  int code = 0;
};
struct ToolError : libpool::Error {
  using libpool::Error::Error;
};
int throw_kind(int kind);  // throws what Thrown(kind) says
// map_spans: throws what Thrown(kind) says for the chunk holding item `bad`; else its item count.
std::uint64_t span_throw_kind(int kind, std::uint64_t bad, std::uint64_t begin, std::uint64_t end);

libpool::Registry make_registry();

// Shared by every test file: the registry (made once), this job's size and rank, and a clock.
const libpool::Registry& registry();
int world_size();
int world_rank();
double seconds_since(std::chrono::steady_clock::time_point t0);

}  // namespace pool_tests

template <>
struct libpool::Codec<pool_tests::Boom> {
  static void encode(Writer& w, const pool_tests::Boom& b) {
    if (b.fail_at == pool_tests::Where::Encode) throw std::runtime_error("boom while encoding");
    w.put(static_cast<std::int32_t>(b.fail_at));
  }
  static pool_tests::Boom decode(Reader& r) {
    const auto where = static_cast<pool_tests::Where>(r.get<std::int32_t>());
    if (where == pool_tests::Where::Decode) throw std::runtime_error("boom while decoding");
    return pool_tests::Boom{where};
  }
};
