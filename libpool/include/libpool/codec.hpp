#pragma once
// How task arguments and results cross rank boundaries.
//
// One trait, Codec<T>, with encode(Writer&, const T&) and decode(Reader&) -> T. Provided:
//   - trivially copyable types (arithmetic, enums, PODs, std::array of those): memcpy;
//   - std::string, std::vector, std::array, std::pair, std::tuple, std::optional, std::monostate;
//   - user structs, with one line inside the struct: LIBPOOL_FIELDS(a, b, c) (members in order;
//     the struct must be default constructible);
//   - anything else, by specialising libpool::Codec<T>.
// The Reader is bounds checked: truncated or surplus bytes throw CodecError, never read past the
// buffer. Trivially copyable types are sent as raw bytes, so a pointer member is sent as an
// address: give such a struct LIBPOOL_FIELDS or a Codec of its own.

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "libpool/errors.hpp"

namespace libpool {

// A growable byte buffer that does not zero what it grows into (std::vector<std::byte> would).
class Writer {
 public:
  Writer() = default;
  explicit Writer(std::size_t capacity) { reserve(capacity); }
  Writer(Writer&& o) noexcept
      : data_(std::move(o.data_)),
        size_(std::exchange(o.size_, 0)),
        capacity_(std::exchange(o.capacity_, 0)) {}
  Writer& operator=(Writer&& o) noexcept {
    data_ = std::move(o.data_);
    size_ = std::exchange(o.size_, 0);
    capacity_ = std::exchange(o.capacity_, 0);
    return *this;
  }

  void write_bytes(const void* src, std::size_t n) {
    if (n == 0) return;
    std::memcpy(grow(n), src, n);
  }
  // Appends n uninitialised bytes and returns where they start.
  std::byte* grow(std::size_t n) {
    if (size_ + n > capacity_) reserve(std::max(size_ + n, 2 * capacity_ + 64));
    std::byte* p = data_.get() + size_;
    size_ += n;
    return p;
  }
  template <class T>
  void put(const T& value);

  void reserve(std::size_t capacity) {
    if (capacity <= capacity_) return;
    auto fresh = std::make_unique_for_overwrite<std::byte[]>(capacity);
    if (size_ != 0) std::memcpy(fresh.get(), data_.get(), size_);
    data_ = std::move(fresh);
    capacity_ = capacity;
  }
  void clear() noexcept { size_ = 0; }
  // Drops everything after the first n bytes.
  void truncate(std::size_t n) noexcept { size_ = std::min(size_, n); }
  std::byte* data() noexcept { return data_.get(); }
  const std::byte* data() const noexcept { return data_.get(); }
  std::size_t size() const noexcept { return size_; }

 private:
  std::unique_ptr<std::byte[]> data_;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

class Reader {
 public:
  Reader(const std::byte* data, std::size_t size) noexcept : data_(data), size_(size) {}

  void read_bytes(void* dst, std::size_t n) {
    // An empty vector's data() may be null, and memcpy from or to null is undefined even for 0.
    if (n != 0) std::memcpy(dst, take(n), n);
  }
  // Returns a pointer to the next n bytes and steps over them; throws if fewer remain.
  const std::byte* take(std::size_t n) {
    if (n > size_ - pos_) {
      throw CodecError("truncated message: need " + std::to_string(n) + " bytes at offset " +
                       std::to_string(pos_) + ", have " + std::to_string(size_ - pos_));
    }
    const std::byte* p = data_ + pos_;
    pos_ += n;
    return p;
  }
  template <class T>
  T get();

  std::size_t remaining() const noexcept { return size_ - pos_; }
  void expect_end() const {
    if (pos_ != size_) {
      throw CodecError("message has " + std::to_string(size_ - pos_) +
                       " unexpected trailing bytes");
    }
  }

 private:
  const std::byte* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

namespace detail {
// Types whose bytes mean nothing in another process, though many are trivially copyable: they
// get no Codec, so that a task taking or returning one does not compile (see Codec below).
template <class T>
struct IsView : std::false_type {};
template <class C, class Tr>
struct IsView<std::basic_string_view<C, Tr>> : std::true_type {};
template <class T, std::size_t N>
struct IsView<std::span<T, N>> : std::true_type {};
// A lambda (closure types are never aggregates), std::function, or another callable object.
template <class T>
concept Callable = std::is_class_v<T> && !std::is_aggregate_v<T> && requires {
  &T::operator();
};
// An Eigen dense type (without including Eigen): it travels through libpool/codec_eigen.hpp.
template <class T>
concept LooksEigen = requires {
  typename T::Scalar;
  T::RowsAtCompileTime;
  T::ColsAtCompileTime;
};
template <class T>
inline constexpr bool kCannotTravel =
    std::is_pointer_v<T> || std::is_member_pointer_v<T> || IsView<T>::value || Callable<T>;
}  // namespace detail

// Primary template: a type with no codec is a compile error naming the fix.
template <class T>
struct Codec {
  static_assert(!std::is_pointer_v<T> && !std::is_member_pointer_v<T>,
                "libpool: a task cannot take or return a raw pointer: an address means nothing "
                "on another rank; pass the value itself (a std::string, a std::vector, a struct)");
  static_assert(!detail::IsView<T>::value,
                "libpool: a task cannot take or return a view (std::string_view, std::span): it "
                "points into this process's memory; pass a std::string or a std::vector");
  static_assert(!detail::Callable<T>,
                "libpool: a task cannot take or return a lambda, std::function or other callable: "
                "code does not travel between ranks; register the function and pass data (an "
                "enum, a name) that selects it");
  static_assert(!detail::LooksEigen<T>,
                "libpool: Eigen types travel through their own codec: #include "
                "<libpool/codec_eigen.hpp>");
  static_assert(detail::kCannotTravel<T> || detail::LooksEigen<T> || sizeof(T) == 0,
                "libpool: no Codec for this type; make it trivially copyable, add "
                "LIBPOOL_FIELDS(...) to it, or specialise libpool::Codec<T>");
};

namespace detail {
template <class T>
concept HasFields = requires(T& t, const T& c) {
  t.libpool_fields();
  c.libpool_fields();
};
// std wrappers always go element by element, so an element with a Codec of its own is honoured.
template <class T>
struct IsStdWrapper : std::false_type {};
template <class T, std::size_t N>
struct IsStdWrapper<std::array<T, N>> : std::true_type {};
template <class A, class B>
struct IsStdWrapper<std::pair<A, B>> : std::true_type {};
template <class... Ts>
struct IsStdWrapper<std::tuple<Ts...>> : std::true_type {};
template <class T>
struct IsStdWrapper<std::optional<T>> : std::true_type {};
template <class T>
concept Bitwise = std::is_trivially_copyable_v<T> && !HasFields<T> && !IsStdWrapper<T>::value &&
                  !kCannotTravel<T>;

inline std::uint64_t read_length(Reader& r, std::size_t element_size) {
  std::uint64_t n;
  r.read_bytes(&n, sizeof n);
  // A length that cannot fit in what is left is corrupt: refuse before allocating for it.
  if (element_size != 0 && n > r.remaining() / element_size) {
    throw CodecError("corrupt length " + std::to_string(n) + " for " +
                     std::to_string(r.remaining()) + " remaining bytes");
  }
  return n;
}
}  // namespace detail

namespace detail {
// True when T travels as its raw bytes (and not through a user's Codec specialisation).
template <class T>
concept BitwiseCodec = requires {
  Codec<T>::bitwise;
}
&&Codec<T>::bitwise;
}  // namespace detail

template <class T>
void Writer::put(const T& value) {
  Codec<T>::encode(*this, value);
}
template <class T>
T Reader::get() {
  return Codec<T>::decode(*this);
}

template <detail::Bitwise T>
struct Codec<T> {
  static constexpr bool bitwise = true;  // lets containers copy runs of T in one go
  static void encode(Writer& w, const T& v) { w.write_bytes(&v, sizeof(T)); }
  static T decode(Reader& r) {
    T v;
    r.read_bytes(&v, sizeof(T));
    return v;
  }
};

// One byte, 0 or 1, as the bitwise codec writes it; any other byte is refused, because a bool
// holding another value is undefined behaviour wherever it is read.
template <>
struct Codec<bool> {
  static void encode(Writer& w, const bool& v) { w.put(static_cast<std::uint8_t>(v)); }
  static bool decode(Reader& r) {
    const auto b = r.get<std::uint8_t>();
    if (b > 1) throw CodecError("corrupt bool " + std::to_string(b));
    return b == 1;
  }
};

template <>
struct Codec<std::string> {
  static void encode(Writer& w, const std::string& s) {
    std::uint64_t n = s.size();
    w.write_bytes(&n, sizeof n);
    w.write_bytes(s.data(), s.size());
  }
  static std::string decode(Reader& r) {
    const std::uint64_t n = detail::read_length(r, 1);
    const auto* p = r.take(n);
    return std::string(reinterpret_cast<const char*>(p), n);
  }
};

template <class T, class A>
struct Codec<std::vector<T, A>> {
  static void encode(Writer& w, const std::vector<T, A>& v) {
    std::uint64_t n = v.size();
    w.write_bytes(&n, sizeof n);
    if constexpr (detail::BitwiseCodec<T> && !std::is_same_v<T, bool>) {
      w.write_bytes(v.data(), n * sizeof(T));
    } else {
      for (const auto& x : v) w.put(static_cast<const T&>(x));
    }
  }
  static std::vector<T, A> decode(Reader& r) {
    if constexpr (detail::BitwiseCodec<T> && !std::is_same_v<T, bool>) {
      const std::uint64_t n = detail::read_length(r, sizeof(T));
      std::vector<T, A> v(n);
      r.read_bytes(v.data(), n * sizeof(T));
      return v;
    } else {
      // Every element takes at least one byte on the wire unless it is empty.
      const std::uint64_t n = detail::read_length(r, std::is_empty_v<T> ? 0 : 1);
      std::vector<T, A> v;
      v.reserve(n);
      for (std::uint64_t i = 0; i < n; ++i) v.push_back(r.get<T>());
      return v;
    }
  }
};

template <class T, std::size_t N>
struct Codec<std::array<T, N>> {
  static void encode(Writer& w, const std::array<T, N>& a) {
    for (const auto& x : a) w.put(x);
  }
  static std::array<T, N> decode(Reader& r) {
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
      // Braced init evaluates left to right, which is the wire order.
      return std::array<T, N>{((void)I, r.get<T>())...};
    }
    (std::make_index_sequence<N>{});
  }
};

template <class... Ts>
struct Codec<std::tuple<Ts...>> {
  static void encode(Writer& w, const std::tuple<Ts...>& t) {
    std::apply([&](const auto&... x) { (w.put(x), ...); }, t);
  }
  static std::tuple<Ts...> decode(Reader& r) { return std::tuple<Ts...>{r.get<Ts>()...}; }
};

template <class A, class B>
struct Codec<std::pair<A, B>> {
  static void encode(Writer& w, const std::pair<A, B>& p) {
    w.put(p.first);
    w.put(p.second);
  }
  static std::pair<A, B> decode(Reader& r) {
    A a = r.get<A>();
    B b = r.get<B>();
    return {std::move(a), std::move(b)};
  }
};

template <class T>
struct Codec<std::optional<T>> {
  static void encode(Writer& w, const std::optional<T>& o) {
    w.put(static_cast<std::uint8_t>(o.has_value()));
    if (o) w.put(*o);
  }
  static std::optional<T> decode(Reader& r) {
    const auto has = r.get<std::uint8_t>();
    if (has > 1) throw CodecError("corrupt optional flag " + std::to_string(has));
    if (!has) return std::nullopt;
    return r.get<T>();
  }
};

template <detail::HasFields T>
struct Codec<T> {
  static void encode(Writer& w, const T& v) {
    std::apply([&](const auto&... f) { (w.put(f), ...); }, v.libpool_fields());
  }
  static T decode(Reader& r) {
    T v{};
    std::apply([&](auto&... f) { ((f = r.get<std::remove_cvref_t<decltype(f)>>()), ...); },
               v.libpool_fields());
    return v;
  }
};

// Encodes values into a fresh buffer / decodes a whole buffer, refusing trailing bytes.
template <class T>
Writer encode(const T& value) {
  Writer w;
  w.put(value);
  return w;
}
template <class T>
T decode(const std::byte* data, std::size_t size) {
  Reader r(data, size);
  T v = r.get<T>();
  r.expect_end();
  return v;
}

}  // namespace libpool

// Inside a struct: LIBPOOL_FIELDS(a, b, c) lists the members that travel, in order.
#define LIBPOOL_FIELDS(...)       \
  auto libpool_fields() {         \
    return std::tie(__VA_ARGS__); \
  }                               \
  auto libpool_fields() const {   \
    return std::tie(__VA_ARGS__); \
  }
