#pragma once
// The per-element part of `poolrun datagen --kind image` (the formulas are at the top of
// apps/poolrun/datagen.cpp): one run of elements within one image row, vectorized. Pure C++.

#include <cstddef>
#include <cstdint>

namespace kernels {

// The per-image shapes: a gradient, a disc and a rectangle.
struct ImageParams {
  double gx = 0, gy = 0;                  // gradient weights
  double cx = 0, cy = 0, r2 = 0;          // disc centre and squared radius (pixels)
  double x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // rectangle
  double disc_level = 0, rect_level = 0;
};

// One row of one image, with what does not change along it worked out.
struct ImageRow {
  const double* elem_x = nullptr;    // per element of a row (W x C of them): x + 0.5
  const double* elem_col = nullptr;  // its column term (x + 0.5) / W - 0.5
  const double* elem_ch = nullptr;   // 0.1 * channel
  double grad_y = 0;                 // gy * the row term
  double dy2 = 0;                    // (y - cy)^2
  double x0 = 0, x1 = 0;             // the rectangle's columns in this row; [inf, inf) outside it
};

// Elements k0 .. k0 + len - 1 of `row` (len must not pass the row's end), each with its noise word
// noise[t], written to out[0 .. len - 1]: uint8 as round half away from zero of 255 v, float32 as
// v rounded. The same bits on every CPU.
void image_run(const ImageParams& p, const ImageRow& row, std::size_t k0, std::size_t len,
               const std::uint32_t* noise, std::uint8_t* out);
void image_run(const ImageParams& p, const ImageRow& row, std::size_t k0, std::size_t len,
               const std::uint32_t* noise, float* out);

}  // namespace kernels
