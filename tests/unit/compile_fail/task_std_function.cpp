// Must not compile: see tests/unit/libpool.cmake (compile-failure tests).
#include <libpool/libpool.hpp>

#include <functional>
#include <vector>

void use(libpool::Executor& ex) {
  std::function<int(int)> f = [](int x) { return x; };
  ex.map(f, std::vector<int>{1, 2});  // a std::function as the task
}
