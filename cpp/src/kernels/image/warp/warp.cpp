// Affine warp driver: inverts the matrix as OpenCV's invertAffineTransform (double precision)
// and runs the row kernel over the output rows in parallel.
#include <algorithm>
#include <cstring>
#include <vector>

#include "foveal/dispatch.h"
#include "foveal/image_ops.h"
#include "foveal/parallel.h"

namespace foveal {
namespace {

WarpRowParams row_params(const WarpParams& p) {
  const double* M = p.matrix;
  double D = M[0] * M[4] - M[1] * M[3];
  D = D != 0.0 ? 1.0 / D : 0.0;
  WarpRowParams r{p.shape.height, p.shape.width, p.shape.channels, p.out_w, {}, p.interp, p.border, p.cval};
  r.m[0] = M[4] * D;
  r.m[1] = M[1] * -D;
  r.m[3] = M[3] * -D;
  r.m[4] = M[0] * D;
  r.m[2] = -r.m[0] * M[2] - r.m[1] * M[5];
  r.m[5] = -r.m[3] * M[2] - r.m[4] * M[5];
  return r;
}

template <class E, class Row>
void warp(const WarpParams& p, const E* src, E* dst, Row row) {
  const WarpRowParams rp = row_params(p);
  const size_t in_img = p.shape.height * p.shape.width * p.shape.channels;
  const size_t out_row = p.out_w * p.shape.channels;
  const size_t tasks = p.shape.batch * p.out_h;
  parallel_for(tasks, threads_for(tasks, tasks * out_row * 4), [&](size_t task, int) {
    const size_t n = task / p.out_h, y = task % p.out_h;
    row(rp, src + n * in_img, y, dst + task * out_row);
  });
}

}  // namespace

void warp_affine_u8(const WarpParams& p, const uint8_t* src, uint8_t* dst) { warp(p, src, dst, kernels().warp_row_u8); }

namespace {

bool is_identity(const double* m) {
  return m[0] == 1.0 && m[1] == 0.0 && m[2] == 0.0 && m[3] == 0.0 && m[4] == 1.0 && m[5] == 0.0;
}

// One image's warp rows [y0, y1) (a copy for the identity map).
void augment_rows(const AugmentParams& p, const WarpRowParams& rp, bool identity, const float* src,
                  float* dst, size_t y0, size_t y1) {
  const size_t row = p.shape.width * p.shape.channels;
  if (identity) {
    std::memcpy(dst + y0 * row, src + y0 * row, (y1 - y0) * row * sizeof(float));
    return;
  }
  for (size_t y = y0; y < y1; ++y) kernels().warp_row_f32(rp, src, y, dst + y * row);
}

// The same rows with a brightness factor fused into the store (no channel shift).
void augment_rows_scaled(const AugmentParams& p, const WarpRowParams& rp, bool identity, float scale,
                         const float* src, float* dst, size_t y0, size_t y1) {
  if (identity || scale == 1.0f) {
    augment_rows(p, rp, identity, src, dst, y0, y1);
    if (scale != 1.0f)
      for (size_t i = y0 * p.shape.width * p.shape.channels, e = y1 * p.shape.width * p.shape.channels; i < e; ++i)
        dst[i] *= scale;
    return;
  }
  const size_t row = p.shape.width * p.shape.channels;
  WarpIntensity ie;
  ie.mul = scale;
  for (size_t y = y0; y < y1; ++y) kernels().warp_row_f32_intensity(rp, src, y, dst + y * row, ie);
}

// Reads n floats once, in order (a cache warm-up).
void touch(const float* p, size_t n) {
  float acc = 0.0f;
  for (size_t i = 0; i < n; i += 16) acc += p[i];
  volatile float sink = acc;
  (void)sink;
}

// The intensity changes of one warped image: channel shift clipped to the image's own range,
// then the brightness factor.
void augment_intensity(size_t n, float shift, float scale, float* img) {
  if (shift != 0.0f) {
    float lo = img[0], hi = img[0];
    for (size_t i = 1; i < n; ++i) {
      lo = std::min(lo, img[i]);
      hi = std::max(hi, img[i]);
    }
    for (size_t i = 0; i < n; ++i) img[i] = std::min(std::max(img[i] + shift, lo), hi);
  }
  if (scale != 1.0f)
    for (size_t i = 0; i < n; ++i) img[i] *= scale;
}

}  // namespace

void augment_batch_f32(const AugmentParams& p, const double* matrices, const float* shift,
                       const float* scale, const float* src, float* dst, const int64_t* index) {
  const size_t N = p.shape.batch, H = p.shape.height, img = H * p.shape.width * p.shape.channels;
  // output image n's source: image index[n] of src (the binding checked the range), else n
  auto source = [&](size_t n) { return src + (index ? static_cast<size_t>(index[n]) : n) * img; };
  std::vector<WarpRowParams> rows(N);
  for (size_t n = 0; n < N; ++n) {
    WarpParams wp{p.shape, H, p.shape.width, {}, p.interp, p.border, p.cval};
    std::copy(matrices + 6 * n, matrices + 6 * n + 6, wp.matrix);
    rows[n] = row_params(wp);
  }
  auto intensity = [&](size_t n) {
    augment_intensity(img, shift ? shift[n] : 0.0f, scale ? scale[n] : 1.0f, dst + n * img);
  };
  const int nt = get_num_threads();
  if (N >= static_cast<size_t>(nt)) {  // whole images per task: the intensity pass finds them in cache
    parallel_for(N, threads_for(N, N * img), [&](size_t n, int) {
      // A rotated or zoomed image is read along slanted or strided lines, and near the border in
      // jumps, that the hardware prefetcher does not follow; one linear pass first brings an image
      // of L2 size in at full bandwidth.
      if (img * sizeof(float) <= (size_t{768} << 10)) touch(source(n), img);
      if (shift == nullptr) {
        augment_rows_scaled(p, rows[n], is_identity(matrices + 6 * n), scale ? scale[n] : 1.0f, source(n),
                            dst + n * img, 0, H);
        return;
      }
      augment_rows(p, rows[n], is_identity(matrices + 6 * n), source(n), dst + n * img, 0, H);
      intensity(n);
    });
    return;
  }
  const TileGrid grid(N, H, 1, 8, 1);  // few images: bands of 8 rows, then per image
  parallel_for_2d(grid, threads_for(grid.tasks(), N * img), [&](const Tile& band, int) {
    const size_t n = band.group;
    augment_rows(p, rows[n], is_identity(matrices + 6 * n), source(n), dst + n * img, band.r0,
                 band.r1);
  });
  if (shift != nullptr || scale != nullptr) parallel_for(N, threads_for(N, N * img), [&](size_t n, int) { intensity(n); });
}
void warp_affine_f32(const WarpParams& p, const float* src, float* dst) { warp(p, src, dst, kernels().warp_row_f32); }

void augment_batch_u8(const AugmentParams& p, const double* matrices, const float* add, float lo, float hi,
                      bool clip, const uint8_t* src, float* dst) {
  const size_t N = p.shape.batch, H = p.shape.height, img = H * p.shape.width * p.shape.channels;
  const size_t row = p.shape.width * p.shape.channels;
  std::vector<WarpRowParams> rows(N);
  for (size_t n = 0; n < N; ++n) {
    WarpParams wp{p.shape, H, p.shape.width, {}, p.interp, p.border, p.cval};
    std::copy(matrices + 6 * n, matrices + 6 * n + 6, wp.matrix);
    rows[n] = row_params(wp);
  }
  auto intensity = [&](size_t n) {
    WarpIntensity ie;
    ie.add = add ? add[n] : 0.0f;
    ie.lo = lo;
    ie.hi = hi;
    ie.clip = clip;
    return ie;
  };
  const int nt = get_num_threads();
  if (N >= static_cast<size_t>(nt)) {  // whole images per task
    parallel_for(N, threads_for(N, N * img), [&](size_t n, int) {
      const WarpIntensity ie = intensity(n);
      for (size_t y = 0; y < H; ++y) kernels().warp_row_u8_to_f32(rows[n], src + n * img, y, dst + n * img + y * row, ie);
    });
    return;
  }
  const TileGrid grid(N, H, 1, 8, 1);  // few images: bands of 8 rows
  parallel_for_2d(grid, threads_for(grid.tasks(), N * img), [&](const Tile& band, int) {
    const size_t n = band.group;
    const WarpIntensity ie = intensity(n);
    for (size_t y = band.r0; y < band.r1; ++y)
      kernels().warp_row_u8_to_f32(rows[n], src + n * img, y, dst + n * img + y * row, ie);
  });
}

}  // namespace foveal
