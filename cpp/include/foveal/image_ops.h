// Image operator drivers (uint8 or float32 pixels, NHWC with interleaved channels). Each is
// thread-safe and parallel; the bindings validate arguments before calling.
#pragma once

#include <cstddef>
#include <cstdint>

#include "foveal/kernels.h"

namespace foveal {

struct ImageShape { size_t batch, height, width, channels; };

void pointwise_u8(PointwiseOp op, size_t n, const uint8_t* x, const uint8_t* y,
                  const PointwiseParams& p, uint8_t* out);
void pointwise_f32(PointwiseOp op, size_t n, const float* x, const float* y,
                   const PointwiseParams& p, float* out);
// stream: streaming stores (for an output far larger than the caches; the same values).
void u8_to_f32(size_t n, const uint8_t* x, float scale, float* out, bool stream = false);
void rgb_to_gray_u8(size_t pixels, size_t channels, const uint8_t* src, uint8_t* dst);
void rgb_to_gray_f32(size_t pixels, size_t channels, const float* src, float* dst);
// Flips each of `batch` images of h x w pixels (pixel_bytes bytes each).
void flip_images(size_t batch, size_t h, size_t w, size_t pixel_bytes, bool horizontal,
                 bool vertical, const uint8_t* src, uint8_t* dst);

// 2-D correlation with a kh x kw kernel anchored at (anchor_y, anchor_x), border extrapolation
// as OpenCV. The separable form takes the row kernel kx (kw) and column kernel ky (kh).
struct FilterParams {
  ImageShape shape;
  size_t kh, kw, anchor_y, anchor_x;
  Border border;
  float cval;
};
void filter2d_u8(const FilterParams& p, const uint8_t* src, const float* kernel, uint8_t* dst);
void filter2d_f32(const FilterParams& p, const float* src, const float* kernel, float* dst);
void sep_filter2d_u8(const FilterParams& p, const uint8_t* src, const float* kx, const float* ky,
                     uint8_t* dst);
void sep_filter2d_f32(const FilterParams& p, const float* src, const float* kx, const float* ky,
                      float* dst);

// Affine warp; matrix maps source (x, y) to destination, as OpenCV's warpAffine.
struct WarpParams {
  ImageShape shape;
  size_t out_h, out_w;
  double matrix[6];
  Interp interp;  // nearest, bilinear or bicubic
  Border border;
  float cval;
};
void warp_affine_u8(const WarpParams& p, const uint8_t* src, uint8_t* dst);
void warp_affine_f32(const WarpParams& p, const float* src, float* dst);

// Data augmentation of a float batch: image n is warped by its own 2x3 matrix (matrices + 6n,
// source -> destination, same size), then, when given, its channel shift shift[n] is added and
// clipped to the warped image's own minimum and maximum (Keras's apply_channel_shift), then it is
// multiplied by scale[n] (brightness). Parallel over images, or over bands of rows of few images.
struct AugmentParams {
  ImageShape shape;
  Interp interp;  // nearest or bilinear
  Border border;
  float cval;
};
// index (or nullptr): output image n warps src image index[n] (a batch gathered from a larger
// array without copying it; p.shape.batch counts the outputs).
void augment_batch_f32(const AugmentParams& p, const double* matrices, const float* shift,
                       const float* scale, const float* src, float* dst, const int64_t* index = nullptr);
// The same warps from a uint8 batch to float32 (the values the float path gives for the
// uint8 values as floats), with add[n] (when given) added to image n, then, when clip, the
// result clipped to [lo, hi] (Keras's RandomBrightness after the geometric layers).
void augment_batch_u8(const AugmentParams& p, const double* matrices, const float* add, float lo, float hi,
                      bool clip, const uint8_t* src, float* dst);

// Resize with half-pixel centres as OpenCV (nearest = INTER_NEAREST_EXACT, area = INTER_AREA).
struct ResizeParams {
  ImageShape shape;
  size_t out_h, out_w;
  Interp interp;
};
void resize_u8(const ResizeParams& p, const uint8_t* src, uint8_t* dst);
void resize_f32(const ResizeParams& p, const float* src, float* dst);

}  // namespace foveal
