#include "runner.hpp"

#include <cxxabi.h>

#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <typeinfo>

namespace libpool::detail {

namespace {

std::string demangle(const char* name) {
  int status = 0;
  char* out = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  std::string s = (status == 0 && out) ? out : name;
  std::free(out);
  return s;
}

// The exception being handled: its type, nearest standard base (nearest_std_base) and what().
struct ExceptionParts {
  std::string type;
  std::string std_base;
  std::string message;
};

ExceptionParts current_exception_parts() {
  try {
    throw;
  } catch (const std::bad_alloc& e) {
    // Its what() only repeats the type ("std::bad_alloc: std::bad_alloc"): say what it means.
    return {demangle(typeid(e).name()), nearest_std_base(e), "out of memory"};
  } catch (const std::exception& e) {
    return {demangle(typeid(e).name()), nearest_std_base(e), e.what()};
  } catch (...) {
    const auto* t = abi::__cxa_current_exception_type();
    return {t ? demangle(t->name()) : "unknown", "", "exception not derived from std::exception"};
  }
}

}  // namespace

std::string describe_current_exception() {
  const ExceptionParts e = current_exception_parts();
  return e.type + ": " + e.message;
}

std::optional<std::string> TaskRunner::initialize() {
  since_init_ = 0;
  if (!init_ || !init_->fn) return std::nullopt;
  try {
    // The initializer is an ordinary registered task returning void.
    const TaskEntry& e = registry_->entry(init_->fn);
    Reader in(init_->args.data(), init_->args.size());
    Writer ignored;
    Phase phase = Phase::Initialize;
    e.call(e.fn, in, ignored, phase);
  } catch (...) {
    return describe_current_exception();
  }
  return std::nullopt;
}

void TaskRunner::run(const std::byte* msg, std::size_t n, Writer& out) {
  ResultHeader rh{};
  rh.start_s = now_s();
  const std::size_t base = reserve_result_header(out);

  TaskHeader th{};
  Phase phase = Phase::DecodeArguments;
  try {
    th = read_task_header(msg, n);
    rh.work_id = th.work_id;
    if (!broken_ && max_tasks_ != 0 && since_init_ >= max_tasks_) {
      if (auto err = initialize()) broken_ = "initializer failed: " + *err;
    }
    if (broken_) {
      rh.status = ResultStatus::Broken;
      write_error(out, "libpool::BrokenPool", "", *broken_, Phase::Initialize, rank_.host);
    } else {
      const TaskEntry* e = registry_->find(th.task_hash);
      if (!e) throw RegistryError("unknown task hash " + std::to_string(th.task_hash));
      Reader in(msg + sizeof th, n - sizeof th);
      if (th.kind == TaskKind::Call) {
        e->call(e->fn, in, out, phase);
      } else if (th.kind == TaskKind::Chunk) {
        e->call_chunk(e->fn, in, out, phase);
      } else {
        throw CodecError("unknown task kind");
      }
      rh.status = ResultStatus::Ok;
      ++since_init_;
    }
  } catch (...) {
    const ExceptionParts e = current_exception_parts();
    out.truncate(base + sizeof rh);
    rh.status = ResultStatus::Error;
    write_error(out, e.type, e.std_base, e.message, phase, rank_.host);
    ++since_init_;
  }
  if (out.size() - base > kMaxMessageBytes) {
    // The result cannot travel in one MPI message: report that instead of sending garbage.
    const std::size_t bytes = out.size() - base;
    out.truncate(base + sizeof rh);
    rh.status = ResultStatus::Error;
    write_error(out, "libpool::Error", "",
                "result of " + std::to_string(bytes) + " bytes exceeds the 2 GiB message limit",
                Phase::EncodeResult, rank_.host);
  }
  rh.end_s = now_s();
  write_result_header(out, base, rh);
}

}  // namespace libpool::detail
