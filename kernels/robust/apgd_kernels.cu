// See apgd_kernels.cuh. Compiled with -fmad=false (CMakeLists.txt), as the other
// attack kernels: the steps round as the CPU's.
#include <math.h>

#include "nmode/detail/attack_step.hpp"
#include "nmode/detail/softmax_ce.hpp"
#include "robust/apgd_kernels.cuh"
#include "robust/row_blocks.cuh"

namespace nmode::cuda_attack_kernels {
namespace {

constexpr double kRho = 0.75;  // the CPU's ApgdRun::kRho

__global__ void start_kernel(const int32_t* __restrict__ rows, int64_t d, const float* __restrict__ x,
                             const uint64_t* __restrict__ streams, ApgdParams p, float* __restrict__ cur) {
  __shared__ double shared[kThreads];
  const int64_t a = blockIdx.x, j = rows[a];
  const uint64_t stream = streams[a];
  // The direction is recomputed where it is written: cheaper than keeping it.
  auto direction = [&](int64_t i) {
    return p.linf ? detail::apgd_linf_start_direction(stream, uint64_t(i))
                  : detail::l2_start_direction(stream, uint64_t(i));
  };
  double r = 0.0;
  for (int64_t i = threadIdx.x; i < d; i += kThreads) {
    const double t = direction(i);
    r = p.linf ? fmax(r, fabs(t)) : r + t * t;
  }
  const double size = p.linf ? block_max(r, shared) : sqrt(block_sum(r, shared));
  const double scale = p.eps / (size + 1e-12);
  for (int64_t i = threadIdx.x; i < d; i += kThreads)
    cur[j * d + i] = detail::l2_start_element(x[j * d + i], scale, direction(i), p.lo, p.hi);
}

__global__ void take_gradient_kernel(const int32_t* __restrict__ rows, int64_t d, float* __restrict__ dx,
                                     bool record_zero_grad, ApgdBuffers b) {
  const int64_t a = blockIdx.x, j = rows[a];
  int bad = 0, nonzero = 0;
  for (int64_t i = threadIdx.x; i < d; i += kThreads) {
    float v = dx[a * d + i];
    if (!detail::finite_value(v)) {  // never let NaN reach an iterate
      v = 0.0f;
      bad = 1;
    }
    nonzero |= v != 0.0f;
    b.g[j * d + i] = v;
    if (!b.correct[j]) b.found[j * d + i] = b.cur[j * d + i];
  }
  bad = __syncthreads_or(bad);
  nonzero = __syncthreads_or(nonzero);
  if (threadIdx.x != 0) return;
  if (bad) b.nonfinite[j] = 1;
  if (!b.correct[j]) b.fooled[j] = 1;
  if (record_zero_grad) b.zero_grad[j] = !b.nonfinite[j] && !nonzero;
}

__global__ void begin_kernel(const int32_t* __restrict__ rows, int64_t d, double eta0, ApgdBuffers b) {
  const int64_t a = blockIdx.x, j = rows[a];
  for (int64_t i = threadIdx.x; i < d; i += kThreads) {
    b.prev[j * d + i] = b.cur[j * d + i];
    b.best[j * d + i] = b.cur[j * d + i];
    b.g_best[j * d + i] = b.g[j * d + i];
  }
  if (threadIdx.x != 0) return;
  b.loss_best[j] = b.loss_prev[j] = b.loss_best_at_check[j] = b.loss[j];
  b.reduced_at_check[j] = 1;  // condition 2 cannot fire at the first checkpoint
  b.increases[j] = 0;
  b.eta[j] = eta0;
}

// Π₂ of row j's tmp around x (project_l2), every thread holding its own coordinates.
__device__ void project_l2_row(int64_t j, int64_t d, const float* x, double eps, float lo, float hi, float* tmp,
                               double* shared) {
  double s = 0.0;
  for (int64_t i = threadIdx.x; i < d; i += kThreads) {
    const double delta = static_cast<double>(tmp[j * d + i]) - x[j * d + i];
    s += delta * delta;
  }
  const double factor = detail::l2_projection_factor(sqrt(block_sum(s, shared)), eps);
  for (int64_t i = threadIdx.x; i < d; i += kThreads)
    tmp[j * d + i] = detail::l2_project_element(x[j * d + i], tmp[j * d + i], factor, lo, hi);
}

__global__ void step_kernel(const int32_t* __restrict__ rows, int64_t d, const float* __restrict__ x, ApgdParams p,
                            double a_momentum, ApgdBuffers b) {
  __shared__ double shared[kThreads];
  const int64_t a = blockIdx.x, j = rows[a];
  const float fa = static_cast<float>(a_momentum), fb = static_cast<float>(1.0 - a_momentum);
  const float eta = static_cast<float>(b.eta[j]), eps = static_cast<float>(p.eps);
  float* cur = b.cur + j * d;
  float* tmp = b.tmp + j * d;
  const float* g = b.g + j * d;
  const float* xj = x + j * d;
  if (p.linf) {
    for (int64_t i = threadIdx.x; i < d; i += kThreads)
      tmp[i] = detail::apgd_linf_element(xj[i], cur[i], g[i], eta, eps, p.lo, p.hi);
  } else {
    double gg = 0.0;
    for (int64_t i = threadIdx.x; i < d; i += kThreads) gg += static_cast<double>(g[i]) * g[i];
    const double inv_norm = 1.0 / (sqrt(block_sum(gg, shared)) + detail::kApgdL2Guard);
    for (int64_t i = threadIdx.x; i < d; i += kThreads) tmp[i] = detail::l2_move_element(cur[i], g[i], inv_norm, eta);
    project_l2_row(j, d, x, p.eps, p.lo, p.hi, b.tmp, shared);
  }
  for (int64_t i = threadIdx.x; i < d; i += kThreads) {
    tmp[i] = detail::apgd_momentum_element(cur[i], b.prev[j * d + i], tmp[i], fa, fb);
    b.prev[j * d + i] = cur[i];
  }
  if (p.linf) {
    for (int64_t i = threadIdx.x; i < d; i += kThreads) cur[i] = detail::linf_project_element(xj[i], tmp[i], eps, p.lo, p.hi);
  } else {
    project_l2_row(j, d, x, p.eps, p.lo, p.hi, b.tmp, shared);
    for (int64_t i = threadIdx.x; i < d; i += kThreads) cur[i] = tmp[i];
  }
}

__global__ void update_kernel(const int32_t* __restrict__ rows, int64_t d, int k, ApgdBuffers b) {
  __shared__ int improved, reduce;
  const int64_t a = blockIdx.x, j = rows[a];
  if (threadIdx.x == 0) {
    const double li = b.loss[j];  // NaN fails every comparison: no update, no increase
    improved = li > b.loss_best[j];
    if (improved) b.loss_best[j] = li;
    if (li > b.loss_prev[j]) ++b.increases[j];
    b.loss_prev[j] = li;
    reduce = 0;
    if (k != 0) {
      // Halve eta after too few successful steps in the last k (cond1, "<=" as the
      // reference code) or no progress since the last check at an unchanged eta (cond2).
      const bool cond1 = b.increases[j] <= kRho * k;
      const bool cond2 = !b.reduced_at_check[j] && b.loss_best_at_check[j] >= b.loss_best[j];
      reduce = cond1 || cond2;
      b.reduced_at_check[j] = reduce ? 1 : 0;
      b.loss_best_at_check[j] = b.loss_best[j];
      b.increases[j] = 0;
      if (reduce) b.eta[j] *= 0.5;
    }
  }
  __syncthreads();
  for (int64_t i = threadIdx.x; i < d; i += kThreads) {
    const int64_t at = j * d + i;
    if (improved) {
      b.best[at] = b.cur[at];
      b.g_best[at] = b.g[at];
    }
    if (reduce) {  // restart from the best point; prev is kept, so momentum is best - prev
      b.cur[at] = b.best[at];
      b.g[at] = b.g_best[at];
    }
  }
}

__global__ void keep_best_kernel(const int32_t* __restrict__ rows, int64_t d, bool first_restart, ApgdBuffers b,
                                 double* __restrict__ loss_result, float* __restrict__ x_best) {
  __shared__ int keep;
  const int64_t a = blockIdx.x, j = rows[a];
  if (threadIdx.x == 0) {
    keep = first_restart || b.loss_best[j] > loss_result[j];
    if (keep) loss_result[j] = b.loss_best[j];
  }
  __syncthreads();
  if (keep)
    for (int64_t i = threadIdx.x; i < d; i += kThreads) x_best[j * d + i] = b.best[j * d + i];
}

__global__ void answers_kernel(int64_t d, ApgdBuffers b, float* __restrict__ adv) {
  const int64_t j = blockIdx.x;
  if (!b.fooled[j]) return;
  for (int64_t i = threadIdx.x; i < d; i += kThreads) adv[j * d + i] = b.found[j * d + i];
}

}  // namespace

void apgd_start(const int32_t* rows, int64_t count, int64_t d, const float* x, const uint64_t* streams,
                const ApgdParams& p, float* cur) {
  if (count == 0) return;
  start_kernel<<<row_blocks(count), kThreads>>>(rows, d, x, streams, p, cur);
  check_launch();
}

void apgd_take_gradient(const int32_t* rows, int64_t count, int64_t d, float* dx, bool record_zero_grad,
                        const ApgdBuffers& b) {
  if (count == 0) return;
  take_gradient_kernel<<<row_blocks(count), kThreads>>>(rows, d, dx, record_zero_grad, b);
  check_launch();
}

void apgd_begin(const int32_t* rows, int64_t count, int64_t d, double eta0, const ApgdBuffers& b) {
  if (count == 0) return;
  begin_kernel<<<row_blocks(count), kThreads>>>(rows, d, eta0, b);
  check_launch();
}

void apgd_step(const int32_t* rows, int64_t count, int64_t d, const float* x, const ApgdParams& p, double a,
               const ApgdBuffers& b) {
  if (count == 0) return;
  step_kernel<<<row_blocks(count), kThreads>>>(rows, d, x, p, a, b);
  check_launch();
}

void apgd_update(const int32_t* rows, int64_t count, int64_t d, int k, const ApgdBuffers& b) {
  if (count == 0) return;
  update_kernel<<<row_blocks(count), kThreads>>>(rows, d, k, b);
  check_launch();
}

void apgd_keep_best(const int32_t* rows, int64_t count, int64_t d, bool first_restart, const ApgdBuffers& b,
                    double* loss_result, float* x_best) {
  if (count == 0) return;
  keep_best_kernel<<<row_blocks(count), kThreads>>>(rows, d, first_restart, b, loss_result, x_best);
  check_launch();
}

void apgd_answers(int64_t rows_in_batch, int64_t d, const ApgdBuffers& b, float* adv) {
  if (rows_in_batch == 0) return;
  answers_kernel<<<row_blocks(rows_in_batch), kThreads>>>(d, b, adv);
  check_launch();
}

}  // namespace nmode::cuda_attack_kernels
