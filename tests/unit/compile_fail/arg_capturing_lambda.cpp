// Must not compile: see tests/unit/libpool.cmake (compile-failure tests).
#include <libpool/libpool.hpp>

inline int scale = 3;
inline auto scaler = [s = scale](int x) { return s * x; };

int apply(decltype(scaler) f, int x) {
  return f(x);
}

void use(libpool::Registry& r) {
  r.add("apply", apply);  // a lambda with captures as an argument
}
