#pragma once
// The per-element part of `poolrun datagen --kind image` (the formulas are at the top of
// apps/poolrun/datagen.cpp): runs of elements within one image row, vectorized. Pure C++.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace kernels {

// The per-image shapes: a gradient, a disc and a rectangle.
struct ImageParams {
  double gx = 0, gy = 0;                  // gradient weights
  double cx = 0, cy = 0, r2 = 0;          // disc centre and squared radius (pixels)
  double x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // rectangle
  double disc_level = 0, rect_level = 0;
};

// Images of H x W x C elements, one image's shapes at a time. Every term that is the same along a
// row or down a column is worked out once (an image's column tables in set_image), each as the
// same IEEE operation the formula does, so the values keep their bits.
class ImageGenerator {
 public:
  ImageGenerator(std::size_t h, std::size_t w, std::size_t c);
  void set_image(const ImageParams& p);
  // Elements k0 .. k0 + len - 1 of row y (len must not pass the row's end, W x C elements) of the
  // current image, element t with noise word noise[t], to out[0 .. len - 1]: uint8 as round half
  // away from zero of 255 v, float32 as v rounded. The same bits on every CPU.
  void run(std::size_t y, std::size_t k0, std::size_t len, const std::uint32_t* noise,
           std::uint8_t* out) const;
  void run(std::size_t y, std::size_t k0, std::size_t len, const std::uint32_t* noise,
           float* out) const;

  struct Row;  // what one run reads (image.cpp)

 private:
  Row row(std::size_t y, std::size_t k0) const;

  std::size_t h_, c_, row_len_;
  ImageParams p_;
  std::vector<double> row_term_;  // per row y: (y + 0.5) / H - 0.5
  std::vector<double> col_term_;  // per element of a row: (x + 0.5) / W - 0.5
  std::vector<double> x_;         // x + 0.5
  std::vector<double> disc_;      // disc_level - 0.1 * channel
  std::vector<double> rect_;      // rect_level + 0.1 * channel
  std::vector<double> base_;      // this image's 0.5 + gx * column term
  std::vector<double> dxx_;       // this image's (x - cx)^2
};

}  // namespace kernels
