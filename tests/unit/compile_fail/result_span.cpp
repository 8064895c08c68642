// Must not compile: see tests/unit/libpool.cmake (compile-failure tests).
#include <libpool/libpool.hpp>

#include <span>

std::span<const int> window(int n);

void use(libpool::Registry& r) {
  r.add("window", window);  // a view result
}
