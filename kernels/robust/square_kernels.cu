// See square_kernels.cuh. Compiled with -fmad=false (CMakeLists.txt), as the
// other attack kernels: x ± eps rounds as the CPU's.
#include <math.h>

#include "nmode/detail/attack_losses.hpp"
#include "nmode/detail/attack_step.hpp"
#include "nmode/detail/softmax_ce.hpp"
#include "robust/row_blocks.cuh"
#include "robust/square_kernels.cuh"

namespace nmode::cuda_attack_kernels {
namespace {

__global__ void stripes_kernel(int64_t rows_in_batch, SquareParams p, const float* __restrict__ x,
                               const uint64_t* __restrict__ streams, float* __restrict__ best) {
  const int64_t plane = int64_t(p.height) * p.width, d = p.channels * plane;
  const int64_t total = rows_in_batch * d, stride = int64_t(blockDim.x) * gridDim.x;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < total; e += stride) {
    const int64_t j = e / d, i = e - j * d;
    const int64_t channel = i / plane, column = (i - channel * plane) % p.width;
    const float sigma = detail::square_stripe_sign(streams[j], channel, column, p.width);
    best[e] = detail::square_vertex_element(x[e], p.eps, sigma, p.lo, p.hi);
  }
}

// One thread per listed row: the rows are few (a batch) and short (the classes).
__global__ void margin_kernel(const int32_t* __restrict__ rows, int64_t count, int64_t k,
                              const float* __restrict__ logits, const int32_t* __restrict__ y,
                              double* __restrict__ scratch, double* __restrict__ margin,
                              uint8_t* __restrict__ correct, uint8_t* __restrict__ nonfinite) {
  const int64_t stride = int64_t(blockDim.x) * gridDim.x;
  for (int64_t a = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; a < count; a += stride) {
    const int64_t j = rows[a];
    const float* z = logits + a * k;
    correct[j] = detail::row_is_correct(z, k, y[j]) ? 1 : 0;
    const bool finite = detail::all_finite_values(z, k);
    if (!finite) {
      nonfinite[j] = 1;
      margin[j] = nan("");
      continue;
    }
    double* zd = scratch + a * k;
    for (int64_t c = 0; c < k; ++c) zd[c] = z[c];
    margin[j] = detail::margin_loss_row(zd, k, y[j]);
  }
}

// One block per listed row: its first thread draws the square, then the block writes the row.
__global__ void propose_kernel(const int32_t* __restrict__ rows, SquareParams p, int side,
                               const float* __restrict__ x, const float* __restrict__ best,
                               uint64_t* __restrict__ streams, float* __restrict__ signs,
                               float* __restrict__ proposal, float* __restrict__ model_input) {
  __shared__ int64_t corner[2];
  const int64_t a = blockIdx.x, j = rows[a];
  float* sign = signs + a * p.channels;
  if (threadIdx.x == 0) {
    uint64_t stream = streams[j];
    detail::square_draw_proposal(stream, p.height, p.width, side, p.channels, corner[0], corner[1], sign);
    streams[j] = stream;
  }
  __syncthreads();  // the corner in shared memory and the signs in global memory
  const int64_t plane = int64_t(p.height) * p.width, d = p.channels * plane;
  const int64_t r0 = corner[0], c0 = corner[1];
  for (int64_t i = threadIdx.x; i < d; i += kThreads) {
    const int64_t channel = i / plane, rest = i - channel * plane, row = rest / p.width, column = rest % p.width;
    const bool inside = row >= r0 && row < r0 + side && column >= c0 && column < c0 + side;
    const float v =
        inside ? detail::square_vertex_element(x[j * d + i], p.eps, sign[channel], p.lo, p.hi) : best[j * d + i];
    proposal[a * d + i] = v;
    model_input[a * d + i] = v;
  }
}

__global__ void accept_kernel(const int32_t* __restrict__ rows, int64_t d, const float* __restrict__ proposal,
                              const double* __restrict__ margin_new, const uint8_t* __restrict__ correct_new,
                              double* __restrict__ margin_best, uint8_t* __restrict__ correct_best,
                              float* __restrict__ best) {
  const int64_t a = blockIdx.x, j = rows[a];
  const double m = margin_new[j];
  if (!(m < margin_best[j] || m <= 0.0)) return;
  for (int64_t i = threadIdx.x; i < d; i += kThreads) best[j * d + i] = proposal[a * d + i];
  __syncthreads();  // every thread has read margin_best[j] before it changes
  if (threadIdx.x == 0) {
    margin_best[j] = m;
    correct_best[j] = correct_new[j];
  }
}

}  // namespace

void square_stripes(int64_t rows_in_batch, const SquareParams& p, const float* x, const uint64_t* streams,
                    float* best) {
  const int64_t total = rows_in_batch * p.channels * int64_t(p.height) * p.width;
  if (total == 0) return;
  stripes_kernel<<<blocks_for(total), kThreads>>>(rows_in_batch, p, x, streams, best);
  check_launch();
}

void square_margins(const int32_t* rows, int64_t count, int64_t k, const float* logits, const int32_t* y,
                    double* scratch, double* margin, uint8_t* correct, uint8_t* nonfinite) {
  if (count == 0) return;
  margin_kernel<<<blocks_for(count), kThreads>>>(rows, count, k, logits, y, scratch, margin, correct, nonfinite);
  check_launch();
}

void square_propose(const int32_t* rows, int64_t count, const SquareParams& p, int side, const float* x,
                    const float* best, uint64_t* streams, float* signs, float* proposal, float* model_input) {
  if (count == 0) return;
  propose_kernel<<<row_blocks(count), kThreads>>>(rows, p, side, x, best, streams, signs, proposal, model_input);
  check_launch();
}

void square_accept(const int32_t* rows, int64_t count, int64_t d, const float* proposal, const double* margin_new,
                   const uint8_t* correct_new, double* margin_best, uint8_t* correct_best, float* best) {
  if (count == 0) return;
  accept_kernel<<<row_blocks(count), kThreads>>>(rows, d, proposal, margin_new, correct_new, margin_best,
                                                 correct_best, best);
  check_launch();
}

}  // namespace nmode::cuda_attack_kernels
