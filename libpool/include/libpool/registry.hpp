#pragma once
// Tasks are plain functions registered under a stable name on every rank:
//
//   libpool::Registry registry;
//   registry.add("primes.count_chunk", count_chunk);
//
// The wire carries a 64-bit hash of the name. Executors check at start that every rank registered
// the same names. A lambda or a functor cannot be submitted (it has no name on the other ranks):
// submit() and map() take function pointers only, so that is a compile error.

#include <cstdint>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "libpool/codec.hpp"
#include "libpool/detail/protocol.hpp"

namespace libpool {

namespace detail {

using ErasedFn = void (*)();
template <class R, class... A>
using Fn = R (*)(A...);

struct TaskEntry {
  std::string name;
  std::uint64_t hash = 0;
  ErasedFn fn = nullptr;
  // submit: decode the argument tuple, call, encode the result. Sets phase as it goes.
  void (*call)(ErasedFn, Reader&, Writer&, Phase&) = nullptr;
  // map: decode a chunk, call once per item, encode the results as count + values.
  void (*call_chunk)(ErasedFn, Reader&, Writer&, Phase&) = nullptr;
};

std::uint64_t hash_name(std::string_view name) noexcept;

// What a task is: a pointer to a plain function (which has a name on every rank).
template <class F>
concept FunctionPointer = std::is_pointer_v<std::decay_t<F>> &&
    std::is_function_v<std::remove_pointer_t<std::decay_t<F>>>;
template <class>
inline constexpr bool kNotATask = false;
#define LIBPOOL_NOT_A_TASK_MESSAGE                                                               \
  "libpool: a task must be a plain function registered with Registry::add, passed as a "         \
  "function pointer: not a lambda, std::function, functor or member function (those have no "    \
  "name on the other ranks; wrap a member in a free function). For an overloaded function pick " \
  "one: static_cast<R (*)(Args...)>(f)"

template <class T>
inline constexpr bool kArgByMutableRef =
    std::is_lvalue_reference_v<T> && !std::is_const_v<std::remove_reference_t<T>>;

template <class R, class... A>
void call_task(ErasedFn erased, Reader& in, Writer& out, Phase& phase) {
  const auto fn = reinterpret_cast<Fn<R, A...>>(erased);
  phase = Phase::DecodeArguments;
  auto args = in.get<std::tuple<std::decay_t<A>...>>();
  in.expect_end();
  phase = Phase::Run;
  if constexpr (std::is_void_v<R>) {
    std::apply(fn, std::move(args));
  } else {
    R result = std::apply(fn, std::move(args));
    phase = Phase::EncodeResult;
    out.put(result);
  }
}

template <class R, class... A>
void call_chunk(ErasedFn erased, Reader& in, Writer& out, Phase& phase) {
  if constexpr (std::is_void_v<R>) {
    (void)erased, (void)in, (void)out, (void)phase;
    throw CodecError("map over a task that returns void");
  } else {
    const auto fn = reinterpret_cast<Fn<R, A...>>(erased);
    phase = Phase::DecodeArguments;
    const auto [mode, count] = read_chunk_head(in);
    out.put(count);
    // Results of trivially copyable type go straight into the buffer, no per-item bookkeeping.
    R* slots = nullptr;
    if constexpr (BitwiseCodec<R>) {
      if (count > (std::uint64_t{1} << 40) / sizeof(R)) throw CodecError("corrupt chunk size");
      slots = reinterpret_cast<R*>(out.grow(count * sizeof(R)));
    }
    auto emit = [&](std::uint64_t i, R&& r) {
      if constexpr (BitwiseCodec<R>) {
        std::memcpy(static_cast<void*>(slots + i), &r, sizeof(R));
      } else {
        (void)i;
        phase = Phase::EncodeResult;
        out.put(r);
      }
    };
    if (mode == ChunkMode::Iota) {
      if constexpr (sizeof...(A) == 1 && (std::is_integral_v<std::decay_t<A>> && ...)) {
        const auto first = in.get<std::uint64_t>();
        in.expect_end();
        phase = Phase::Run;
        for (std::uint64_t i = 0; i < count; ++i) {
          // Modular arithmetic in 64 bits, then narrowed: reproduces the master's iota values.
          emit(i, fn(static_cast<std::decay_t<A>>(first + i)...));
        }
        return;
      }
      throw CodecError("index-range chunk for a task that does not take one integer");
    } else if (mode == ChunkMode::Zip) {
      for (std::uint64_t i = 0; i < count; ++i) {
        phase = Phase::DecodeArguments;
        auto args = in.get<std::tuple<std::decay_t<A>...>>();
        phase = Phase::Run;
        emit(i, std::apply(fn, std::move(args)));
      }
      phase = Phase::DecodeArguments;
      in.expect_end();
      phase = Phase::Run;
      return;
    }
    throw CodecError("unknown chunk mode " + std::to_string(static_cast<int>(mode)));
  }
}

}  // namespace detail

class Registry {
 public:
  // Registers fn under name. Throws RegistryError on a duplicate name, a function registered
  // twice, or two names with the same hash.
  template <class R, class... A>
  Registry& add(std::string_view name, R (*fn)(A...)) {
    static_assert(!(detail::kArgByMutableRef<A> || ...),
                  "libpool: task arguments arrive as copies; take them by value or const&");
    detail::TaskEntry e;
    e.name = std::string(name);
    e.hash = detail::hash_name(name);
    e.fn = reinterpret_cast<detail::ErasedFn>(fn);
    e.call = &detail::call_task<R, A...>;
    e.call_chunk = &detail::call_chunk<R, A...>;
    insert(std::move(e));
    return *this;
  }

  // Anything else passed as a task does not compile, with a message saying what to do (an
  // overloaded name deduces nothing: the template parameter's name then carries the advice).
  template <class LibpoolTaskMustBeAFunctionPointerPickOneOverloadWithStaticCast, class... Rest>
  requires(!detail::FunctionPointer<LibpoolTaskMustBeAFunctionPointerPickOneOverloadWithStaticCast>)
      Registry& add(std::string_view,
                    LibpoolTaskMustBeAFunctionPointerPickOneOverloadWithStaticCast&&, Rest&&...) {
    static_assert(detail::kNotATask<LibpoolTaskMustBeAFunctionPointerPickOneOverloadWithStaticCast>,
                  LIBPOOL_NOT_A_TASK_MESSAGE);
    return *this;
  }

  // The entry for a registered function, or RegistryError naming what to do.
  template <class R, class... A>
  const detail::TaskEntry& entry(R (*fn)(A...)) const {
    return entry_of(reinterpret_cast<detail::ErasedFn>(fn));
  }
  // The entry for a hash received from the wire, or nullptr.
  const detail::TaskEntry* find(std::uint64_t hash) const noexcept;
  // The entry for a function, or nullptr.
  const detail::TaskEntry* find(detail::ErasedFn fn) const noexcept;
  // Order-independent digest of every registered name; equal on ranks that registered the same.
  std::uint64_t fingerprint() const noexcept;
  std::size_t size() const noexcept { return by_hash_.size(); }
  std::vector<std::string> names() const;

 private:
  void insert(detail::TaskEntry e);
  const detail::TaskEntry& entry_of(detail::ErasedFn fn) const;

  std::unordered_map<std::uint64_t, detail::TaskEntry> by_hash_;
  std::unordered_map<detail::ErasedFn, std::uint64_t> by_fn_;
};

}  // namespace libpool
