// Must not compile: see tests/unit/libpool.cmake (compile-failure tests).
#include <libpool/libpool.hpp>

#include <Eigen/Core>

double trace(const Eigen::MatrixXd& m) {
  return m.trace();
}

void use(libpool::Registry& r) {
  r.add("trace", trace);  // Eigen, without <libpool/codec_eigen.hpp>
}
