// Affine warp (nearest, bilinear) and bilinear resize, uint8 or float32, one thread per output
// pixel, computing exactly what the CPU kernels compute (warp_u8f32_impl.h, resize.cpp): the same
// float coordinates (OpenCV 5's rounding of m0*x + m1*y + m2), the same weights, the same order
// of float operations (this file is compiled without FMA contraction; explicit fmaf where the CPU
// uses one), uint8 rounded half to even and saturated.
#include <cmath>

#include "cuda/launch.h"

namespace foveal::cuda {
namespace {

// Border extrapolation as OpenCV's borderInterpolate (the CPU's kernels/image/border.h, here
// for the device): the source index position i reads, or -1 for a constant border.
FOVEAL_HD ptrdiff_t border_index(ptrdiff_t i, ptrdiff_t n, Border b) {
  if (i >= 0 && i < n) return i;
  switch (b) {
    case Border::constant: return -1;
    case Border::replicate: return i < 0 ? 0 : n - 1;
    case Border::wrap: return ((i % n) + n) % n;
    case Border::reflect:
    case Border::reflect101: {
      if (n == 1) return 0;
      const ptrdiff_t period = b == Border::reflect ? 2 * n : 2 * n - 2;
      const ptrdiff_t j = ((i % period) + period) % period;
      return j < n ? j : period - 1 - j + (b == Border::reflect ? 0 : 1);
    }
  }
  return -1;
}

// Nearest source index of coordinate s with OpenCV 5.1's tie rule (the CPU's nearest_index).
FOVEAL_HD ptrdiff_t nearest_index(double s, ptrdiff_t n, Border border) {
  const double lim = 1073741824.0;
  s = s < -lim ? -lim : (s > lim ? lim : s);
  const double f = floor(s), d = s - f - 0.5;
  const ptrdiff_t lo = static_cast<ptrdiff_t>(f);
  if (d < -1e-9) return lo;
  if (d > 1e-9) return lo + 1;
  if (border == Border::constant) return lo + 1 == n ? lo : lo + 1;
  if (border == Border::replicate) return lo + 1;
  return (lo & 1) == 0 ? lo : lo + 1;
}

FOVEAL_HD ptrdiff_t coord(float v) {
  const float lim = 1073741824.0f;
  return static_cast<ptrdiff_t>(v < -lim ? -lim : (v > lim ? lim : v));
}

FOVEAL_HD void put(float* dst, float v) { *dst = v; }
FOVEAL_HD void put(uint8_t* dst, float v) {
  *dst = !(v > 0.0f) ? 0 : (v >= 255.0f ? 255 : static_cast<uint8_t>(rintf(v)));
}

template <class E>
struct WarpPixel {
  WarpParams p;  // matrix: destination -> source
  const E* src;
  E* dst;
  FOVEAL_HD float tap(size_t n, ptrdiff_t iy, ptrdiff_t ix, size_t c) const {
    const ImageShape& s = p.shape;
    const ptrdiff_t y = border_index(iy, static_cast<ptrdiff_t>(s.height), p.border);
    const ptrdiff_t x = border_index(ix, static_cast<ptrdiff_t>(s.width), p.border);
    if (y < 0 || x < 0) return p.cval;
    return static_cast<float>(src[((n * s.height + static_cast<size_t>(y)) * s.width + static_cast<size_t>(x)) * s.channels + c]);
  }
  FOVEAL_HD void operator()(size_t i) const {  // i = (n, y, x)
    const size_t C = p.shape.channels, x = i % p.out_w, t = i / p.out_w, y = t % p.out_h, n = t / p.out_h;
    const ptrdiff_t H = static_cast<ptrdiff_t>(p.shape.height), W = static_cast<ptrdiff_t>(p.shape.width);
    E* out = dst + i * C;
    if (p.interp == Interp::nearest) {
      const double xd = static_cast<double>(x), yd = static_cast<double>(y);
      const ptrdiff_t ix = nearest_index(p.matrix[0] * xd + p.matrix[1] * yd + p.matrix[2], W, p.border);
      const ptrdiff_t iy = nearest_index(p.matrix[3] * xd + p.matrix[4] * yd + p.matrix[5], H, p.border);
      for (size_t c = 0; c < C; ++c) put(out + c, tap(n, iy, ix, c));
      return;
    }
    const float m0 = static_cast<float>(p.matrix[0]), m1 = static_cast<float>(p.matrix[1]);
    const float m2 = static_cast<float>(p.matrix[2]), m3 = static_cast<float>(p.matrix[3]);
    const float m4 = static_cast<float>(p.matrix[4]), m5 = static_cast<float>(p.matrix[5]);
    const float xf = static_cast<float>(x), yf = static_cast<float>(y);
    const float ry = m1 * yf, ryy = m4 * yf;
    const bool in_block = x < p.out_w - p.out_w % 16;  // OpenCV's rounding differs on the row's tail
    const float sx = in_block ? fmaf(m0, xf, ry + m2) : fmaf(m0, xf, ry) + m2;
    const float sy = in_block ? fmaf(m3, xf, ryy + m5) : fmaf(m3, xf, ryy) + m5;
    const float fx0 = floorf(sx), fy0 = floorf(sy);
    const ptrdiff_t ix = coord(fx0), iy = coord(fy0);
    const float ax = sx - fx0, ay = sy - fy0;
    if (p.border == Border::constant && (ix + 1 < 0 || ix >= W || iy + 1 < 0 || iy >= H)) {
      for (size_t c = 0; c < C; ++c) put(out + c, p.cval);
      return;
    }
    for (size_t c = 0; c < C; ++c) {
      const float top = tap(n, iy, ix, c) * (1.0f - ax) + tap(n, iy, ix + 1, c) * ax;
      const float bot = tap(n, iy + 1, ix, c) * (1.0f - ax) + tap(n, iy + 1, ix + 1, c) * ax;
      put(out + c, top * (1.0f - ay) + bot * ay);
    }
  }
};

// One axis of a bilinear resize (the CPU's make_taps): source indices i0, i1 and weights w0, w1
// of output position x; a zero-weight tap reads the other one's pixel (no 0 * NaN).
struct AxisTaps {
  size_t i0, i1;
  float w0, w1;
};
FOVEAL_HD AxisTaps bilinear_taps(size_t x, size_t in, size_t out) {
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  float f = static_cast<float>((x + 0.5) * scale - 0.5);
  ptrdiff_t s = static_cast<ptrdiff_t>(floorf(f));
  f -= static_cast<float>(s);
  if (s < 0) { f = 0.0f; s = 0; }
  if (s >= static_cast<ptrdiff_t>(in) - 1) { f = 0.0f; s = static_cast<ptrdiff_t>(in) - 1; }
  AxisTaps t{static_cast<size_t>(s), static_cast<size_t>(s + 1 < static_cast<ptrdiff_t>(in) ? s + 1 : in - 1),
             1.0f - f, f};
  if (t.w1 == 0.0f) t.i1 = t.i0;
  if (t.w0 == 0.0f) t.i0 = t.i1;
  return t;
}

template <class E>
struct ResizePixel {
  ResizeParams p;
  const E* src;
  E* dst;
  FOVEAL_HD void operator()(size_t i) const {  // i = (n, y, x)
    const ImageShape& s = p.shape;
    const size_t C = s.channels, x = i % p.out_w, t = i / p.out_w, y = t % p.out_h, n = t / p.out_h;
    const AxisTaps tx = bilinear_taps(x, s.width, p.out_w), ty = bilinear_taps(y, s.height, p.out_h);
    const E* r0 = src + (n * s.height + ty.i0) * s.width * C;
    const E* r1 = src + (n * s.height + ty.i1) * s.width * C;
    for (size_t c = 0; c < C; ++c) {
      // Horizontal pass (plain sums from 0), then the vertical one (multiply-adds, zero taps skipped).
      const float h0 = (0.0f + tx.w0 * static_cast<float>(r0[tx.i0 * C + c])) + tx.w1 * static_cast<float>(r0[tx.i1 * C + c]);
      const float h1 = (0.0f + tx.w0 * static_cast<float>(r1[tx.i0 * C + c])) + tx.w1 * static_cast<float>(r1[tx.i1 * C + c]);
      float acc = 0.0f;
      if (ty.w0 != 0.0f) acc = fmaf(h0, ty.w0, acc);
      if (ty.w1 != 0.0f) acc = fmaf(h1, ty.w1, acc);
      put(dst + i * C + c, acc);
    }
  }
};

// p with its matrix inverted (destination -> source) as OpenCV's invertAffineTransform, in the
// CPU driver's operation order (warp.cpp), so that both sample the same positions.
WarpParams inverted(const WarpParams& p) {
  WarpParams r = p;
  const double* M = p.matrix;
  double D = M[0] * M[4] - M[1] * M[3];
  D = D != 0.0 ? 1.0 / D : 0.0;
  r.matrix[0] = M[4] * D;
  r.matrix[1] = M[1] * -D;
  r.matrix[3] = M[3] * -D;
  r.matrix[4] = M[0] * D;
  r.matrix[2] = -r.matrix[0] * M[2] - r.matrix[1] * M[5];
  r.matrix[5] = -r.matrix[3] * M[2] - r.matrix[4] * M[5];
  return r;
}

}  // namespace

// p.matrix maps source to destination (as the CPU's WarpParams).
void warp_affine_u8(Where w, const WarpParams& p, const uint8_t* src, uint8_t* dst) {
  for_each(w, p.shape.batch * p.out_h * p.out_w, WarpPixel<uint8_t>{inverted(p), src, dst}, "warp_affine");
}
void warp_affine_f32(Where w, const WarpParams& p, const float* src, float* dst) {
  for_each(w, p.shape.batch * p.out_h * p.out_w, WarpPixel<float>{inverted(p), src, dst}, "warp_affine");
}
void resize_bilinear_u8(Where w, const ResizeParams& p, const uint8_t* src, uint8_t* dst) {
  for_each(w, p.shape.batch * p.out_h * p.out_w, ResizePixel<uint8_t>{p, src, dst}, "resize");
}
void resize_bilinear_f32(Where w, const ResizeParams& p, const float* src, float* dst) {
  for_each(w, p.shape.batch * p.out_h * p.out_w, ResizePixel<float>{p, src, dst}, "resize");
}

}  // namespace foveal::cuda
