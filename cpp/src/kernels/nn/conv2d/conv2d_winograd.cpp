// 3x3 stride-1 convolutions by Winograd's minimal filtering: F(4x4, 3x3) (each 4x4 block of
// output pixels, a tile, takes 36 multiplications per channel pair instead of 144) where the
// output is large enough for its tiles, else F(2x2, 3x3) (16 instead of 36). The kernel is
// transformed once per call (U = G g G^T, in double); tiles go in blocks sized for L2: their
// input windows are transformed (V = B^T d B), the products U_xi * V_xi are GEMMs on the packed
// micro-kernel, and the outputs come back through A^T M A with the bias and ReLU fused (any
// other activation is a pass over those pixels while they are in cache).
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "foveal/dispatch.h"
#include "foveal/ops.h"
#include "foveal/parallel.h"
#include "kernels/nn/conv2d/conv2d.h"
#include "kernels/nn/gemm/gemm.h"

namespace foveal {
namespace {

// FOVEAL_WINOGRAD: "0" turns Winograd off, "2" keeps F(2x2, 3x3) only; unset (or anything
// else): F(4x4, 3x3) where it pays.
int winograd_setting() {
  static const int setting = [] {
    const char* env = std::getenv("FOVEAL_WINOGRAD");
    if (env != nullptr && std::strcmp(env, "0") == 0) return 0;
    if (env != nullptr && std::strcmp(env, "2") == 0) return 2;
    return 4;
  }();
  return setting;
}
bool winograd_enabled() { return winograd_setting() != 0; }

// The output tile (2 or 4) of a Winograd convolution: F(4x4, 3x3) for outputs of at least
// 16 x 16 pixels and at most 192 channels in and out together (measured, one thread: 1.3-1.6x
// faster than F(2x2, 3x3) at 28x28 to 56x56 with 32-96 channels; about even at 128 + 128
// channels, where a block of tiles reuses its 36 transformed kernels too little), or of at least
// 8 x 8 pixels with at most 96 channels in and out together (two threads, interleaved: 8x8 to
// 15x15 with 16 + 32 to 48 + 48 channels 1.2-1.45x faster forward, the backward even or faster;
// with 64 + 64 channels and more at 12x12 to 14x14 it was even or slower), and where its
// multiplications over the tiles that cover the output (36 per 4x4 tile) stay under 80% of
// F(2x2, 3x3)'s (16 per 2x2 tile).
size_t winograd_tile(const Conv2dParams& p) {
  const size_t side = std::min(p.out_h, p.out_w), channels = p.in_c + p.out_c;
  if (winograd_setting() != 4 || side < 8 || channels > 192 || (side < 16 && channels > 96)) return 2;
  const size_t f4 = div_up(p.out_h, 4) * div_up(p.out_w, 4) * 36;
  const size_t f2 = div_up(p.out_h, 2) * div_up(p.out_w, 2) * 16;
  return f4 * 5 < f2 * 4 ? 4 : 2;
}

// Output channels per block of the kernel transforms: each step below runs over a block, in
// double precision, element by element in the same order (the compiler's vectors), so every
// element takes the same operations as one at a time.
constexpr size_t kTransformBlock = 64;

// U[xi][ci][co] = (G g G^T)[xi] for the Keras kernel (3 x 3 x Cin x Cout).
std::vector<float> transform_kernel(const float* kernel, size_t cin, size_t cout) {
  std::vector<float> u(16 * cin * cout);
  // in parallel over input channels (each writes its own entries): done serially, it was a
  // sixth of a 128-channel layer's time on two threads
  parallel_for(cin, threads_for(cin, 16 * cin * cout), [&](size_t ci, int) {
    constexpr size_t B = kTransformBlock;
    double g[9][B], gg[4][3][B];
    for (size_t co0 = 0; co0 < cout; co0 += B) {
      const size_t nb = cout - co0 < B ? cout - co0 : B;
      for (size_t t = 0; t < 9; ++t) {
        const float* src = kernel + (t * cin + ci) * cout + co0;
        for (size_t j = 0; j < nb; ++j) g[t][j] = src[j];
      }
      for (size_t s = 0; s < 3; ++s)  // G g
        for (size_t j = 0; j < nb; ++j) {
          gg[0][s][j] = g[s][j];
          gg[1][s][j] = 0.5 * (g[s][j] + g[3 + s][j] + g[6 + s][j]);
          gg[2][s][j] = 0.5 * (g[s][j] - g[3 + s][j] + g[6 + s][j]);
          gg[3][s][j] = g[6 + s][j];
        }
      for (size_t q = 0; q < 4; ++q) {  // (G g) G^T
        float* d0 = u.data() + ((q * 4 + 0) * cin + ci) * cout + co0;
        float* d1 = d0 + cin * cout;
        float* d2 = d1 + cin * cout;
        float* d3 = d2 + cin * cout;
        const double *a = gg[q][0], *b = gg[q][1], *c = gg[q][2];
        for (size_t j = 0; j < nb; ++j) {
          d0[j] = static_cast<float>(a[j]);
          d1[j] = static_cast<float>(0.5 * (a[j] + b[j] + c[j]));
          d2[j] = static_cast<float>(0.5 * (a[j] - b[j] + c[j]));
          d3[j] = static_cast<float>(c[j]);
        }
      }
    }
  });
  return u;
}

// o = G (a, b, c) of F(4x4, 3x3), over n elements of each.
static inline void g4_times(const double* a, const double* b, const double* c, size_t n,
                            double (*o)[kTransformBlock]) {
  for (size_t j = 0; j < n; ++j) {
    o[0][j] = a[j] / 4;
    o[1][j] = -(a[j] + b[j] + c[j]) / 6;
    o[2][j] = -(a[j] - b[j] + c[j]) / 6;
    o[3][j] = a[j] / 24 + b[j] / 12 + c[j] / 6;
    o[4][j] = a[j] / 24 - b[j] / 12 + c[j] / 6;
    o[5][j] = c[j];
  }
}

// U[xi][ci][co] = (G g G^T)[xi] of F(4x4, 3x3), xi < 36, G = [1/4 0 0; -1/6 -1/6 -1/6;
// -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1].
std::vector<float> transform_kernel4(const float* kernel, size_t cin, size_t cout) {
  std::vector<float> u(36 * cin * cout);
  parallel_for(cin, threads_for(cin, 36 * cin * cout), [&](size_t ci, int) {
    constexpr size_t B = kTransformBlock;
    double g[9][B], col[3][6][B], gt[3][B], row[6][B];
    for (size_t co0 = 0; co0 < cout; co0 += B) {
      const size_t nb = cout - co0 < B ? cout - co0 : B;
      for (size_t t = 0; t < 9; ++t) {
        const float* src = kernel + (t * cin + ci) * cout + co0;
        for (size_t j = 0; j < nb; ++j) g[t][j] = src[j];
      }
      for (size_t s = 0; s < 3; ++s) g4_times(g[s], g[3 + s], g[6 + s], nb, col[s]);  // G g
      for (size_t q = 0; q < 6; ++q) {  // (G g) G^T
        for (size_t s = 0; s < 3; ++s)
          for (size_t j = 0; j < nb; ++j) gt[s][j] = col[s][q][j];
        g4_times(gt[0], gt[1], gt[2], nb, row);
        for (size_t w = 0; w < 6; ++w) {
          float* dst = u.data() + ((q * 6 + w) * cin + ci) * cout + co0;
          for (size_t j = 0; j < nb; ++j) dst[j] = static_cast<float>(row[w][j]);
        }
      }
    }
  });
  return u;
}

// Tile `tile` of the th_n x tw_n tiles (of ts x ts output pixels) per image: its first output
// pixel (image n, row oh0, column ow0) and, in d, the (ts+2)^2 pixels of its input window
// (zeros where it leaves the image).
struct TileOrigin {
  size_t n, oh0, ow0;
};
TileOrigin tile_window(const Conv2dParams& p, const float* x, size_t tile, size_t th_n, size_t tw_n,
                       const float* zeros, const float** d, size_t ts = 2) {
  const size_t n = tile / (th_n * tw_n), rest = tile % (th_n * tw_n);
  const size_t oh0 = ts * (rest / tw_n), ow0 = ts * (rest % tw_n);
  const ptrdiff_t ih0 = static_cast<ptrdiff_t>(oh0) - static_cast<ptrdiff_t>(p.pad_top);
  const ptrdiff_t iw0 = static_cast<ptrdiff_t>(ow0) - static_cast<ptrdiff_t>(p.pad_left);
  const ptrdiff_t H = static_cast<ptrdiff_t>(p.in_h), W = static_cast<ptrdiff_t>(p.in_w);
  const ptrdiff_t a = static_cast<ptrdiff_t>(ts + 2);
  const float* image = x + n * p.in_h * p.in_w * p.in_c;
  for (ptrdiff_t r = 0; r < a; ++r)
    for (ptrdiff_t s = 0; s < a; ++s) {
      const ptrdiff_t ih = ih0 + r, iw = iw0 + s;
      d[r * a + s] = ih >= 0 && ih < H && iw >= 0 && iw < W
                         ? image + (static_cast<size_t>(ih) * p.in_w + static_cast<size_t>(iw)) * p.in_c
                         : zeros;
    }
  return {n, oh0, ow0};
}

}  // namespace

bool conv2d_uses_winograd(const Conv2dParams& p) {
  return winograd_enabled() && p.kh == 3 && p.kw == 3 && p.stride_h == 1 && p.stride_w == 1 &&
         p.dilation_h == 1 && p.dilation_w == 1 && p.groups == 1 && p.in_c >= 8 && p.out_c >= 16 &&
         // with wide layers a block holds too few tiles to reuse the 16 transformed kernels
         // (each block streams all of them): the cache-blocked direct GEMM is faster there
         p.in_c + p.out_c < 512;
}

bool conv2d_winograd_pools(const Conv2dParams& p, const ConvPool& q) {
  const size_t ts = winograd_tile(p);
  return conv2d_uses_winograd(p) && ts % q.pool_h == 0 && ts % q.pool_w == 0;
}

// The pooled pixels of the ts x ts output tile at (n, oh0, ow0), whose pixels (cout channels
// each) are in tile, rows row_stride floats apart; y: N x ph x pw x cout. Tiles start at
// multiples of ts, so the windows (pool_h and pool_w dividing ts) never straddle two, and the
// windows taken lie inside the output.
static void pool_tile(pool_row_fn row, const ConvPool& q, size_t ts, size_t cout, const float* tile,
                      size_t row_stride, size_t n, size_t oh0, size_t ow0, size_t ph, size_t pw, float* y) {
  const size_t r0 = oh0 / q.pool_h, c0 = ow0 / q.pool_w;
  if (r0 >= ph || c0 >= pw) return;
  const size_t rows = std::min(ts / q.pool_h, ph - r0), cols = std::min(ts / q.pool_w, pw - c0);
  const PoolRowParams rp{cout, cols * q.pool_w, cols, q.pool_w, q.pool_w, 0};
  const float* in[4];   // pool_h <= ts <= 4
  for (size_t r = 0; r < rows; ++r) {
    for (size_t j = 0; j < q.pool_h; ++j) in[j] = tile + (r * q.pool_h + j) * row_stride;
    row(rp, in, q.pool_h, y + ((n * ph + r0 + r) * pw + c0) * cout);
  }
}

void conv2d_winograd_f32(const Conv2dParams& p, const float* x, const float* kernel, const float* bias,
                         float* y, const ConvPool* pool, float* keep) {
  const KernelTable& t = kernels();
  const size_t mr = t.gemm_tile.mr, nr = t.gemm_tile.nr;
  const size_t cin = p.in_c, cout = p.out_c;
  const size_t ts = winograd_tile(p), npos = (ts + 2) * (ts + 2);   // tile side, products
  const winograd_input_fn input = ts == 4 ? t.winograd_input4 : t.winograd_input;
  const winograd_output_fn output = ts == 4 ? t.winograd_output4 : t.winograd_output;
  const size_t th_n = div_up(p.out_h, ts), tw_n = div_up(p.out_w, ts);
  const size_t tiles = p.batch * th_n * tw_n;

  const std::vector<float> u = ts == 4 ? transform_kernel4(kernel, cin, cout)
                                       : transform_kernel(kernel, cin, cout);
  const size_t per_xi = packed_b_floats(cin, cout, t.gemm_tile), panels = div_up(cout, nr);
  FloatBuffer packed(npos * per_xi);
  parallel_for(npos, threads_for(npos, npos * cin * cout), [&](size_t xi, int) {
    pack_b_panels(cin, cout, u.data() + xi * cin * cout, cout, t.gemm_tile, packed.get() + xi * per_xi, 0, panels);
  });

  // Tiles per block: the block's V (npos x tb x cin) and M (npos x tb x cout) within ~384 KiB
  // (F(4x4, 3x3): ~768 KiB, so that a block still has several strips to reuse each U_xi on).
  size_t tb = ((ts == 4 ? size_t{192} : size_t{96}) << 10) / (npos * (cin + cout));
  tb = tb < mr ? mr : (tb > 16 * mr ? 16 * mr : tb / mr * mr);
  const size_t blocks = div_up(tiles, tb);
  const int threads = threads_for(blocks, tiles * npos * cin * cout / 64);
  const size_t scratch_floats = npos * tb * (cin + cout);
  std::vector<float> scratch_pool(scratch_floats * threads);
  const std::vector<float> zeros(cin, 0.0f);
  // Pooled: each tile's pixels go to a tile of scratch per thread, pooled from there.
  const size_t ph = pool ? p.out_h / pool->pool_h : 0, pw = pool ? p.out_w / pool->pool_w : 0;
  const pool_row_fn pool_row = pool ? (pool->average ? t.avgpool_row : t.maxpool_row) : nullptr;
  std::vector<float> tile_pool(pool && !keep ? ts * ts * cout * threads : 0);
  float* const conv_out = pool ? keep : y;   // where the convolution's pixels go (or scratch)

  parallel_for(blocks, threads, [&](size_t block, int tid) {
    float* v = scratch_pool.data() + tid * scratch_floats;
    float* m = v + npos * tb * cin;
    const size_t t0 = block * tb, nb = tiles - t0 < tb ? tiles - t0 : tb;
    const float* d[36];
    for (size_t i = 0; i < nb; ++i) {  // input transforms
      tile_window(p, x, t0 + i, th_n, tw_n, zeros.data(), d, ts);
      input(cin, d, v + i * cin, tb * cin);
    }
    const float* ptrs[16];
    const float* scratch[16];
    for (size_t xi = 0; xi < npos; ++xi) {  // the products
      const IgemmProblem prob{cout, cin, 1, packed.get() + xi * per_xi, nullptr, m + xi * tb * cout, cout,
                              Activation::none};
      for (size_t m0 = 0; m0 < nb; m0 += mr) {
        const size_t rows = nb - m0 < mr ? nb - m0 : mr;
        for (size_t i = 0; i < rows; ++i) ptrs[i] = v + (xi * tb + m0 + i) * cin;
        igemm_strip(t, prob, m0, rows, ptrs, scratch, 0, panels);
      }
    }
    float* out[16];
    const size_t nout = ts * ts;
    float* tile_out = pool && !keep ? tile_pool.data() + tid * nout * cout : nullptr;
    for (size_t i = 0; i < nb; ++i) {  // output transforms
      const size_t tile = t0 + i, n = tile / (th_n * tw_n), rest = tile % (th_n * tw_n);
      const size_t oh0 = ts * (rest / tw_n), ow0 = ts * (rest % tw_n);
      for (size_t r = 0; r < ts; ++r)
        for (size_t s = 0; s < ts; ++s)
          out[r * ts + s] = tile_out ? tile_out + (r * ts + s) * cout
                            : oh0 + r < p.out_h && ow0 + s < p.out_w
                                ? conv_out + ((n * p.out_h + oh0 + r) * p.out_w + ow0 + s) * cout
                                : nullptr;
      output(cout, m + i * cout, tb * cout, bias, p.activation == Activation::relu, out);
      if (p.activation != Activation::none && p.activation != Activation::relu)
        for (size_t k = 0; k < nout; ++k)   // the other activations: a pass over the pixels, still in cache
          if (out[k] != nullptr) t.activation(cout, out[k], out[k], p.activation);
      if (pool && tile_out)
        pool_tile(pool_row, *pool, ts, cout, tile_out, ts * cout, n, oh0, ow0, ph, pw, y);
      else if (pool)   // from the kept output, still in cache
        pool_tile(pool_row, *pool, ts, cout, keep + ((n * p.out_h + oh0) * p.out_w + ow0) * cout,
                  p.out_w * cout, n, oh0, ow0, ph, pw, y);
    }
  });
}


// ---------------------------------------------------------------------------------------------
// The kernel gradient by the same algorithm. Differentiating Y = A^T [(G g G^T) . (B^T d B)] A
// (each tile) with respect to g gives
//   dg = sum over tiles of G^T [(A dY A^T) . (B^T d B)] G,
// so the 16 sums over tiles of (A dY A^T)_xi (x) (B^T d B)_xi are GEMM-shaped (Cin x Cout, K =
// tiles), run on the kernel-gradient tile (conv_kgrad_fn) over blocks of transformed tiles, and
// G^T . G turns the 16 sums into the 3x3 gradient once at the end: 16 multiply-adds per tile and
// channel pair instead of 36. F(4x4, 3x3) likewise: 36 sums, 36 multiply-adds per 4x4 tile
// instead of 144 (its G^T . G in double). The tiles are cut into a fixed number of parts (each
// summed on its own copy, then the copies in order), so the bits do not depend on the thread
// count.

bool conv2d_kgrad_uses_winograd(const Conv2dParams& p) {
  // Narrow layers only: each block of tiles updates all 16 Cin x Cout sums, which must stay in L2.
  return winograd_enabled() && p.kh == 3 && p.kw == 3 && p.stride_h == 1 && p.stride_w == 1 &&
         p.dilation_h == 1 && p.dilation_w == 1 && p.groups == 1 && p.in_c >= 8 && p.out_c >= 16 &&
         p.in_c + p.out_c <= 256 && p.out_h * p.out_w >= 64;
}


static void transform_kgrad_sums(const float* m, size_t per_xi, size_t i, float* dkernel);
static void transform_kgrad_sums4(const float* m, size_t per_xi, size_t i, float* dkernel);

// The output tile of the kernel gradient: F(4x4, 3x3) where the forward pass takes it and the
// 36 Cin x Cout sums of a part stay within 512 KiB (L2), else F(2x2, 3x3).
size_t winograd_kgrad_tile(const Conv2dParams& p) {
  return winograd_tile(p) == 4 && 36 * p.in_c * p.out_c * sizeof(float) <= (size_t{512} << 10) ? 4 : 2;
}

void conv2d_winograd_kgrad_f32(const Conv2dParams& p, const float* x, const float* dy, float* dkernel) {
  const KernelTable& t = kernels();
  const size_t mr = t.kgrad_tile.mr, nr = t.kgrad_tile.nr;
  const size_t cin = p.in_c, cout = p.out_c, per_xi = cin * cout;
  const size_t ts = winograd_kgrad_tile(p), npos = (ts + 2) * (ts + 2);   // tile side, sums
  const winograd_input_fn input = ts == 4 ? t.winograd_input4 : t.winograd_input;
  const winograd_dy_fn dy_transform = ts == 4 ? t.winograd_dy4 : t.winograd_dy;
  const size_t th_n = div_up(p.out_h, ts), tw_n = div_up(p.out_w, ts);
  const size_t tiles = p.batch * th_n * tw_n;
  constexpr size_t kParts = 4;
  const size_t parts = std::min(kParts, div_up(tiles, 16));
  // Tiles per block: the block's V (npos x tb x cin) and W (npos x tb x cout) within ~512 KiB.
  size_t tb = (size_t{128} << 10) / (npos * (cin + cout));
  tb = tb < 8 ? 8 : tb;
  FloatBuffer sums(parts * npos * per_xi);
  const size_t scratch_floats = npos * tb * (cin + cout);
  const int threads = threads_for(parts, tiles * npos * per_xi / 64);
  std::vector<float> scratch_pool(scratch_floats * threads);
  const std::vector<float> zeros(std::max(cin, cout), 0.0f);
  const size_t rblocks = div_up(cin, mr), cblocks = div_up(cout, nr);
  parallel_for(parts, threads, [&](size_t part, int tid) {
    float* v = scratch_pool.data() + tid * scratch_floats;
    float* w = v + npos * tb * cin;
    float* m = sums.get() + part * npos * per_xi;
    const size_t p0 = tiles * part / parts, p1 = tiles * (part + 1) / parts;
    const float* d[36];
    const float* g[16];
    for (size_t t0 = p0; t0 < p1; t0 += tb) {
      const size_t nb = p1 - t0 < tb ? p1 - t0 : tb;
      for (size_t i = 0; i < nb; ++i) {  // both transforms of each tile
        const auto [n, oh0, ow0] = tile_window(p, x, t0 + i, th_n, tw_n, zeros.data(), d, ts);
        input(cin, d, v + i * cin, tb * cin);
        for (size_t r = 0; r < ts; ++r)
          for (size_t s = 0; s < ts; ++s)
            g[r * ts + s] = oh0 + r < p.out_h && ow0 + s < p.out_w
                                ? dy + ((n * p.out_h + oh0 + r) * p.out_w + ow0 + s) * cout
                                : zeros.data();
        dy_transform(cout, g, w + i * cout, tb * cout);
      }
      const size_t zero = 0;
      for (size_t xi = 0; xi < npos; ++xi)  // sums_xi (Cin x Cout) += V_xi^T W_xi over the block
        for (size_t cb = 0; cb < cblocks; ++cb) {
          const size_t c0 = cb * nr, nc = std::min(nr, cout - c0);
          for (size_t rb = 0; rb < rblocks; ++rb) {
            const size_t r0 = rb * mr;
            const ConvKgradParams kp{std::min(mr, cin - r0), nc, cin, cout, t0 > p0};
            t.conv_kgrad(kp, v + xi * tb * cin + r0, w + xi * tb * cout + c0, &zero, &zero, &nb, 1,
                         m + xi * per_xi + r0 * cout + c0, cout);
          }
        }
    }
  });
  float* m = sums.get();
  // Per channel pair i, in parallel over chunks of pairs: the parts' sums in order into the
  // first, then dg = G^T M G.
  parallel_for_chunks(per_xi, 4096, [&](size_t i0, size_t len) {
    for (size_t part = 1; part < parts; ++part) {
      const float* src = sums.get() + part * npos * per_xi;
      for (size_t xi = 0; xi < npos; ++xi)
        for (size_t i = i0; i < i0 + len; ++i) m[xi * per_xi + i] += src[xi * per_xi + i];
    }
    for (size_t i = i0; i < i0 + len; ++i)
      (ts == 4 ? transform_kgrad_sums4 : transform_kgrad_sums)(m, per_xi, i, dkernel);
  });
}

// The kernel gradient of channel pair i from its 16 sums M (m[xi * per_xi + i]) of F(2x2, 3x3):
// G^T M G, G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1].
static void transform_kgrad_sums(const float* m, size_t per_xi, size_t i, float* dkernel) {
  {
    float h[4][3];
    for (int q = 0; q < 4; ++q) {  // h = M G
      const float m0 = m[(q * 4) * per_xi + i], m1 = m[(q * 4 + 1) * per_xi + i];
      const float m2 = m[(q * 4 + 2) * per_xi + i], m3 = m[(q * 4 + 3) * per_xi + i];
      h[q][0] = m0 + 0.5f * (m1 + m2);
      h[q][1] = 0.5f * (m1 - m2);
      h[q][2] = 0.5f * (m1 + m2) + m3;
    }
    for (int s = 0; s < 3; ++s) {  // dg = G^T h
      dkernel[(0 * 3 + s) * per_xi + i] = h[0][s] + 0.5f * (h[1][s] + h[2][s]);
      dkernel[(1 * 3 + s) * per_xi + i] = 0.5f * (h[1][s] - h[2][s]);
      dkernel[(2 * 3 + s) * per_xi + i] = 0.5f * (h[1][s] + h[2][s]) + h[3][s];
    }
  }
}

// (a, b, c) = G^T (m0..m5) of F(4x4, 3x3), G as transform_kernel4's, in double.
static inline void g4t_times(const double* v, double* o) {
  o[0] = v[0] / 4 - (v[1] + v[2]) / 6 + (v[3] + v[4]) / 24;
  o[1] = (v[2] - v[1]) / 6 + (v[3] - v[4]) / 12;
  o[2] = -(v[1] + v[2]) / 6 + (v[3] + v[4]) / 6 + v[5];
}

// The same from the 36 sums of F(4x4, 3x3), in double (G's fractions and the sums' spread).
static void transform_kgrad_sums4(const float* m, size_t per_xi, size_t i, float* dkernel) {
  double h[6][3];
  for (int q = 0; q < 6; ++q) {  // h = M G, row by row
    double v[6];
    for (int k = 0; k < 6; ++k) v[k] = m[(q * 6 + k) * per_xi + i];
    g4t_times(v, h[q]);
  }
  for (int s = 0; s < 3; ++s) {  // dg = G^T h, column by column
    double v[6], o[3];
    for (int q = 0; q < 6; ++q) v[q] = h[q][s];
    g4t_times(v, o);
    for (int r = 0; r < 3; ++r) dkernel[(r * 3 + s) * per_xi + i] = static_cast<float>(o[r]);
  }
}

}  // namespace foveal
