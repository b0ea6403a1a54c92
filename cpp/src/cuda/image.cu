// Affine warps (nearest, bilinear, bicubic; uint8 or float32) and the fused augmentation of a
// batch (one warp per image with its own matrix, then the channel shift and brightness), one
// thread per output pixel, computing exactly what the CPU kernels compute (warp_u8f32_impl.h,
// warp.cpp): the same float coordinates (OpenCV 5's rounding of m0*x + m1*y + m2), the same
// weights, the same order of float operations (this file is compiled without FMA contraction;
// explicit fmaf where the CPU uses one), uint8 rounded half to even and saturated. uint8
// bilinear warps of 3 or 4 channels take the CPU's fixed-point sums (warp_pixel_u8_fixed).
#include <cmath>

#include "cuda/image_common.cuh"
#include "cuda/launch.h"

namespace foveal::cuda {
namespace {

// One image's warp: the CPU's WarpRowParams (m maps destination to source).
struct WarpGeom {
  double m[6];
  size_t src_h, src_w, channels, out_w;
  Interp interp;
  Border border;
  float cval;
};

// M (source -> destination) inverted as OpenCV's invertAffineTransform, in the CPU driver's
// operation order (warp.cpp's row_params), so that both sample the same positions.
FOVEAL_HD void invert(const double* M, double* r) {
  double D = M[0] * M[4] - M[1] * M[3];
  D = D != 0.0 ? 1.0 / D : 0.0;
  r[0] = M[4] * D;
  r[1] = M[1] * -D;
  r[3] = M[3] * -D;
  r[4] = M[0] * D;
  r[2] = -r[0] * M[2] - r[1] * M[5];
  r[5] = -r[3] * M[2] - r[4] * M[5];
}

FOVEAL_HD bool is_identity(const double* m) {
  return m[0] == 1.0 && m[1] == 0.0 && m[2] == 0.0 && m[3] == 0.0 && m[4] == 1.0 && m[5] == 0.0;
}

FOVEAL_HD WarpGeom geom(const ImageShape& s, size_t out_w, const double* source_to_dest, Interp interp,
                        Border border, float cval) {
  WarpGeom g{{}, s.height, s.width, s.channels, out_w, interp, border, cval};
  invert(source_to_dest, g.m);
  return g;
}

// Source value of tap (iy, ix), channel c, through the border (constant: cval).
template <class E>
FOVEAL_HD float tap(const WarpGeom& g, const E* img, ptrdiff_t iy, ptrdiff_t ix, size_t c) {
  const ptrdiff_t y = border_index(iy, static_cast<ptrdiff_t>(g.src_h), g.border);
  const ptrdiff_t x = border_index(ix, static_cast<ptrdiff_t>(g.src_w), g.border);
  if (y < 0 || x < 0) return g.cval;
  return static_cast<float>(img[(static_cast<size_t>(y) * g.src_w + static_cast<size_t>(x)) * g.channels + c]);
}

// Output pixel (x, y) of the warp of one image: emit(c, v) with each channel's value as a float
// (for a uint8 image, the value before rounding; a nearest tap is the source value itself).
template <class E, class Emit>
FOVEAL_HD void warp_pixel(const WarpGeom& g, const E* img, size_t x, size_t y, const Emit& emit) {
  const size_t C = g.channels;
  const ptrdiff_t H = static_cast<ptrdiff_t>(g.src_h), W = static_cast<ptrdiff_t>(g.src_w);
  if (g.interp == Interp::nearest) {  // double positions, OpenCV 5.1's tie rule
    const double xd = static_cast<double>(x), yd = static_cast<double>(y);
    const ptrdiff_t ix = nearest_index(g.m[0] * xd + g.m[1] * yd + g.m[2], W, g.border);
    const ptrdiff_t iy = nearest_index(g.m[3] * xd + g.m[4] * yd + g.m[5], H, g.border);
    for (size_t c = 0; c < C; ++c) emit(c, tap(g, img, iy, ix, c));
    return;
  }
  const float m0 = static_cast<float>(g.m[0]), m1 = static_cast<float>(g.m[1]);
  const float m2 = static_cast<float>(g.m[2]), m3 = static_cast<float>(g.m[3]);
  const float m4 = static_cast<float>(g.m[4]), m5 = static_cast<float>(g.m[5]);
  const float xf = static_cast<float>(x), yf = static_cast<float>(y);
  const float ry = m1 * yf, ryy = m4 * yf;
  const bool in_block = x < g.out_w - g.out_w % 16;  // OpenCV's rounding differs on the row's tail
  const float sx = in_block ? fmaf(m0, xf, ry + m2) : fmaf(m0, xf, ry) + m2;
  const float sy = in_block ? fmaf(m3, xf, ryy + m5) : fmaf(m3, xf, ryy) + m5;
  const float fx0 = floorf(sx), fy0 = floorf(sy);
  const ptrdiff_t ix = coord(fx0), iy = coord(fy0);
  const float ax = sx - fx0, ay = sy - fy0;
  const ptrdiff_t reach = g.interp == Interp::bicubic ? 2 : 1;  // taps reach ix - reach + 1 .. ix + reach
  if (g.border == Border::constant &&
      (ix + reach < 0 || ix - reach + 1 >= W || iy + reach < 0 || iy - reach + 1 >= H)) {
    for (size_t c = 0; c < C; ++c) emit(c, g.cval);  // every tap is in the border
    return;
  }
  if (g.interp == Interp::bilinear) {
    for (size_t c = 0; c < C; ++c) {
      const float top = tap(g, img, iy, ix, c) * (1.0f - ax) + tap(g, img, iy, ix + 1, c) * ax;
      const float bot = tap(g, img, iy + 1, ix, c) * (1.0f - ax) + tap(g, img, iy + 1, ix + 1, c) * ax;
      emit(c, top * (1.0f - ay) + bot * ay);
    }
    return;
  }
  float wx[4], wy[4];
  cubic_weights(ax, wx);
  cubic_weights(ay, wy);
  for (size_t c = 0; c < C; ++c) {
    float acc = 0.0f;
    for (int a = 0; a < 4; ++a) {
      float row = 0.0f;
      for (int b = 0; b < 4; ++b) row += tap(g, img, iy - 1 + a, ix - 1 + b, c) * wx[b];
      acc += row * wy[a];
    }
    emit(c, acc);
  }
}

// Whether a uint8 warp takes the CPU's fixed-point bilinear path (fixed_bilinear_u8 in
// kernels/image/warp/warp_u8_fixed.h): bilinear, 3 or 4 channels, a whole-number cval in
// [0, 255], offsets within int32.
FOVEAL_HD bool fixed_bilinear_u8(const WarpGeom& g) {
  return g.interp == Interp::bilinear && (g.channels == 3 || g.channels == 4) && g.cval >= 0.0f &&
         g.cval <= 255.0f && g.cval == floorf(g.cval) && g.src_w < (size_t{1} << 24) &&
         g.src_h < (size_t{1} << 24) && g.src_h * g.src_w * g.channels < (size_t{1} << 30);
}

// Output pixel (x, y) of that path, the CPU's bilinear_px_u8_fixed: the same coordinates, the
// four taps' Q14 weights as float products rounded half to even, one integer sum.
FOVEAL_HD void warp_pixel_u8_fixed(const WarpGeom& g, const uint8_t* img, size_t x, size_t y, uint8_t* out) {
  const size_t C = g.channels;
  const ptrdiff_t H = static_cast<ptrdiff_t>(g.src_h), W = static_cast<ptrdiff_t>(g.src_w);
  const float m0 = static_cast<float>(g.m[0]), m1 = static_cast<float>(g.m[1]);
  const float m2 = static_cast<float>(g.m[2]), m3 = static_cast<float>(g.m[3]);
  const float m4 = static_cast<float>(g.m[4]), m5 = static_cast<float>(g.m[5]);
  const float xf = static_cast<float>(x), yf = static_cast<float>(y);
  const float ry = m1 * yf, ryy = m4 * yf;
  const bool in_block = x < g.out_w - g.out_w % 16;
  const float sx = in_block ? fmaf(m0, xf, ry + m2) : fmaf(m0, xf, ry) + m2;
  const float sy = in_block ? fmaf(m3, xf, ryy + m5) : fmaf(m3, xf, ryy) + m5;
  const float fx = floorf(sx), fy = floorf(sy);
  const ptrdiff_t ix = coord(fx), iy = coord(fy);
  const int32_t cval = static_cast<int32_t>(g.cval);
  if (g.border == Border::constant && (ix + 1 < 0 || ix >= W || iy + 1 < 0 || iy >= H)) {
    for (size_t c = 0; c < C; ++c) out[c] = static_cast<uint8_t>(cval);
    return;
  }
  const float ax = sx - fx, ay = sy - fy;
  const float nx = 1.0f - ax, ny = (1.0f - ay) * 16384.0f, qy = ay * 16384.0f;
  const int32_t w[4] = {static_cast<int32_t>(rintf(nx * ny)), static_cast<int32_t>(rintf(ax * ny)),
                        static_cast<int32_t>(rintf(nx * qy)), static_cast<int32_t>(rintf(ax * qy))};
  ptrdiff_t at[4];  // the taps' pixel offsets; -1: the constant value
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 2; ++b) {
      const ptrdiff_t yy = border_index(iy + a, H, g.border), xx = border_index(ix + b, W, g.border);
      at[2 * a + b] = yy < 0 || xx < 0 ? -1 : (yy * W + xx) * static_cast<ptrdiff_t>(C);
    }
  for (size_t c = 0; c < C; ++c) {
    int32_t v = 1 << 13;
    for (int k = 0; k < 4; ++k) v += (at[k] < 0 ? cval : static_cast<int32_t>(img[at[k] + c])) * w[k];
    v >>= 14;
    out[c] = static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
  }
}

// Emitters: the plain store (uint8 rounded), and the stores of the augmentation.
template <class E>
struct Store {
  E* out;
  FOVEAL_HD void operator()(size_t c, float v) const { put(out + c, v); }
};
// v * scale when scale != 1 (the float augmentation's brightness fused into the store).
struct StoreScaled {
  float* out;
  float scale;
  FOVEAL_HD void operator()(size_t c, float v) const { out[c] = scale != 1.0f ? v * scale : v; }
};
// The uint8 augmentation's store (the CPU's WarpIntensity with mul 1): + add, then clipped.
struct StoreAddClip {
  float* out;
  float add, lo, hi;
  bool clip;
  FOVEAL_HD void operator()(size_t c, float v) const {
    if (add != 0.0f) v += add;
    if (clip) {
      v = v < lo ? lo : v;  // std::min(std::max(v, lo), hi): NaN stays NaN
      v = hi < v ? hi : v;
    }
    out[c] = v;
  }
};

template <class E>
struct WarpPixel {  // i = (n, y, x)
  WarpGeom g;
  size_t out_h, height;
  const E* src;
  E* dst;
  FOVEAL_HD void operator()(size_t i) const {
    const size_t x = i % g.out_w, t = i / g.out_w, y = t % out_h, n = t / out_h;
    const E* img = src + n * height * g.src_w * g.channels;
    if constexpr (sizeof(E) == 1) {
      if (fixed_bilinear_u8(g)) {
        warp_pixel_u8_fixed(g, img, x, y, dst + i * g.channels);
        return;
      }
    }
    warp_pixel(g, img, x, y, Store<E>{dst + i * g.channels});
  }
};

template <class E>
void warp(Where w, const WarpParams& p, const E* src, E* dst) {
  const WarpGeom g = geom(p.shape, p.out_w, p.matrix, p.interp, p.border, p.cval);
  for_each(w, p.shape.batch * p.out_h * p.out_w, WarpPixel<E>{g, p.out_h, p.shape.height, src, dst},
           "warp_affine");
}

// ---- augmentation. Image n is warped by matrices + 6n (source -> destination, inverted here
// per pixel: the same double operations as the CPU driver's, so the same bits).

// Float batch: an identity matrix copies the image (as the CPU does: -0.0 and non-finite
// neighbours stay out of it); scale (when no shift follows) fused into the store.
struct AugmentF32Pixel {
  AugmentParams p;
  const double* matrices;
  const float* scale;  // nullptr: no brightness here (none, or applied after the shift)
  const float* src;
  float* dst;
  FOVEAL_HD void operator()(size_t i) const {  // i = (n, y, x)
    const ImageShape& s = p.shape;
    const size_t C = s.channels, x = i % s.width, t = i / s.width, y = t % s.height, n = t / s.height;
    const float* img = src + n * s.height * s.width * C;
    const StoreScaled store{dst + i * C, scale ? scale[n] : 1.0f};
    const double* M = matrices + 6 * n;
    if (is_identity(M)) {
      for (size_t c = 0; c < C; ++c) store(c, img[(y * s.width + x) * C + c]);
      return;
    }
    warp_pixel(geom(s, s.width, M, p.interp, p.border, p.cval), img, x, y, store);
  }
};

struct AugmentU8Pixel {
  AugmentParams p;
  const double* matrices;
  const float* add;
  float lo, hi;
  bool clip;
  const uint8_t* src;
  float* dst;
  FOVEAL_HD void operator()(size_t i) const {
    const ImageShape& s = p.shape;
    const size_t C = s.channels, x = i % s.width, t = i / s.width, y = t % s.height, n = t / s.height;
    const uint8_t* img = src + n * s.height * s.width * C;
    warp_pixel(geom(s, s.width, matrices + 6 * n, p.interp, p.border, p.cval), img, x, y,
               StoreAddClip{dst + i * C, add ? add[n] : 0.0f, lo, hi, clip});
  }
};

// The channel shift's range: each image's minimum and maximum as the CPU's sequential fold
// finds them (lo = img[0], then lo = v < lo ? v : lo: NaN values are passed over, a NaN first
// value stays, the earliest of equal values wins), in chunks of kChunk values folded in order.
constexpr size_t kChunk = 4096;

struct MinMaxChunk {  // i = (n, chunk)
  size_t values, chunks;
  const float* img;
  float* part;  // (lo, hi) per chunk
  FOVEAL_HD void operator()(size_t i) const {
    const size_t n = i / chunks, k = i % chunks;
    const float* v = img + n * values;
    const size_t b = k * kChunk, e = b + kChunk < values ? b + kChunk : values;
    float lo = k == 0 ? v[0] : INFINITY, hi = k == 0 ? v[0] : -INFINITY;
    for (size_t j = b; j < e; ++j) {
      lo = v[j] < lo ? v[j] : lo;
      hi = hi < v[j] ? v[j] : hi;
    }
    part[2 * i] = lo;
    part[2 * i + 1] = hi;
  }
};

struct MinMaxMerge {  // i = n
  size_t chunks;
  float* part;  // the image's first pair becomes its range
  FOVEAL_HD void operator()(size_t n) const {
    float* p = part + 2 * n * chunks;
    float lo = p[0], hi = p[1];
    for (size_t k = 1; k < chunks; ++k) {
      lo = p[2 * k] < lo ? p[2 * k] : lo;
      hi = hi < p[2 * k + 1] ? p[2 * k + 1] : hi;
    }
    p[0] = lo;
    p[1] = hi;
  }
};

// Keras's apply_channel_shift (v + shift clipped to the image's range), then the brightness.
struct ShiftScale {
  size_t values, chunks;
  const float* range;
  const float* shift;
  const float* scale;
  float* img;
  FOVEAL_HD void operator()(size_t i) const {
    const size_t n = i / values;
    float v = img[i];
    const float s = shift[n];
    if (s != 0.0f) {
      const float lo = range[2 * n * chunks], hi = range[2 * n * chunks + 1];
      v += s;
      v = v < lo ? lo : v;
      v = hi < v ? hi : v;
    }
    if (scale && scale[n] != 1.0f) v *= scale[n];
    img[i] = v;
  }
};

}  // namespace

void warp_affine_u8(Where w, const WarpParams& p, const uint8_t* src, uint8_t* dst) { warp(w, p, src, dst); }
void warp_affine_f32(Where w, const WarpParams& p, const float* src, float* dst) { warp(w, p, src, dst); }

void augment_batch_f32(Where w, const AugmentParams& p, const double* matrices, const float* shift,
                       const float* scale, const float* src, float* dst) {
  const ImageShape& s = p.shape;
  const size_t pixels = s.batch * s.height * s.width, values = s.height * s.width * s.channels;
  for_each(w, pixels, AugmentF32Pixel{p, matrices, shift ? nullptr : scale, src, dst}, "augment_batch");
  if (shift == nullptr || values == 0) return;
  const size_t chunks = (values + kChunk - 1) / kChunk;
  Scratch<float> part(w, 2 * s.batch * chunks);
  for_each(w, s.batch * chunks, MinMaxChunk{values, chunks, dst, part.get()}, "augment_batch range");
  for_each(w, s.batch, MinMaxMerge{chunks, part.get()}, "augment_batch range");
  for_each(w, s.batch * values, ShiftScale{values, chunks, part.get(), shift, scale, dst}, "augment_batch shift");
}

void augment_batch_u8(Where w, const AugmentParams& p, const double* matrices, const float* add, float lo,
                      float hi, bool clip, const uint8_t* src, float* dst) {
  const ImageShape& s = p.shape;
  for_each(w, s.batch * s.height * s.width, AugmentU8Pixel{p, matrices, add, lo, hi, clip, src, dst},
           "augment_batch");
}

}  // namespace foveal::cuda
