// Pixel-wise drivers: the kernels run over cache-sized chunks in parallel.
#include <cstring>

#include "foveal/dispatch.h"
#include "foveal/image_ops.h"
#include "foveal/parallel.h"

namespace foveal {
namespace {

constexpr size_t kChunk = 1 << 16;  // values per task

}  // namespace

void pointwise_u8(PointwiseOp op, size_t n, const uint8_t* x, const uint8_t* y,
                  const PointwiseParams& p, uint8_t* out) {
  const KernelTable& t = kernels();
  parallel_for_chunks(n, kChunk, [&](size_t i0, size_t len) {
    t.pointwise_u8(op, len, x + i0, y ? y + i0 : nullptr, p, out + i0);
  });
}

void pointwise_f32(PointwiseOp op, size_t n, const float* x, const float* y,
                   const PointwiseParams& p, float* out) {
  const KernelTable& t = kernels();
  parallel_for_chunks(n, kChunk, [&](size_t i0, size_t len) {
    t.pointwise_f32(op, len, x + i0, y ? y + i0 : nullptr, p, out + i0);
  });
}

void u8_to_f32(size_t n, const uint8_t* x, float scale, float* out, bool stream) {
  const KernelTable& t = kernels();
  const pointwise_u8_to_f32_fn kernel = stream ? t.u8_to_f32_stream : t.u8_to_f32;
  parallel_for_chunks(n, kChunk, [&](size_t i0, size_t len) {
    kernel(len, x + i0, scale, out + i0);
  });
}

void rgb_to_gray_u8(size_t pixels, size_t channels, const uint8_t* src, uint8_t* dst) {
  const KernelTable& t = kernels();
  parallel_for_chunks(pixels, kChunk, [&](size_t i0, size_t len) {
    t.gray_u8(len, channels, src + i0 * channels, dst + i0);
  });
}

void rgb_to_gray_f32(size_t pixels, size_t channels, const float* src, float* dst) {
  const KernelTable& t = kernels();
  parallel_for_chunks(pixels, kChunk, [&](size_t i0, size_t len) {
    t.gray_f32(len, channels, src + i0 * channels, dst + i0);
  });
}

void flip_images(size_t batch, size_t h, size_t w, size_t pixel_bytes, bool horizontal,
                 bool vertical, const uint8_t* src, uint8_t* dst) {
  const KernelTable& t = kernels();
  const size_t row_bytes = w * pixel_bytes, rows = batch * h;
  parallel_for(rows, threads_for(rows, rows * row_bytes / 4), [&](size_t r, int) {
    const size_t n = r / h, y = r % h;
    const uint8_t* s = src + (n * h + (vertical ? h - 1 - y : y)) * row_bytes;
    uint8_t* d = dst + r * row_bytes;
    if (horizontal) t.flip_row(w, pixel_bytes, s, d);
    else std::memcpy(d, s, row_bytes);
  });
}

}  // namespace foveal
