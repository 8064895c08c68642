// The out-of-line parts of detail/protocol.hpp: the error payload, and the standard exception
// types a task's exception is re-raised as on the master.

#include "libpool/detail/protocol.hpp"

#include <any>
#include <functional>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <variant>

namespace libpool::detail {

namespace {

const char* phase_text(Phase p) {
  switch (p) {
    case Phase::DecodeArguments:
      return "decoding arguments";
    case Phase::Run:
      return "";
    case Phase::EncodeResult:
      return "encoding result";
    case Phase::Initialize:
      return "initializer";
  }
  return "";
}

// A standard exception type: whether an exception derives from it, and the master's exception
// for a task's exception that does (most derived standard base first).
struct StdType {
  const char* name;
  bool (*is)(const std::exception&);
  std::exception_ptr (*raise)(RemoteErrorInfo);
};

template <class T>
constexpr StdType std_type(const char* name) {
  return {name,
          [](const std::exception& e) {
            if constexpr (std::is_same_v<T, std::exception>) {
              return true;  // a cast would compare a reference's address with null
            } else {
              return dynamic_cast<const T*>(&e) != nullptr;
            }
          },
          [](RemoteErrorInfo info) { return std::make_exception_ptr(Remote<T>(std::move(info))); }};
}

// Searched in order: a type comes before its standard bases, so the first match is the nearest.
// The names travel between ranks; they are the types' demangled names.
constexpr StdType std_types[] = {
    std_type<std::invalid_argument>("std::invalid_argument"),
    std_type<std::domain_error>("std::domain_error"),
    std_type<std::length_error>("std::length_error"),
    std_type<std::out_of_range>("std::out_of_range"),
    std_type<std::logic_error>("std::logic_error"),
    std_type<std::range_error>("std::range_error"),
    std_type<std::overflow_error>("std::overflow_error"),
    std_type<std::underflow_error>("std::underflow_error"),
    std_type<std::runtime_error>("std::runtime_error"),
    std_type<std::bad_array_new_length>("std::bad_array_new_length"),
    std_type<std::bad_alloc>("std::bad_alloc"),
    std_type<std::bad_any_cast>("std::bad_any_cast"),
    std_type<std::bad_cast>("std::bad_cast"),
    std_type<std::bad_typeid>("std::bad_typeid"),
    std_type<std::bad_optional_access>("std::bad_optional_access"),
    std_type<std::bad_variant_access>("std::bad_variant_access"),
    std_type<std::bad_function_call>("std::bad_function_call"),
    std_type<std::bad_weak_ptr>("std::bad_weak_ptr"),
    std_type<std::bad_exception>("std::bad_exception"),
    std_type<std::exception>("std::exception"),
};

}  // namespace

std::string nearest_std_base(const std::exception& e) {
  // libpool's own errors (a CodecError while decoding arguments, ...) stay libpool errors.
  if (dynamic_cast<const Error*>(&e)) return {};
  for (const auto& t : std_types) {
    if (t.is(e)) return t.name;
  }
  return {};
}

std::exception_ptr make_remote_error(RemoteErrorInfo info) {
  if (!info.std_base.empty()) {
    for (const auto& t : std_types) {
      if (info.std_base == t.name) return t.raise(std::move(info));
    }
  }
  return std::make_exception_ptr(RemoteError(std::move(info)));
}

void write_error(Writer& out, const std::string& type, const std::string& std_base,
                 const std::string& message, Phase phase, const std::string& host) {
  out.put(type);
  out.put(std_base);
  out.put(message);
  out.put(static_cast<std::uint8_t>(phase));
  out.put(host);
}

RemoteErrorInfo read_error(Reader& in) {
  RemoteErrorInfo info;
  info.type = in.get<std::string>();
  info.std_base = in.get<std::string>();
  info.message = in.get<std::string>();
  const auto phase = static_cast<Phase>(in.get<std::uint8_t>());
  info.host = in.get<std::string>();
  in.expect_end();
  if (const char* p = phase_text(phase); *p) info.message += std::string(" (") + p + ")";
  return info;
}

}  // namespace libpool::detail
