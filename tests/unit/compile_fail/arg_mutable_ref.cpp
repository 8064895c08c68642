// Must not compile: see tests/unit/libpool.cmake (compile-failure tests).
#include <libpool/libpool.hpp>

#include <vector>

void fill(std::vector<int>& out) {
  out.assign(3, 1);
}

void use(libpool::Registry& r) {
  r.add("fill", fill);  // a reference to non-const: the caller would never see the change
}
