// Max and average pooling (NHWC, Keras semantics: padded cells never take part), their gradients
// in gather form (one thread per input value, no atomics: the sum over the windows holding it),
// and global average / max pooling. One thread per output (forward) or input (backward) value;
// global max pooling's gradient: one thread per image and channel, after a zeroing pass.
#include <cfloat>

#include "cuda/launch.h"

namespace foveal::cuda {
namespace {

// The part of the kernel window of output (oh, ow) inside the image: rows [h0, h1), cols [w0, w1).
struct Window {
  size_t h0, h1, w0, w1;
};
FOVEAL_HD Window window(const Pool2dParams& p, size_t oh, size_t ow) {
  const ptrdiff_t hs = static_cast<ptrdiff_t>(oh * p.stride_h) - static_cast<ptrdiff_t>(p.pad_top);
  const ptrdiff_t ws = static_cast<ptrdiff_t>(ow * p.stride_w) - static_cast<ptrdiff_t>(p.pad_left);
  const ptrdiff_t he = hs + static_cast<ptrdiff_t>(p.kh), we = ws + static_cast<ptrdiff_t>(p.kw);
  const ptrdiff_t H = static_cast<ptrdiff_t>(p.in_h), W = static_cast<ptrdiff_t>(p.in_w);
  return {static_cast<size_t>(hs < 0 ? 0 : hs), static_cast<size_t>(he > H ? H : he),
          static_cast<size_t>(ws < 0 ? 0 : ws), static_cast<size_t>(we > W ? W : we)};
}

// Index of the first maximum (row-major) of window win of image n, channel c; sets *best.
FOVEAL_HD size_t argmax(const Pool2dParams& p, const float* x, size_t n, size_t c, const Window& win, float* best) {
  size_t at = ((n * p.in_h + win.h0) * p.in_w + win.w0) * p.channels + c;
  float m = x[at];
  for (size_t h = win.h0; h < win.h1; ++h)
    for (size_t w = win.w0; w < win.w1; ++w) {
      const size_t i = ((n * p.in_h + h) * p.in_w + w) * p.channels + c;
      if (x[i] > m) { m = x[i]; at = i; }
    }
  *best = m;
  return at;
}

template <bool kMax>
struct PoolForward {
  Pool2dParams p;
  const float* x;
  float* y;
  FOVEAL_HD void operator()(size_t i) const {
    const size_t c = i % p.channels, t = i / p.channels, ow = t % p.out_w, t2 = t / p.out_w;
    const size_t oh = t2 % p.out_h, n = t2 / p.out_h;
    const Window win = window(p, oh, ow);
    if (kMax) {
      float m;
      argmax(p, x, n, c, win, &m);
      y[i] = m;
      return;
    }
    float acc = 0.0f;
    for (size_t h = win.h0; h < win.h1; ++h)
      for (size_t w = win.w0; w < win.w1; ++w) acc += x[((n * p.in_h + h) * p.in_w + w) * p.channels + c];
    y[i] = acc / static_cast<float>((win.h1 - win.h0) * (win.w1 - win.w0));
  }
};

// The outputs whose windows hold input row (or column) v: [lo, hi) of an axis of `out` outputs.
FOVEAL_HD void covering(size_t v, size_t pad, size_t k, size_t stride, size_t out, size_t* lo, size_t* hi) {
  const size_t u = v + pad;  // position in padded coordinates: output o covers [o*s, o*s + k)
  *lo = u + 1 > k ? (u + 1 - k + stride - 1) / stride : 0;
  const size_t h = u / stride + 1;
  *hi = h < out ? h : out;
}

template <bool kMax>
struct PoolBackward {
  Pool2dParams p;
  const float* x;  // max only
  const float* dy;
  float* dx;
  bool through_relu;
  FOVEAL_HD void operator()(size_t i) const {
    const size_t c = i % p.channels, t = i / p.channels, iw = t % p.in_w, t2 = t / p.in_w;
    const size_t ih = t2 % p.in_h, n = t2 / p.in_h;
    size_t oh0, oh1, ow0, ow1;
    covering(ih, p.pad_top, p.kh, p.stride_h, p.out_h, &oh0, &oh1);
    covering(iw, p.pad_left, p.kw, p.stride_w, p.out_w, &ow0, &ow1);
    float acc = 0.0f;
    for (size_t oh = oh0; oh < oh1; ++oh)
      for (size_t ow = ow0; ow < ow1; ++ow) {
        const Window win = window(p, oh, ow);
        const float g = dy[((n * p.out_h + oh) * p.out_w + ow) * p.channels + c];
        if (kMax) {
          float m;
          if (argmax(p, x, n, c, win, &m) == i && (!through_relu || m > 0.0f)) acc += g;
        } else {
          acc += g / static_cast<float>((win.h1 - win.h0) * (win.w1 - win.w0));
        }
      }
    dx[i] = acc;
  }
};

template <bool kMax>
struct GlobalPool {
  size_t hw, c;
  const float* x;
  float* y;
  FOVEAL_HD void operator()(size_t i) const {  // i = n * c + channel
    const float* xi = x + (i / c) * hw * c + i % c;
    float acc = kMax ? xi[0] : 0.0f;
    for (size_t k = kMax ? 1 : 0; k < hw; ++k) acc = kMax ? (xi[k * c] > acc ? xi[k * c] : acc) : acc + xi[k * c];
    y[i] = kMax ? acc : acc / static_cast<float>(hw);
  }
};

struct GlobalAvgBackward {
  size_t hw, c;
  const float* dy;
  float* dx;
  FOVEAL_HD void operator()(size_t i) const {  // i over N x HW x C
    const size_t ch = i % c, n = i / (hw * c);
    dx[i] = dy[n * c + ch] / static_cast<float>(hw);
  }
};

// Global max pooling's gradient: dy[n, c] to the first maximum of channel c of image n (the
// CPU's order: the first value, then strictly greater ones); dx is zeroed before (ZeroFill).
struct GlobalMaxBackward {
  size_t hw, c;
  const float* x;
  const float* dy;
  float* dx;
  FOVEAL_HD void operator()(size_t i) const {  // i = n * c + channel
    const size_t base = (i / c) * hw * c + i % c;
    const float* xi = x + base;
    float best = xi[0];
    size_t at = 0;
    for (size_t k = 1; k < hw; ++k)
      if (xi[k * c] > best) { best = xi[k * c]; at = k; }
    dx[base + at * c] = dy[i];
  }
};

struct ZeroFill {
  float* p;
  FOVEAL_HD void operator()(size_t i) const { p[i] = 0.0f; }
};

}  // namespace

void max_pool2d_f32_nhwc(Where w, const Pool2dParams& p, const float* x, float* y) {
  for_each(w, p.batch * p.out_h * p.out_w * p.channels, PoolForward<true>{p, x, y}, "max_pool2d");
}
void avg_pool2d_f32_nhwc(Where w, const Pool2dParams& p, const float* x, float* y) {
  for_each(w, p.batch * p.out_h * p.out_w * p.channels, PoolForward<false>{p, x, y}, "avg_pool2d");
}
void max_pool2d_backward_f32_nhwc(Where w, const Pool2dParams& p, const float* x, const float* dy, float* dx,
                                  bool through_relu) {
  for_each(w, p.batch * p.in_h * p.in_w * p.channels, PoolBackward<true>{p, x, dy, dx, through_relu},
           "max_pool2d_backward");
}
void avg_pool2d_backward_f32_nhwc(Where w, const Pool2dParams& p, const float* dy, float* dx) {
  for_each(w, p.batch * p.in_h * p.in_w * p.channels, PoolBackward<false>{p, nullptr, dy, dx, false},
           "avg_pool2d_backward");
}
void global_avg_pool2d_f32(Where w, size_t batch, size_t hw, size_t c, const float* x, float* y) {
  for_each(w, batch * c, GlobalPool<false>{hw, c, x, y}, "global_avg_pool2d");
}
void global_max_pool2d_f32(Where w, size_t batch, size_t hw, size_t c, const float* x, float* y) {
  for_each(w, batch * c, GlobalPool<true>{hw, c, x, y}, "global_max_pool2d");
}
void global_avg_pool2d_backward_f32(Where w, size_t batch, size_t hw, size_t c, const float* dy, float* dx) {
  for_each(w, batch * hw * c, GlobalAvgBackward{hw, c, dy, dx}, "global_avg_pool2d_backward");
}
void global_max_pool2d_backward_f32(Where w, size_t batch, size_t hw, size_t c, const float* x, const float* dy,
                                    float* dx) {
  for_each(w, batch * hw * c, ZeroFill{dx}, "global_max_pool2d_backward (zero)");
  for_each(w, batch * c, GlobalMaxBackward{hw, c, x, dy, dx}, "global_max_pool2d_backward");
}

}  // namespace foveal::cuda
