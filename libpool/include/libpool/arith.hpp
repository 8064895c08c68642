#pragma once
// Integer helpers for chunk arithmetic, where sizes may come from users and reach 2^64.
// Header-only and free of MPI, so that any code may use them.

#include <concepts>

namespace libpool {

// ceil(n / d) for d > 0, exact over the whole range of T: (n + d - 1) / d would wrap when n is
// within d of the type's maximum.
template <std::unsigned_integral T>
constexpr T ceil_div(T n, T d) noexcept {
  return static_cast<T>(n / d + (n % d != 0 ? 1 : 0));
}

}  // namespace libpool
