// The thumbnails kernel: area_resize (plain loops) beside the Eigen kernel it replaced, on the
// benchmark's 256 x 256 x 3 uint8 images to 64 x 64. Prints images/s of each and the ratio.
//   resize_bench [IMAGES]   (default 2000)
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "kernels/resize.hpp"

namespace {

template <class F>
double images_per_s(F&& resize, std::size_t n) {
  const auto t0 = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < n; ++i) resize(i);
  const std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
  return static_cast<double>(n) / dt.count();
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 2000;
  const std::size_t h = 256, w = 256, c = 3, oh = 64, ow = 64;
  const std::size_t images = 16;  // cycled through, so the input is not one cached image
  std::vector<std::uint8_t> src(images * h * w * c);
  for (std::size_t i = 0; i < src.size(); ++i)
    src[i] = static_cast<std::uint8_t>((i * 2654435761u) >> 24);
  std::vector<std::uint8_t> dst(oh * ow * c);
  const auto in = [&](std::size_t i) { return src.data() + (i % images) * h * w * c; };
  const double eigen = images_per_s(
      [&](std::size_t i) {
        kernels::detail::area_resize_eigen(in(i), h, w, c, dst.data(), oh, ow);
      },
      n);
  const double plain = images_per_s(
      [&](std::size_t i) { kernels::area_resize(in(i), h, w, c, dst.data(), oh, ow); }, n);
  std::printf("%-40s %12s %12s %8s\n", "area resize 256x256x3 -> 64x64, 1 core", "plain", "eigen",
              "ratio");
  std::printf("%-40s %12.0f %12.0f %8.2f\n", "images/s", plain, eigen, plain / eigen);
  return 0;
}
