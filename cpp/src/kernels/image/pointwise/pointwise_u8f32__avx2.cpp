// Pixel-wise image kernels (pointwise ops, uint8 to float, gray, flips), avx2.
#include "kernels/common/simd/vec_avx2.h"
#include "kernels/image/pointwise/pointwise_u8f32_impl.h"
#include "kernels/registry.h"

namespace foveal {

void pointwise_u8__avx2(PointwiseOp op, size_t n, const uint8_t* x, const uint8_t* y,
                        const PointwiseParams& p, uint8_t* out) {
  pointwise_u8<VecAvx2>(op, n, x, y, p, out);
}
void pointwise_f32__avx2(PointwiseOp op, size_t n, const float* x, const float* y,
                         const PointwiseParams& p, float* out) {
  pointwise<VecAvx2, float>(op, n, x, y, p, out);
}
void pointwise_u8_to_f32__avx2(size_t n, const uint8_t* x, float scale, float* out) { u8_to_f32<VecAvx2>(n, x, scale, out); }
void gray_u8__avx2(size_t n, size_t channels, const uint8_t* src, uint8_t* dst) { gray_u8(n, channels, src, dst); }
void gray_f32__avx2(size_t n, size_t channels, const float* src, float* dst) { gray_f32(n, channels, src, dst); }
void flip_x8_row__avx2(size_t n, size_t pixel_bytes, const uint8_t* src, uint8_t* dst) { flip_row<VecAvx2>(n, pixel_bytes, src, dst); }

}  // namespace foveal
