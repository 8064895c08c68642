// Must not compile: see tests/unit/libpool.cmake (compile-failure tests).
#include <libpool/libpool.hpp>

int twice(int x) {
  return 2 * x;
}
double twice(double x) {
  return 2 * x;
}

void use(libpool::Executor& ex) {
  ex.submit(twice, 1);  // which twice?
}
