// A program outside the tree, built against an installed libpool through find_package.
#include <libpool/libpool.hpp>

#include <cstdio>

long twice(long x) {
  return 2 * x;
}

int main(int argc, char** argv) {
  libpool::Environment env(argc, argv);
  libpool::Registry registry;
  registry.add("twice", twice);
  libpool::Executor pool(registry);
  if (!pool.is_master()) return 0;
  const long v = pool.submit(twice, 21L).get();
  std::printf("twice(21) = %ld with libpool %s\n", v, libpool::version());
  return v == 42 ? 0 : 1;
}
