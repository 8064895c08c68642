// Compiles (the control of the compile-failure tests): see tests/unit/libpool.cmake
// (compile-failure tests).
#include <libpool/libpool.hpp>

// The control: the same shapes done right compile (so the failures above are about the types).
#include <libpool/codec_eigen.hpp>

#include <Eigen/Core>
#include <string>
#include <vector>

double first(const std::vector<double>& values) {
  return values.at(0);
}
std::size_t length(const std::string& s) {
  return s.size();
}
double trace(const Eigen::MatrixXd& m) {
  return m.trace();
}
int twice(int x) {
  return 2 * x;
}
double twice(double x) {
  return 2 * x;
}

void use(libpool::Registry& r, libpool::Executor& ex) {
  r.add("first", first).add("length", length).add("trace", trace);
  r.add("twice", static_cast<int (*)(int)>(twice));
  ex.submit(static_cast<int (*)(int)>(twice), 1);
}
