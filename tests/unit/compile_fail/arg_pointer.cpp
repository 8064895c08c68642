// Must not compile: see tests/unit/libpool.cmake (compile-failure tests).
#include <libpool/libpool.hpp>

double first(const double* values) {
  return values[0];
}

void use(libpool::Registry& r) {
  r.add("first", first);  // a raw pointer argument
}
