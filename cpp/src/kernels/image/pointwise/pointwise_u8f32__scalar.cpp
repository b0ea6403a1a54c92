// Pixel-wise image kernels (pointwise ops, uint8 to float, gray, flips), scalar.
#include "kernels/common/simd/vec_scalar.h"
#include "kernels/image/pointwise/pointwise_u8f32_impl.h"
#include "kernels/registry.h"

namespace foveal {

void pointwise_u8__scalar(PointwiseOp op, size_t n, const uint8_t* x, const uint8_t* y,
                          const PointwiseParams& p, uint8_t* out) {
  pointwise_u8<VecScalar>(op, n, x, y, p, out);
}
void pointwise_f32__scalar(PointwiseOp op, size_t n, const float* x, const float* y,
                           const PointwiseParams& p, float* out) {
  pointwise<VecScalar, float>(op, n, x, y, p, out);
}
void pointwise_u8_to_f32__scalar(size_t n, const uint8_t* x, float scale, float* out) { u8_to_f32<VecScalar>(n, x, scale, out); }
void pointwise_u8_to_f32_stream__scalar(size_t n, const uint8_t* x, float scale, float* out) {
  u8_to_f32_stream<VecScalar>(n, x, scale, out);
}
void gray_u8__scalar(size_t n, size_t channels, const uint8_t* src, uint8_t* dst) { gray_u8(n, channels, src, dst); }
void gray_f32__scalar(size_t n, size_t channels, const float* src, float* dst) { gray_f32(n, channels, src, dst); }
void flip_x8_row__scalar(size_t n, size_t pixel_bytes, const uint8_t* src, uint8_t* dst) { flip_row<VecScalar>(n, pixel_bytes, src, dst); }

}  // namespace foveal
