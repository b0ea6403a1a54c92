// Kernel interfaces: parameter structs and micro-kernel function-pointer types.
// Kernels take raw pointers, sizes, strides and a params struct; they know nothing of Python.
#pragma once

#include <cstddef>
#include <cstdint>

namespace foveal {

// Elementwise activations (Keras 3 definitions). relu and relu6 are fused into the GEMM and
// depthwise tiles; every other one runs as a pass over the rows just written (igemm_strip, the
// depthwise driver).
enum class Activation : int {
  none = 0, relu = 1, sigmoid = 2, tanh = 3,
  relu6 = 4,         // min(max(x, 0), 6)
  hard_sigmoid = 5,  // relu6(x + 3) / 6
  hard_silu = 6,     // x * hard_sigmoid(x)  (hard_swish)
  silu = 7,          // x * sigmoid(x)  (swish)
  gelu = 8,          // x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)), the exact (erf) form
  leaky_relu = 9,    // x > 0 ? x : 0.2 x
  elu = 10,          // x > 0 ? x : exp(x) - 1
  softplus = 11,     // log(1 + exp(x))
};
// Whether the activation's gradient is computed from its input x (true: hard_silu, silu, gelu,
// whose derivative is no function of the output) or from its output y (all the others).
constexpr bool activation_grad_from_input(Activation a) {
  return a == Activation::hard_silu || a == Activation::silu || a == Activation::gelu;
}

// ---------------------------------------------------------------------------------------------
// Indirect GEMM micro-kernel (one register tile):
//   C[mr x nc] (+)= sum over taps t of A_t[mr x kc] * B_t[kc x NR]
// a holds ntaps groups of mr row pointers (a[t*mr + i] is row i of tap t, kc contiguous floats;
// a zero row stands in for padding). packed_b holds ntaps*kc rows of panel_width(nc) contiguous
// floats (NR, or nc rounded up to whole vectors when nc < NR), zero padded past the matrix's
// columns. C is row-major with row stride c_stride; nc <= NR columns are written. A plain GEMM is
// the case ntaps == 1; a convolution has one tap per kernel position.
struct GemmEpilogue {
  const float* bias;      // NR-wide slice of the bias, or nullptr (used only when !accumulate)
  bool accumulate;        // true: C += A*B (a later K block); false: C = bias + A*B
  bool relu;              // apply max(0, .) after the sum (only on the last K block)
  bool relu6 = false;     // with relu: then min(., 6), as Activation::relu6
  const float* add = nullptr;  // a tensor added after the sum, before relu (row stride c_stride;
                               // only on the last K block): a residual connection
};
using gemm_ukernel_fn = void (*)(size_t mr, size_t nc, size_t kc, size_t ntaps,
                                 const float* const* a, const float* packed_b, float* c,
                                 size_t c_stride, const GemmEpilogue& ep);
// The same tile over `strips` whole strips of the tile's rows, one below the other: strip s reads
// its ntaps groups of row pointers from a + s * a_stride and writes (adds ep.add's) rows
// s * mr .. s * mr + mr - 1 of C. One call per panel and K block, not one per strip: the short
// sums of small-K layers (a 1x1 expansion from 16 channels) no longer pay the call and the
// tile's setup each time.
using gemm_strips_ukernel_fn = void (*)(size_t strips, size_t nc, size_t kc, size_t ntaps,
                                        const float* const* a, size_t a_stride,
                                        const float* packed_b, float* c, size_t c_stride,
                                        const GemmEpilogue& ep);
// The register tile those kernels compute: mr rows x nr columns (nr is the packed-B panel width),
// nr a multiple of lanes (the floats of one vector).
struct GemmTile {
  size_t mr, nr, lanes;
  // The packed row width of a panel of nc <= nr columns: nr, or nc rounded up to whole vectors
  // (a narrow last panel, e.g. the 24 output channels of a 1x1 projection, keeps the packed B
  // block small enough for L1; the micro-kernel steps by the vectors it computes).
  size_t panel_width(size_t nc) const {
    const size_t w = (nc + lanes - 1) / lanes * lanes;
    return w < nr ? w : nr;
  }
};
// One indirect GEMM, B already packed: C = bias + A*B over n columns, K = ntaps*kc (the A rows
// are pointers, ntaps*mr of them per strip of mr rows, filled by the driver).
struct IgemmProblem {
  size_t n;               // columns
  size_t kc;              // floats per tap
  size_t ntaps;
  const float* packed_b;  // ntaps*kc rows, div_up(n, nr) panels
  const float* bias;      // n floats or nullptr
  float* c;               // row 0, column 0
  size_t ldc;
  Activation act;         // relu and relu6 are fused; the others are a pass afterwards
  bool accumulate = false;  // C += A*B instead of C = bias + A*B
  const float* add = nullptr;  // n columns x the rows of C (row stride ldc) added before act
  // Instead of packed_b, B itself (ntaps*kc rows of n floats, row stride ldb): igemm_block then
  // packs each block it runs into the caller's scratch just before its strips use it.
  const float* b_src = nullptr;
  size_t ldb = 0;
  // With b_flip_taps > 0, b_src is instead the kernel (b_flip_taps taps of n x ldb floats) of
  // the convolution whose input gradient this GEMM is: row tap * ldb + co of B, column ci, is
  // b_src[((b_flip_taps - 1 - tap) * n + ci) * ldb + co] (the kernel turned 180 degrees, its
  // channel axes swapped), read so while packing: no flipped copy is written.
  size_t b_flip_taps = 0;
};
// Largest K block (floats) the micro-kernel runs over at once, so that a 6-row A strip stays in
// L1 and the packed B panel block in L2.
constexpr size_t kMaxBlockK = 1024;
// A tap longer than kMaxBlockK is cut into column ranges of at most this many floats.
constexpr size_t kTapPartK = 512;
// The K blocks of an indirect GEMM of ntaps taps of kc floats: all of K where it fits in
// kMaxBlockK, whole taps (taps_per_block of them) where a tap does, else each tap cut into
// `parts` column ranges of at most kTapPartK floats (a 3x3 layer of 512 channels has taps of
// 1536 floats: three parts of 512 keep its packed B blocks in L2 and each strip's A block in
// L1; measured 10-15% faster than two of 768). count blocks in all.
struct KBlocks {
  size_t count, taps_per_block, parts, kb;
  KBlocks(size_t kc, size_t ntaps) : count(1), taps_per_block(ntaps), parts(1), kb(kc) {
    const size_t blocks = (ntaps * kc + kMaxBlockK - 1) / kMaxBlockK;
    if (blocks <= 1) return;
    if (kc <= kMaxBlockK) {
      taps_per_block = (ntaps + blocks - 1) / blocks;
      count = (ntaps + taps_per_block - 1) / taps_per_block;
    } else {
      taps_per_block = 1;
      parts = (kc + kTapPartK - 1) / kTapPartK;
      kb = (kc + parts - 1) / parts;
      parts = (kc + kb - 1) / kb;
      count = ntaps * parts;
    }
  }
  size_t floats() const { return taps_per_block * kb; }   // the largest block's K
  // Block b: taps [t0, t0 + nt), columns [k0, k0 + kc_b) of each.
  void block(size_t b, size_t kc, size_t ntaps, size_t* t0, size_t* nt, size_t* k0,
             size_t* kc_b) const {
    if (parts > 1) {
      *t0 = b / parts;
      *nt = 1;
      *k0 = (b % parts) * kb;
      *kc_b = kc - *k0 < kb ? kc - *k0 : kb;
    } else {
      *t0 = b * taps_per_block;
      *nt = ntaps - *t0 < taps_per_block ? ntaps - *t0 : taps_per_block;
      *k0 = 0;
      *kc_b = kc;
    }
  }
};
// Rows [m0, m0 + mr) (mr <= the tile's rows) for the NR-wide panels [p0, p1): the register tile
// over every panel, K split into blocks of at most kMaxBlockK (whole taps, or column ranges of
// one long tap). ptrs holds ntaps*mr row pointers; scratch at least mr pointers.
using gemm_strip_fn = void (*)(const IgemmProblem& g, size_t m0, size_t mr, const float* const* ptrs,
                               const float** scratch, size_t p0, size_t p1);
// The same tile with A stored transposed: A(i, k) = a[k * lda + i] (one tap).
// dst[i * ldd + j] = src[j * lds + i] for i < rows, j < cols: a rows x cols block of the
// transpose of the cols x rows block at src (B packing from a transposed or turned source).
using transpose_fn = void (*)(size_t rows, size_t cols, const float* src, size_t lds, float* dst,
                              size_t ldd);
using gemm_at_ukernel_fn = void (*)(size_t mr, size_t nc, size_t kc, const float* a, size_t lda,
                                    const float* packed_b, float* c, size_t c_stride,
                                    const GemmEpilogue& ep);

// ---------------------------------------------------------------------------------------------
// Convolution kernel gradient, one register tile held over many output pixels:
//   C[mr x nc] (+)= sum over runs r, pixels q < count[r] of
//                   x[x_off[r] + q * x_step + i] * dy[dy_off[r] + q * dy_step + j]
// for rows i < mr (input channels of one tap, contiguous in x) and columns j < nc (output
// channels, contiguous in dy). A run is the pixels of one output row whose tap lies inside the
// image (or several such rows where they are contiguous); x and dy point at the tile's first
// channel. No packing: A is broadcast from x and B loaded from dy in place. C is row-major with
// row stride ldc (a slice of the kernel gradient in Keras's layout); C = the sum when
// !accumulate, C += it otherwise. The sums run over the runs in order, pixels in order.
struct ConvKgradParams {
  size_t mr, nc;           // tile rows (<= the tile's mr) and columns (<= its nr)
  size_t x_step, dy_step;  // floats between consecutive pixels of a run
  bool accumulate;
};
// Its register tile: mr rows x nr columns, nr a multiple of the vector width.
struct KgradTile {
  size_t mr, nr, width;
};
using conv_kgrad_fn = void (*)(const ConvKgradParams& p, const float* x, const float* dy,
                               const size_t* x_off, const size_t* dy_off, const size_t* count,
                               size_t nruns, float* c, size_t ldc);

// ---------------------------------------------------------------------------------------------
// Winograd F(2x2, 3x3) transforms of one tile, vectorized over its c channels.
// Input: d holds the 16 positions of the 4x4 input window (row-major; a zero row stands in for
// padding); writes V = B^T d B as 16 rows of c floats, xi_stride apart.
using winograd_input_fn = void (*)(size_t c, const float* const* d, float* v, size_t xi_stride);
// Output: m holds the 16 products (c floats each, xi_stride apart); writes Y = A^T m A + bias
// (bias may be nullptr), ReLU when asked, to the 2x2 output pixels y (nullptr: past the edge).
using winograd_output_fn = void (*)(size_t c, const float* m, size_t xi_stride, const float* bias,
                                    bool relu, float* const* y);
// The F(4x4, 3x3) forms (winograd_input4 / winograd_output4) take the same arguments with a 6x6
// window (36 positions and rows) and 36 products written to 4x4 output pixels.
// Kernel gradient: dy holds the 2x2 output gradients of a tile (row-major; a zero row past the
// edge), each c floats; writes W = A dY A^T as 16 rows of c floats, xi_stride apart
// (winograd_dy4: the 4x4 output gradients of an F(4x4, 3x3) tile, 36 rows).
using winograd_dy_fn = void (*)(size_t c, const float* const* dy, float* w, size_t xi_stride);

// ---------------------------------------------------------------------------------------------
// Depthwise convolution (channel multiplier 1), one output row of an NHWC image.
// rows holds the nrows input rows that the kernel rows [r0, r0 + nrows) read (those inside the
// image; padding rows contribute nothing); weights points at kernel row r0 of the kh x kw x C
// kernel; bias: channels or nullptr. activation: relu and relu6 are applied, any other is not
// (dw_row_fuses; the caller's pass).
struct DwConvRowParams {
  size_t channels, in_width, out_width;
  size_t kw, stride_w, dilation_w, pad_left;
  Activation activation;
  // Forward only: an output far larger than the caches (stream_output); the 3-wide kernel rows
  // write it with streaming stores where a whole aligned vector is (not read into the cache
  // first; the row ends with a store fence), other widths with plain stores.
  bool stream_out = false;
};
using dwconv_row_fn = void (*)(const DwConvRowParams& p, const float* const* rows, size_t nrows,
                               const float* weights, const float* bias, float* out);
// Its gradients, one row at a time (the same params; activation unused: dy is the gradient of
// the pre-activation output).
// Kernel gradient of one output row dy (out_width x channels): rows, nrows as dwconv_row's (the
// input rows that kernel rows [r0, r0 + nrows) read); adds
//   sum over ow of x_r[ow * stride_w + s * dilation_w - pad_left][c] * dy[ow][c]
// (columns outside the input row left out) into dk[(r * kw + s) * channels + c] for r < nrows
// (dk points at kernel row r0 of the gradient), and sum over ow of dy[ow][c] into db[c] (db
// nullptr: no bias gradient; nrows may be 0).
using dwconv_kgrad_row_fn = void (*)(const DwConvRowParams& p, const float* const* rows, size_t nrows,
                                     const float* dy, float* dk, float* db);
// Input gradient of one input row dx (in_width x channels), written whole: dy_rows[i] (out_width
// x channels) are the dy rows one of whose kernel rows, k_rows[i] (kw x channels), reads this
// row; dx[iw][c] = sum over i and over the taps s with iw + pad_left - s * dilation_w =
// ow * stride_w, 0 <= ow < out_width, of dy_i[ow][c] * k_i[s][c] (0 where none; nrows may be 0).
using dwconv_dx_row_fn = void (*)(const DwConvRowParams& p, const float* const* dy_rows,
                                  const float* const* k_rows, size_t nrows, float* dx);

// ---------------------------------------------------------------------------------------------
// Max / average pooling, one output row of an NHWC image. rows holds only the input rows that lie
// inside the image (nrows of them); padded cells never take part (Keras semantics: they are
// excluded from the average's divisor and never win the max).
struct PoolRowParams {
  size_t channels, in_width, out_width;
  size_t kw, stride_w, pad_left;
  // Max backward only: the pooled input is a ReLU's output and the gradient goes on through that
  // ReLU, so a window whose maximum is not above 0 passes nothing (ReLU's gradient fused in).
  bool through_relu = false;
  // Backward only: no two windows share a cell (strides at least the pool size), so each dx cell
  // a window covers is stored, not added to (the caller zeroes only the cells no window covers).
  bool overwrite = false;
  // Forward only: the output is written with streaming stores where a whole aligned vector is
  // (stream_output; the row ends with a store fence).
  bool stream_out = false;
};
using pool_row_fn = void (*)(const PoolRowParams& p, const float* const* rows, size_t nrows,
                             float* out);
// Gradient of one pooled output row: dy (out_width x channels) is added into drows, the dx rows
// matching rows (stored there when p.overwrite). Max: all of a window's gradient to its first
// maximum (row-major order); average: an equal share to each cell of the window inside the image.
using pool_backward_row_fn = void (*)(const PoolRowParams& p, const float* const* rows,
                                      float* const* drows, size_t nrows, const float* dy);

// Global pooling of one image: x is hw rows of `channels` floats, row_stride apart; y is channels.
using global_pool_fn = void (*)(size_t hw, size_t channels, size_t row_stride, const float* x,
                                float* y);

// ---------------------------------------------------------------------------------------------
// Elementwise activation y = f(x) over n floats (x and y may alias).
using activation_fn = void (*)(size_t n, const float* x, float* y, Activation act);
// Its gradient dx = dy * f'(x), computed from src: the forward INPUT x where
// activation_grad_from_input(act), else the forward OUTPUT y = f(x) (dx may alias dy).
using activation_backward_fn = void (*)(size_t n, const float* dy, const float* src, float* dx,
                                       Activation act);
// Softmax over `cols` contiguous floats of one row (x and y may alias).
using softmax_row_fn = void (*)(size_t cols, const float* x, float* y);

}  // namespace foveal

namespace foveal {

// =============================================================================================
// Image kernels (uint8 or float32 pixels, interleaved channels).

enum class Border : int { constant = 0, replicate = 1, reflect = 2, reflect101 = 3, wrap = 4 };
enum class Interp : int { nearest = 0, bilinear = 1, bicubic = 2, area = 3 };

// Pointwise ops over n values: out = f(x, y). uint8 results are rounded half to even and
// saturated (OpenCV's saturate_cast).
enum class PointwiseOp : int {
  add,        // x + y
  subtract,   // x - y
  blend,      // x*a + y*b + c
  scale,      // x*a
  threshold,  // x > a ? b : 0
};
struct PointwiseParams { float a, b, c; };
using pointwise_u8_fn = void (*)(PointwiseOp op, size_t n, const uint8_t* x, const uint8_t* y,
                                 const PointwiseParams& p, uint8_t* out);
using pointwise_f32_fn = void (*)(PointwiseOp op, size_t n, const float* x, const float* y,
                                  const PointwiseParams& p, float* out);
using pointwise_u8_to_f32_fn = void (*)(size_t n, const uint8_t* x, float scale, float* out);

// Gray conversion of n pixels of `channels` (3 or 4, RGB order) interleaved values:
// uint8 (9798 R + 19235 G + 3735 B + 16384) >> 15 (OpenCV's fixed point), float 0.299/0.587/0.114.
using gray_u8_fn = void (*)(size_t n, size_t channels, const uint8_t* src, uint8_t* dst);
using gray_f32_fn = void (*)(size_t n, size_t channels, const float* src, float* dst);

// Horizontal flip of one row of n pixels of pixel_bytes bytes each.
using flip_row_fn = void (*)(size_t n, size_t pixel_bytes, const uint8_t* src, uint8_t* dst);

// Correlation of rows: out[j] = sum_r sum_s k[r*kw + s] * rows[r][j + s*step], j in [0, n).
// The 2-D filter (step = channels), either pass of a separable filter (nrows = 1 or kw = 1)
// and the vertical pass of resize are all this kernel. rows are float (already padded).
using correlate_f32_fn = void (*)(const float* const* rows, size_t nrows, const float* k,
                                  size_t kw, size_t step, size_t n, float* out);
using correlate_u8_fn = void (*)(const float* const* rows, size_t nrows, const float* k,
                                 size_t kw, size_t step, size_t n, uint8_t* out);
// Two consecutive output rows of the same correlation: rows holds nrows + 1 rows; out0 reads
// rows[0 .. nrows-1] and out1 rows[1 .. nrows]. Each input vector is loaded once for both (the
// 2-D filter is load-bound otherwise); the sums are the same, in the same order, as correlate's.
using correlate2_f32_fn = void (*)(const float* const* rows, size_t nrows, const float* k,
                                   size_t kw, size_t step, size_t n, float* out0, float* out1);
using correlate2_u8_fn = void (*)(const float* const* rows, size_t nrows, const float* k,
                                  size_t kw, size_t step, size_t n, uint8_t* out0, uint8_t* out1);
// One output row of a uint8 2-D filter with whole-number taps whose absolute values sum to at
// most 128, in 16-bit integers (every partial sum fits), from nrows padded uint8 rows:
//   out[j] = saturate_u8(sum_{r, s} k[r*kw + s] * rows[r][j + s*step]),  j in [0, n)
// Exact, as the float path is for such kernels.
using filter_int_u8_fn = void (*)(const uint8_t* const* rows, size_t nrows, const int16_t* k, size_t kw,
                                  size_t step, size_t n, uint8_t* out);
// The two passes of a uint8 separable filter whose taps are small integers (fixed point, the
// sums exact in uint16; filter2d.cpp says when): the vertical pass over nrows source rows,
// out[j] = sum_r k[r] * rows[r][j] (uint16, j in [0, n)), then the horizontal pass over that row
// (already padded), out[j] = sum_s k[s] * row[j + s*step] rounded half to even after a right
// shift by `shift` bits, saturated to uint8.
using sep_col_u8_fn = void (*)(const uint8_t* const* rows, size_t nrows, const uint16_t* k, size_t n,
                               uint16_t* out);
using sep_row_u8_fn = void (*)(const uint16_t* row, const uint16_t* k, size_t kw, size_t step, unsigned shift,
                               size_t n, uint8_t* out);

// Affine warp of one output row: source (x, y) = m * (x, y, 1) for every output pixel.
struct WarpRowParams {
  size_t src_h, src_w, channels;  // source image, rows of src_w*channels values
  size_t out_w;
  double m[6];                    // destination -> source, row-major 2x3
  Interp interp;                  // nearest, bilinear or bicubic
  Border border;
  float cval;
};
using warp_row_u8_fn = void (*)(const WarpRowParams& p, const uint8_t* src, size_t y, uint8_t* out);
using warp_row_f32_fn = void (*)(const WarpRowParams& p, const float* src, size_t y, float* out);
// The same row written as float32 with an intensity change fused into the store (augmentation):
// v * mul (when mul != 1), + add (when add != 0), then clipped to [lo, hi] when clip. The
// warped values are the float path's bit for bit (a uint8 source is read as its float values).
struct WarpIntensity {
  float mul = 1.0f, add = 0.0f, lo = 0.0f, hi = 0.0f;
  bool clip = false;
};
using warp_row_u8_to_f32_fn = void (*)(const WarpRowParams& p, const uint8_t* src, size_t y, float* out,
                                       const WarpIntensity& ie);
using warp_row_f32_intensity_fn = void (*)(const WarpRowParams& p, const float* src, size_t y, float* out,
                                           const WarpIntensity& ie);

// Horizontal resampling of one source row of row_values values:
//   out[x*C + c] = sum_t w[t*out_w + x] * row[idx[t*out_w + x] + c],  x in [0, out_w)
// (tables tap-major; idx already multiplied by the channel count).
using resample_row_u8_fn = void (*)(const uint8_t* row, size_t row_values, size_t channels,
                                    size_t out_w, size_t taps, const int32_t* idx, const float* w,
                                    float* out);
using resample_row_f32_fn = void (*)(const float* row, size_t row_values, size_t channels,
                                     size_t out_w, size_t taps, const int32_t* idx, const float* w,
                                     float* out);

// Bilinear uint8 resize in fixed point (2 taps per axis, weights in Q14: w0 + w1 = 16384), with
// pixels of C = 3 or 4 channels held in 4 lanes. Horizontal pass of one source row, to 16 bits
// (the value times 128, rounded):
//   out[4x + c] = (row[off[x] + c] * w[2x] + row[off[x] + C + c] * w[2x + 1] + 64) >> 7
// for c < C (0 for c >= C), where the second tap is read only when its weight is not 0 (then
// off[x] + C + c < row_bytes). Vertical pass, an output row of out_w pixels from two of those:
//   out[x*C + c] = (r0[4x + c] * b0 + r1[4x + c] * b1 + 2^20) >> 21   (b0 + b1 = 16384)
// Integer arithmetic only, so every ISA gives the same bytes.
using resize_hlinear_u8_fn = void (*)(const uint8_t* row, size_t row_bytes, size_t channels, size_t out_w,
                                      const int32_t* off, const int16_t* w, int16_t* out);
using resize_vlinear_u8_fn = void (*)(const int16_t* r0, const int16_t* r1, int32_t b0, int32_t b1,
                                      size_t channels, size_t out_w, uint8_t* out);

// One row of a nearest-neighbour resize: out pixel x (pixel_bytes bytes) = the pixel_bytes bytes
// at row + off[x]; bytes up to row + readable may be read. The segments (nearest_plan in
// resize.cpp, the same for every row of a resize) let a vector kernel move several pixels with
// one 16-byte load and byte shuffle; nsegs = 0 means none (pixel by pixel).
struct NearestSegment {
  uint8_t mask[16];  // output byte k of the segment = source byte src + mask[k] (0x80: none)
  int32_t src;       // byte offset of the 16-byte source window in the row
  int32_t dst;       // byte offset of the segment's first output pixel in the output row
  int32_t first;     // its first output pixel, and how many it has
  int32_t count;
};
using nearest_row_fn = void (*)(const uint8_t* row, size_t readable, size_t pixel_bytes,
                                size_t out_w, const int32_t* off, const NearestSegment* segs,
                                size_t nsegs, uint8_t* out);

// ---------------------------------------------------------------------------------------------
// Training kernels on rows x c matrices (c contiguous channels per row): batch normalization's
// column statistics and per-channel maps, dropout, and the optimizers' elementwise updates. Each
// performs the same float operations in the same order on every ISA (no FMA contraction), so all
// ISAs agree bit for bit with one another and with the NumPy formulas they replace.

// sum[j] = sum_i d, sumsq[j] = sum_i d*d with d = x[i][j] - shift[j] (shift nullptr: 0; sumsq
// nullptr: not computed). Sums run in float over the given rows (callers keep rows small).
using channel_moments_fn = void (*)(size_t rows, size_t c, const float* x, const float* shift,
                                    float* sum, float* sumsq);
// sum_a[j] = sum_i a, sum_ab[j] = sum_i a*b.
using channel_dot_fn = void (*)(size_t rows, size_t c, const float* a, const float* b, float* sum_a,
                                float* sum_ab);
// t = (x - shift) * scale; t_out = t (when not nullptr); y = t * mul + add (mul nullptr: t + add),
// then the activation when one is given: none, relu or relu6 (batch normalization followed by a
// ReLU in training, one pass; the others are rejected by the bindings).
struct ChannelAffine {
  const float* shift;
  const float* scale;
  const float* mul;
  const float* add;
  Activation activation = Activation::none;
};
using channel_affine_fn = void (*)(size_t rows, size_t c, const float* x, const ChannelAffine& p,
                                   float* y, float* t_out);
// Batch normalization's input gradient: dx = ((dy - mean_dy) - xhat * mean_dy_xhat) * scale.
using bn_backward_fn = void (*)(size_t rows, size_t c, const float* dy, const float* xhat,
                                const float* mean_dy, const float* mean_dy_xhat, const float* scale,
                                float* dx);
// The same gradients from the forward's input x instead of a stored xhat: xhat = (x - mean) *
// inv_std is recomputed (the forward's bits), and with an activation (relu, relu6) fused after
// the normalization, dy is the gradient at the activation's output and passes only where
// z = xhat * gamma + beta lies inside the activation's linear range (0 < z, and z < 6 for relu6),
// the mask the activation's own backward takes from its output.
struct BnBackwardParams {
  const float* mean;
  const float* inv_std;
  const float* gamma;
  const float* beta;
  Activation activation;
};
// sum_dz[j] = sum_i dz, sum_dz_xhat[j] = sum_i dz * xhat (dz: dy masked by the activation).
using bn_grad_sums_fn = void (*)(size_t rows, size_t c, const float* dy, const float* x,
                                 const BnBackwardParams& p, float* sum_dz, float* sum_dz_xhat);
// dx = ((dz - mean_dz) - xhat * mean_dz_xhat) * scale.
using bn_grad_input_fn = void (*)(size_t rows, size_t c, const float* dy, const float* x,
                                  const BnBackwardParams& p, const float* mean_dz,
                                  const float* mean_dz_xhat, const float* scale, float* dx);

// Dropout of n elements whose global indices start at index0: element i is kept when
// hash(index0 + i) >> 8 < threshold (a 24-bit uniform draw below keep * 2^24); mask = scale or 0
// and y = x * mask. The hash is a counter-based mix of the index with key0/key1, so the result
// depends only on the key and the index, never on the thread count.
struct DropoutParams {
  uint32_t key0, key1;
  uint32_t index0;
  int32_t threshold;
  float scale;
};
using dropout_fn = void (*)(size_t n, const float* x, float* y, float* mask, const DropoutParams& p);

// Optimizer updates in place (Keras 3's rules; see python/foveal/nn/optimizers.py).
struct SgdParams { float lr, momentum; bool nesterov; };                   // m: momentum or nullptr
using sgd_step_fn = void (*)(size_t n, float* w, const float* g, float* m, const SgdParams& p);
struct AdamParams { float alpha, one_minus_beta1, one_minus_beta2, epsilon; };
using adam_step_fn = void (*)(size_t n, float* w, const float* g, float* m, float* v, const AdamParams& p);
// v: velocity; m: momentum or nullptr; a: average gradient (centered) or nullptr.
struct RmspropParams { float lr, rho, one_minus_rho, momentum, epsilon; };
using rmsprop_step_fn = void (*)(size_t n, float* w, const float* g, float* v, float* m, float* a,
                                 const RmspropParams& p);

}  // namespace foveal
