// Must not compile: see tests/unit/libpool.cmake (compile-failure tests).
#include <libpool/libpool.hpp>

#include <string_view>

std::size_t length(std::string_view s) {
  return s.size();
}

void use(libpool::Registry& r) {
  r.add("length", length);  // a view argument
}
