// Per-channel moments (mean and sum of squared deviations, M2) of rows x c float32 matrices in
// double, as batch normalization computes its statistics (batchnorm.cpp): the convolution
// drivers use them to give a following batch normalization its statistics from the output rows
// they have just written (still in cache), instead of a pass of its own over memory.
#pragma once

#include <cstddef>

#include "foveal/dispatch.h"

namespace foveal {

// The statistics' fixed decomposition: chunks of kMomentChunk rows (summed in float), merged in
// double into blocks of kMomentBlock rows, the blocks merged in order.
constexpr size_t kMomentChunk = 64;
constexpr size_t kMomentBlock = 1024;

// Per chunk k of the rows (chunks of kMomentChunk from row 0, the last maybe shorter): its mean
// cm[k*c + j] and sum of squared deviations cq[k*c + j], in double. scratch: 4 * c floats.
void chunk_moments(const KernelTable& t, size_t rows, size_t c, const float* x, float* scratch,
                   double* cm, double* cq);
// The mean and M2 of all `rows` rows from their chunks' (chunk_moments over the whole matrix, or
// over pieces of it starting at multiples of kMomentChunk rows), merged exactly as
// batch_norm_train_f32 merges them: the same bits as its statistics.
void merge_chunk_moments(size_t rows, size_t c, const double* cm, const double* cq, double* mean,
                         double* m2);

// sum[j] = the sum of column j of a rows x c matrix, in double, with the statistics' decomposition
// (chunks summed in float by the table's channel_moments, added in double per block on the
// threads, then the blocks in order): the bits depend on neither the thread count nor the ISA.
// A convolution's bias gradient.
void column_sum_f32(size_t rows, size_t c, const float* x, double* sum);

// (mean_a, m2_a) of n_a rows becomes that of those rows and n_b more (mean_b, m2_b).
void merge_moments(size_t c, double n_a, double* mean_a, double* m2_a, double n_b,
                   const double* mean_b, const double* m2_b);

}  // namespace foveal
