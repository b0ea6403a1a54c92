// Resize (nearest, bilinear, bicubic, area; uint8 or float32) as the CPU's resize driver
// (kernels/image/resize): the same tap tables, made on the host by the CPU's own make_taps (OpenCV's
// coordinates: INTER_NEAREST_EXACT's centres accumulated in double, half-pixel bilinear and
// bicubic, INTER_AREA's covered fractions when both axes shrink and its pixel-area relation
// otherwise; a zero-weight tap reads its output's heaviest pixel) and uploaded, then one thread
// per output pixel: the horizontal pass of each source row it needs summed from 0 in tap order
// (plain multiply-adds, as resize_u8f32_impl.h), combined vertically with fmaf skipping zero
// weights (the row correlation's FMA order), uint8 rounded half to even and saturated. Nearest
// copies the source pixel. Bilinear uint8 pixels of 3 or 4 channels take the CPU's fixed-point
// sums instead (LinearU8Pixel).
#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "cuda/image_common.cuh"
#include "cuda/launch.h"
#include "kernels/image/resize/taps.h"

namespace foveal::cuda {
namespace {

// A tap table where the kernels read it.
struct Table {
  Scratch<int32_t> index;
  Scratch<float> weight;
  size_t n;
  Table(Where w, const Taps& t) : index(w, t.index.size()), weight(w, t.weight.size()), n(t.n) {
    index.upload(t.index.data(), t.index.size());
    weight.upload(t.weight.data(), t.weight.size());
  }
};

template <class E>
struct NearestPixel {  // i = (n, y, x)
  ImageShape s;
  size_t out_h, out_w;
  const int32_t *xi, *yi;
  const E* src;
  E* dst;
  FOVEAL_HD void operator()(size_t i) const {
    const size_t C = s.channels, x = i % out_w, t = i / out_w, y = t % out_h, n = t / out_h;
    const E* px = src + ((n * s.height + static_cast<size_t>(yi[y])) * s.width + static_cast<size_t>(xi[x])) * C;
    for (size_t c = 0; c < C; ++c) dst[i * C + c] = px[c];
  }
};

template <class E>
struct ResamplePixel {  // i = (n, y, x)
  ImageShape s;
  size_t out_h, out_w, nx, ny;
  const int32_t *xi, *yi;
  const float *xw, *yw;
  const E* src;
  E* dst;
  FOVEAL_HD void operator()(size_t i) const {
    const size_t C = s.channels, x = i % out_w, t = i / out_w, y = t % out_h, n = t / out_h;
    const int32_t* tx = xi + x * nx;
    const float* wx = xw + x * nx;
    for (size_t c = 0; c < C; ++c) {
      float acc = 0.0f;
      for (size_t k = 0; k < ny; ++k) {
        const float wk = yw[y * ny + k];
        if (wk == 0.0f) continue;
        const E* row = src + (n * s.height + static_cast<size_t>(yi[y * ny + k])) * s.width * C;
        float h = 0.0f;
        for (size_t j = 0; j < nx; ++j) h += wx[j] * static_cast<float>(row[static_cast<size_t>(tx[j]) * C + c]);
        acc = fmaf(h, wk, acc);
      }
      put(dst + i * C + c, acc);
    }
  }
};

// Bilinear uint8 pixels of 3 or 4 channels in fixed point, the CPU's sums (linear_u8_tables,
// resize_u8_linear.h): each source row's two taps with Q14 weights shifted to 16 bits, then the
// two rows with Q14 weights, rounded.
struct LinearU8Pixel {  // i = (n, y, x)
  ImageShape s;
  size_t out_h, out_w;
  const int32_t *yi, *xoff, *yw;
  const int16_t* xw;
  const uint8_t* src;
  uint8_t* dst;
  FOVEAL_HD void operator()(size_t i) const {
    const size_t C = s.channels, x = i % out_w, t = i / out_w, y = t % out_h, n = t / out_h;
    const int32_t w0 = xw[2 * x], w1 = xw[2 * x + 1];
    for (size_t c = 0; c < C; ++c) {
      int32_t h[2];
      for (size_t k = 0; k < 2; ++k) {
        const uint8_t* p = src + (n * s.height + static_cast<size_t>(yi[2 * y + k])) * s.width * C + xoff[x];
        h[k] = (p[c] * w0 + (w1 != 0 ? p[C + c] * w1 : 0) + 64) >> 7;
      }
      const int32_t v = (h[0] * yw[2 * y] + h[1] * yw[2 * y + 1] + (1 << 20)) >> 21;
      dst[i * C + c] = static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
    }
  }
};

template <class E>
void resize(Where w, const ResizeParams& p, const E* src, E* dst) {
  const ImageShape& s = p.shape;
  const bool shrink = s.width >= p.out_w && s.height >= p.out_h;
  const Taps taps_x = make_taps(s.width, p.out_w, p.interp, shrink), taps_y = make_taps(s.height, p.out_h, p.interp, shrink);
  const size_t n = s.batch * p.out_h * p.out_w;
  LinearU8Tables lt;
  if (sizeof(E) == 1 && p.interp == Interp::bilinear && linear_u8_tables(taps_x, taps_y, s.channels, s.width, &lt)) {
    Scratch<int32_t> yi(w, taps_y.index.size()), xoff(w, lt.xoff.size()), yw(w, lt.yw.size());
    Scratch<int16_t> xw(w, lt.xw.size());
    yi.upload(taps_y.index.data(), taps_y.index.size());
    xoff.upload(lt.xoff.data(), lt.xoff.size());
    yw.upload(lt.yw.data(), lt.yw.size());
    xw.upload(lt.xw.data(), lt.xw.size());
    for_each(w, n,
             LinearU8Pixel{s, p.out_h, p.out_w, yi.get(), xoff.get(), yw.get(), xw.get(),
                           reinterpret_cast<const uint8_t*>(src), reinterpret_cast<uint8_t*>(dst)},
             "resize");
    return;
  }
  const Table tx(w, taps_x);
  const Table ty(w, taps_y);
  if (p.interp == Interp::nearest) {
    for_each(w, n, NearestPixel<E>{s, p.out_h, p.out_w, tx.index.get(), ty.index.get(), src, dst}, "resize");
    return;
  }
  for_each(w, n,
           ResamplePixel<E>{s, p.out_h, p.out_w, tx.n, ty.n, tx.index.get(), ty.index.get(), tx.weight.get(),
                            ty.weight.get(), src, dst},
           "resize");
}

}  // namespace

void resize_u8(Where w, const ResizeParams& p, const uint8_t* src, uint8_t* dst) { resize(w, p, src, dst); }
void resize_f32(Where w, const ResizeParams& p, const float* src, float* dst) { resize(w, p, src, dst); }

}  // namespace foveal::cuda
