#include "pool_tasks.hpp"

#include <mpi.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <new>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <thread>
#include <typeinfo>
#include <variant>

namespace pool_tests {

namespace {
std::int64_t g_value = -1;
thread_local std::int64_t t_value = -1;
std::int64_t g_inits = 0;
std::int64_t g_calls_since_init = 0;
}  // namespace

std::int64_t square(std::int64_t x) {
  return x * x;
}

std::int64_t power(std::int64_t base, int exp) {
  std::int64_t r = 1;
  for (int i = 0; i < exp; ++i) r *= base;
  return r;
}

std::int64_t divide(std::int64_t a, std::int64_t b) {
  if (b == 0) throw std::domain_error("division by zero");
  return a / b;
}

std::int64_t risky(std::int64_t x) {
  if (x == 5) throw std::invalid_argument("Cannot process " + std::to_string(x));
  return x * x;
}

std::int64_t sleep_then(std::int64_t ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}

std::int64_t spin_for(std::int64_t ms) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  volatile std::uint64_t x = 0;
  while (std::chrono::steady_clock::now() < end) {
    for (int i = 0; i < 1000; ++i) x = x + 1;
  }
  return ms;
}

volatile std::sig_atomic_t g_stop_flag = 0;
std::pair<int, int> stop_flag_seen(int) {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return {rank, static_cast<int>(g_stop_flag)};
}

int nap_on_rank(int rank, std::int64_t ms, std::int64_t other_ms) {
  const int me = world_rank();
  std::this_thread::sleep_for(std::chrono::milliseconds(me == rank ? ms : other_ms));
  return me;
}

int stop_on_rank(int rank, int token) {
  // Once per token: after SIGCONT the rank must be able to leave, whatever it still holds.
  static std::atomic<int> last_token{-1};
  const int me = world_rank();
  if (me == rank && last_token.exchange(token) != token) std::raise(SIGSTOP);  // until SIGCONT
  return me;
}

std::int64_t process_id(int) {
  return static_cast<std::int64_t>(getpid());
}

int my_rank(int) {
  return world_rank();
}

std::string greet(const std::string& name, int times) {
  std::string s;
  for (int i = 0; i < times; ++i) s += "hello " + name + ";";
  return s;
}

double sum_vector(const std::vector<double>& v) {
  return std::accumulate(v.begin(), v.end(), 0.0);
}

std::vector<double> make_vector(std::uint64_t n) {
  std::vector<double> v(n);
  for (std::uint64_t i = 0; i < n; ++i) v[i] = static_cast<double>(i);
  return v;
}

void touch(int) {}

int throw_non_std(int x) {
  throw x;
}

Particle move_particle(const Particle& p, double dx) {
  Particle q = p;
  for (auto& c : q.position) c += dx;
  q.name += "'";
  q.id += 1;
  return q;
}

void set_thread_value(std::int64_t value) {
  t_value = value;
}
std::int64_t get_thread_value(std::int64_t) {
  return t_value;
}

void set_global(std::int64_t value) {
  g_value = value;
}
std::int64_t get_global(std::int64_t) {
  return g_value;
}

void fail_on_rank(int rank) {
  if (world_rank() == rank) throw std::runtime_error("cannot open model.pkl");
}

void fail_second_time_on(int rank, int token) {
  static int last_token = -1;
  static int runs = 0;
  if (token != last_token) {
    last_token = token;
    runs = 0;
  }
  if (++runs >= 2 && world_rank() == rank) throw std::runtime_error("disk went away");
}

void count_init() {
  ++g_inits;
  g_calls_since_init = 0;
}

std::pair<std::int64_t, std::int64_t> init_and_calls(int) {
  return {g_inits, ++g_calls_since_init};
}

Boom echo_boom(const Boom& b) {
  return b;
}
Boom make_boom(int where) {
  return Boom{static_cast<Where>(where)};
}
std::int64_t boom_arg(const Boom&) {
  return 1;
}

std::uint64_t span_series(std::uint64_t offset, std::uint64_t begin, std::uint64_t end) {
  std::uint64_t s = 0;
  for (std::uint64_t i = begin; i < end; ++i) s += i + offset;
  return s;
}
std::uint64_t span_count(std::uint64_t begin, std::uint64_t end) {
  return end - begin;
}
std::uint64_t span_fail_at(std::uint64_t bad, std::uint64_t begin, std::uint64_t end) {
  if (begin <= bad && bad < end) throw std::out_of_range("item " + std::to_string(bad));
  return end - begin;
}
std::uint64_t span_sleep(std::uint64_t begin, std::uint64_t end) {
  std::this_thread::sleep_for(std::chrono::milliseconds(end - begin));
  return end - begin;
}

int throw_kind(int kind) {
  const std::string where = "thrown on rank " + std::to_string(world_rank());
  switch (static_cast<Thrown>(kind)) {
    case Thrown::Nothing:
      return 0;
    case Thrown::InvalidArgument:
      throw std::invalid_argument(where);
    case Thrown::OutOfRange:
      throw std::out_of_range(where);
    case Thrown::ModelError:
      throw ModelError(where);
    case Thrown::BadAlloc:
      throw std::bad_alloc();
    case Thrown::StdException:
      throw std::exception();
    case Thrown::BadOptionalAccess:
      throw std::bad_optional_access();
    case Thrown::BadVariantAccess:
      throw std::bad_variant_access();
    case Thrown::BadCast:
      throw std::bad_cast();
    case Thrown::Int:
      throw kind;
    case Thrown::NotAnException:
      throw NotAnException{kind};
    case Thrown::ToolError:
      throw ToolError(where);
  }
  return -1;
}

std::uint64_t span_throw_kind(int kind, std::uint64_t bad, std::uint64_t begin, std::uint64_t end) {
  if (begin <= bad && bad < end) throw_kind(kind);
  return end - begin;
}

libpool::Registry make_registry() {
  libpool::Registry r;
  r.add("test.span_series", span_series)
      .add("test.span_count", span_count)
      .add("test.span_fail_at", span_fail_at)
      .add("test.span_sleep", span_sleep)
      .add("test.span_throw_kind", span_throw_kind);
  r.add("test.square", square)
      .add("test.power", power)
      .add("test.divide", divide)
      .add("test.risky", risky)
      .add("test.sleep_then", sleep_then)
      .add("test.spin_for", spin_for)
      .add("test.nap_on_rank", nap_on_rank)
      .add("test.stop_flag_seen", stop_flag_seen)
      .add("test.stop_on_rank", stop_on_rank)
      .add("test.process_id", process_id)
      .add("test.my_rank", my_rank)
      .add("test.greet", greet)
      .add("test.sum_vector", sum_vector)
      .add("test.make_vector", make_vector)
      .add("test.touch", touch)
      .add("test.throw_non_std", throw_non_std)
      .add("test.move_particle", move_particle)
      .add("test.set_global", set_global)
      .add("test.get_global", get_global)
      .add("test.set_thread_value", set_thread_value)
      .add("test.get_thread_value", get_thread_value)
      .add("test.fail_on_rank", fail_on_rank)
      .add("test.fail_second_time_on", fail_second_time_on)
      .add("test.count_init", count_init)
      .add("test.init_and_calls", init_and_calls)
      .add("test.echo_boom", echo_boom)
      .add("test.make_boom", make_boom)
      .add("test.boom_arg", boom_arg)
      .add("test.throw_kind", throw_kind);
  return r;
}

const libpool::Registry& registry() {
  static const libpool::Registry r = make_registry();
  return r;
}

int world_size() {
  int n = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  return n;
}

int world_rank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace pool_tests
