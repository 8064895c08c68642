// Must not compile: see tests/unit/libpool.cmake (compile-failure tests).
#include <libpool/libpool.hpp>

void use(libpool::Executor& ex) {
  int offset = 3;
  ex.submit([offset](int x) { return x + offset; }, 1);  // a lambda as the task
}
