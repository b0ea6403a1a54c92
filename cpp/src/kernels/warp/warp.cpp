// Affine warp driver: inverts the matrix as OpenCV's invertAffineTransform (double precision)
// and runs the row kernel over the output rows in parallel.
#include "foveal/dispatch.h"
#include "foveal/image_ops.h"
#include "foveal/parallel.h"

namespace foveal {
namespace {

WarpRowParams row_params(const WarpParams& p) {
  const double* M = p.matrix;
  double D = M[0] * M[4] - M[1] * M[3];
  D = D != 0.0 ? 1.0 / D : 0.0;
  WarpRowParams r{p.shape.height, p.shape.width, p.shape.channels, p.out_w, {}, p.interp, p.border, p.cval};
  r.m[0] = M[4] * D;
  r.m[1] = M[1] * -D;
  r.m[3] = M[3] * -D;
  r.m[4] = M[0] * D;
  r.m[2] = -r.m[0] * M[2] - r.m[1] * M[5];
  r.m[5] = -r.m[3] * M[2] - r.m[4] * M[5];
  return r;
}

template <class E, class Row>
void warp(const WarpParams& p, const E* src, E* dst, Row row) {
  const WarpRowParams rp = row_params(p);
  const size_t in_img = p.shape.height * p.shape.width * p.shape.channels;
  const size_t out_row = p.out_w * p.shape.channels;
  const size_t tasks = p.shape.batch * p.out_h;
  parallel_for(tasks, threads_for(tasks, tasks * out_row * 4), [&](size_t task, int) {
    const size_t n = task / p.out_h, y = task % p.out_h;
    row(rp, src + n * in_img, y, dst + task * out_row);
  });
}

}  // namespace

void warp_affine_u8(const WarpParams& p, const uint8_t* src, uint8_t* dst) { warp(p, src, dst, kernels().warp_row_u8); }
void warp_affine_f32(const WarpParams& p, const float* src, float* dst) { warp(p, src, dst, kernels().warp_row_f32); }

}  // namespace foveal
