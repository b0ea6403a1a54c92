// 2-D correlation (filter2d) and its separable form (sep_filter2d), as the CPU's filter2d
// driver (kernels/image/filter2d): every tap read through the border (a constant row or column
// reads cval), the taps summed with fmaf in kernel order (rows, then columns) from 0, zero
// coefficients skipped (the CPU's row correlation), uint8 rounded half to even and saturated.
// The separable form keeps the CPU's two passes: each source row filtered horizontally to float
// (a row wholly in a constant border: the same sum over cval), then those rows vertically.
// For OpenCV's bit-exact uint8 Gaussian kernels the CPU sums in 16-bit integers instead; those
// sums are exact in float too (its filter2d.cpp explains why), so the result is the same.
// Pixels: uint8 or float32 in; uint8 (from uint8) or float32 out.
#include "cuda/image_common.cuh"
#include "cuda/launch.h"

namespace foveal::cuda {
namespace {

template <class Ein, class Eout>
struct Filter2dPixel {  // i = (n, y, x)
  FilterParams p;
  const float* k;
  const Ein* src;
  Eout* dst;
  FOVEAL_HD void operator()(size_t i) const {
    const ImageShape& s = p.shape;
    const size_t C = s.channels, x = i % s.width, t = i / s.width, y = t % s.height, n = t / s.height;
    const ptrdiff_t H = static_cast<ptrdiff_t>(s.height), W = static_cast<ptrdiff_t>(s.width);
    const Ein* img = src + n * s.height * s.width * C;
    for (size_t c = 0; c < C; ++c) {
      float acc = 0.0f;
      for (size_t r = 0; r < p.kh; ++r) {
        const ptrdiff_t iy = border_index(static_cast<ptrdiff_t>(y + r) - static_cast<ptrdiff_t>(p.anchor_y), H, p.border);
        for (size_t q = 0; q < p.kw; ++q) {
          const float kv = k[r * p.kw + q];
          if (kv == 0.0f) continue;
          float v = p.cval;
          if (iy >= 0) {
            const ptrdiff_t ix = border_index(static_cast<ptrdiff_t>(x + q) - static_cast<ptrdiff_t>(p.anchor_x), W, p.border);
            if (ix >= 0) v = static_cast<float>(img[(static_cast<size_t>(iy) * s.width + static_cast<size_t>(ix)) * C + c]);
          }
          acc = fmaf(v, kv, acc);
        }
      }
      put(dst + i * C + c, acc);
    }
  }
};

// Pass 1: every source row filtered horizontally with kx (float rows, the image's shape).
template <class Ein>
struct RowPass {  // i = (n, y, x)
  FilterParams p;
  const float* kx;
  const Ein* src;
  float* mid;
  FOVEAL_HD void operator()(size_t i) const {
    const ImageShape& s = p.shape;
    const size_t C = s.channels, x = i % s.width, row = i / s.width;
    const ptrdiff_t W = static_cast<ptrdiff_t>(s.width);
    const Ein* in = src + row * s.width * C;
    for (size_t c = 0; c < C; ++c) {
      float acc = 0.0f;
      for (size_t q = 0; q < p.kw; ++q) {
        if (kx[q] == 0.0f) continue;
        const ptrdiff_t ix = border_index(static_cast<ptrdiff_t>(x + q) - static_cast<ptrdiff_t>(p.anchor_x), W, p.border);
        const float v = ix < 0 ? p.cval : static_cast<float>(in[static_cast<size_t>(ix) * C + c]);
        acc = fmaf(v, kx[q], acc);
      }
      mid[i * C + c] = acc;
    }
  }
};

// Pass 2: the filtered rows combined vertically with ky.
template <class Eout>
struct ColumnPass {  // i = (n, y, x)
  FilterParams p;
  const float* kx;
  const float* ky;
  const float* mid;
  Eout* dst;
  FOVEAL_HD void operator()(size_t i) const {
    const ImageShape& s = p.shape;
    const size_t C = s.channels, x = i % s.width, t = i / s.width, y = t % s.height, n = t / s.height;
    const ptrdiff_t H = static_cast<ptrdiff_t>(s.height);
    for (size_t c = 0; c < C; ++c) {
      float acc = 0.0f;
      for (size_t r = 0; r < p.kh; ++r) {
        if (ky[r] == 0.0f) continue;
        const ptrdiff_t iy = border_index(static_cast<ptrdiff_t>(y + r) - static_cast<ptrdiff_t>(p.anchor_y), H, p.border);
        float h;
        if (iy < 0) {  // a row of cval, filtered as the CPU filters it
          h = 0.0f;
          for (size_t q = 0; q < p.kw; ++q)
            if (kx[q] != 0.0f) h = fmaf(p.cval, kx[q], h);
        } else {
          h = mid[((n * s.height + static_cast<size_t>(iy)) * s.width + x) * C + c];
        }
        acc = fmaf(h, ky[r], acc);
      }
      put(dst + i * C + c, acc);
    }
  }
};

template <class Ein, class Eout>
void filter2d_any(Where w, const FilterParams& p, const Ein* src, const float* kernel, Eout* dst) {
  const ImageShape& s = p.shape;
  for_each(w, s.batch * s.height * s.width, Filter2dPixel<Ein, Eout>{p, kernel, src, dst}, "filter2d");
}

template <class Ein, class Eout>
void sep_filter2d_any(Where w, const FilterParams& p, const Ein* src, const float* kx, const float* ky, Eout* dst) {
  const ImageShape& s = p.shape;
  const size_t pixels = s.batch * s.height * s.width;
  Scratch<float> mid(w, pixels * s.channels);
  for_each(w, pixels, RowPass<Ein>{p, kx, src, mid.get()}, "sep_filter2d");
  for_each(w, pixels, ColumnPass<Eout>{p, kx, ky, mid.get(), dst}, "sep_filter2d");
}

}  // namespace

void filter2d(Where w, const FilterParams& p, const uint8_t* src, const float* kernel, uint8_t* dst) {
  filter2d_any(w, p, src, kernel, dst);
}
void filter2d(Where w, const FilterParams& p, const float* src, const float* kernel, float* dst) {
  filter2d_any(w, p, src, kernel, dst);
}
void filter2d(Where w, const FilterParams& p, const uint8_t* src, const float* kernel, float* dst) {
  filter2d_any(w, p, src, kernel, dst);
}
void sep_filter2d(Where w, const FilterParams& p, const uint8_t* src, const float* kx, const float* ky,
                  uint8_t* dst) {
  sep_filter2d_any(w, p, src, kx, ky, dst);
}
void sep_filter2d(Where w, const FilterParams& p, const float* src, const float* kx, const float* ky, float* dst) {
  sep_filter2d_any(w, p, src, kx, ky, dst);
}
void sep_filter2d(Where w, const FilterParams& p, const uint8_t* src, const float* kx, const float* ky,
                  float* dst) {
  sep_filter2d_any(w, p, src, kx, ky, dst);
}

}  // namespace foveal::cuda
