// Must not compile: see tests/unit/libpool.cmake (compile-failure tests).
#include <libpool/libpool.hpp>

struct Model {
  int step(int x) { return x; }
};

void use(libpool::Registry& r) {
  r.add("model.step", &Model::step);  // a member function as the task
}
