// See attack_kernels.cuh. Compiled with -fmad=false (CMakeLists.txt): the steps'
// arithmetic is the CPU's (detail/attack_step.hpp) only if no multiply-add is
// fused behind it.
#include "nmode/detail/attack_losses.hpp"
#include "nmode/detail/attack_step.hpp"
#include "nmode/detail/softmax_ce.hpp"
#include "robust/attack_kernels.cuh"
#include "robust/row_blocks.cuh"

namespace nmode::cuda_attack_kernels {
namespace {

__global__ void gather_kernel(const int32_t* __restrict__ rows, int64_t count, int64_t d,
                              const float* __restrict__ from, float* __restrict__ to) {
  const int64_t total = count * d, stride = int64_t(blockDim.x) * gridDim.x;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < total; e += stride) {
    const int64_t a = e / d, i = e - a * d;
    to[e] = from[int64_t(rows[a]) * d + i];
  }
}

__global__ void copy_listed_kernel(const int32_t* __restrict__ rows, int64_t count, int64_t d,
                                   const float* __restrict__ from, float* __restrict__ to) {
  const int64_t total = count * d, stride = int64_t(blockDim.x) * gridDim.x;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < total; e += stride) {
    const int64_t a = e / d, i = e - a * d;
    const int64_t at = int64_t(rows[a]) * d + i;
    to[at] = from[at];
  }
}

__global__ void start_kernel(const int32_t* __restrict__ rows, int64_t d, const float* __restrict__ x,
                             const uint64_t* __restrict__ streams, StartParams p, float* __restrict__ cur) {
  __shared__ double shared[kThreads];
  const int64_t a = blockIdx.x, j = rows[a];
  const float* xj = x + j * d;
  float* out = cur + j * d;
  const uint64_t stream = streams[a];
  if (p.kind == StartKind::None) {
    for (int64_t i = threadIdx.x; i < d; i += kThreads) out[i] = xj[i];
    return;
  }
  if (p.kind == StartKind::Linf) {
    for (int64_t i = threadIdx.x; i < d; i += kThreads)
      out[i] = detail::linf_start_element(xj[i], p.eps, stream, uint64_t(i), p.lo, p.hi);
    return;
  }
  double s = 0.0;
  for (int64_t i = threadIdx.x; i < d; i += kThreads) {
    const double dir = detail::l2_start_direction(stream, uint64_t(i));
    s += dir * dir;
  }
  s = block_sum(s, shared);
  const double r = detail::l2_start_radius(stream, d, p.sphere, p.uniform_volume);
  const double scale = p.eps * r / (sqrt(s) + 1e-12);
  for (int64_t i = threadIdx.x; i < d; i += kThreads)  // the direction again: cheaper than keeping it
    out[i] = detail::l2_start_element(xj[i], scale, detail::l2_start_direction(stream, uint64_t(i)), p.lo, p.hi);
}

// One thread per listed row: the rows are few (a batch) and short (the classes).
__global__ void loss_kernel(const int32_t* __restrict__ rows, int64_t count, int64_t k,
                            const float* __restrict__ logits, const int32_t* __restrict__ y, bool dlr,
                            double* __restrict__ scratch, float* __restrict__ dlogits, uint8_t* __restrict__ correct,
                            uint8_t* __restrict__ nonfinite, double* __restrict__ loss) {
  const int64_t stride = int64_t(blockDim.x) * gridDim.x;
  for (int64_t a = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; a < count; a += stride) {
    const int64_t j = rows[a];
    const float* z = logits + a * k;
    float* dz = dlogits + a * k;
    correct[j] = detail::row_is_correct(z, k, y[j]) ? 1 : 0;
    const bool finite = detail::all_finite_values(z, k);
    if (!finite) {
      nonfinite[j] = 1;
      if (loss) loss[j] = nan("");
      for (int64_t c = 0; c < k; ++c) dz[c] = 0.0f;
      continue;
    }
    double* zd = scratch + a * 2 * k;
    double* dzd = zd + k;
    for (int64_t c = 0; c < k; ++c) zd[c] = z[c];
    const double value = dlr ? detail::dlr_loss_row(zd, k, y[j], dzd) : detail::ce_loss_row(zd, k, y[j], dzd);
    if (loss) loss[j] = value;
    for (int64_t c = 0; c < k; ++c) dz[c] = static_cast<float>(dzd[c]);
  }
}

__global__ void step_kernel(const int32_t* __restrict__ rows, int64_t d, const float* __restrict__ x,
                            float* __restrict__ grad, StepParams p, const uint8_t* __restrict__ correct,
                            float* __restrict__ cur, float* __restrict__ adv, uint8_t* __restrict__ fooled,
                            uint8_t* __restrict__ nonfinite, uint8_t* __restrict__ zero_grad) {
  __shared__ double shared[kThreads];
  const int64_t a = blockIdx.x, j = rows[a];
  const float* xj = x + j * d;
  float* g = grad + a * d;
  float* cj = cur + j * d;
  // Never let NaN reach an iterate (GradientOracle::evaluate).
  int bad = 0, nonzero = 0;
  for (int64_t i = threadIdx.x; i < d; i += kThreads) {
    if (!detail::finite_value(g[i])) {
      g[i] = 0.0f;
      bad = 1;
    }
    nonzero |= g[i] != 0.0f;
  }
  bad = __syncthreads_or(bad);
  nonzero = __syncthreads_or(nonzero);
  if (threadIdx.x == 0) {
    if (bad) nonfinite[j] = 1;
    if (p.first) zero_grad[j] = !nonfinite[j] && !nonzero;
  }
  if (p.track_success && !correct[j]) {  // the first misclassified iterate is the answer
    for (int64_t i = threadIdx.x; i < d; i += kThreads) adv[j * d + i] = cj[i];
    if (threadIdx.x == 0) fooled[j] = 1;
    return;
  }
  if (p.kind == StepKind::Fgsm) {
    for (int64_t i = threadIdx.x; i < d; i += kThreads) cj[i] = detail::fgsm_element(xj[i], g[i], p.eps, p.lo, p.hi);
    return;
  }
  if (p.kind == StepKind::Linf) {
    for (int64_t i = threadIdx.x; i < d; i += kThreads)
      cj[i] = detail::pgd_linf_element(xj[i], cj[i], g[i], p.alpha, p.eps, p.lo, p.hi);
    return;
  }
  double gg = 0.0;
  for (int64_t i = threadIdx.x; i < d; i += kThreads) gg += static_cast<double>(g[i]) * g[i];
  const double inv_norm = 1.0 / (sqrt(block_sum(gg, shared)) + detail::kPgdL2Guard);
  double dd = 0.0;
  for (int64_t i = threadIdx.x; i < d; i += kThreads) {
    cj[i] = detail::l2_move_element(cj[i], g[i], inv_norm, p.alpha);
    const double delta = static_cast<double>(cj[i]) - xj[i];
    dd += delta * delta;
  }
  const double factor = detail::l2_projection_factor(sqrt(block_sum(dd, shared)), p.eps_l2);
  for (int64_t i = threadIdx.x; i < d; i += kThreads) cj[i] = detail::l2_project_element(xj[i], cj[i], factor, p.lo, p.hi);
}

__global__ void verdict_kernel(const int32_t* __restrict__ rows, int64_t count, int64_t k,
                               const float* __restrict__ logits, const int32_t* __restrict__ y,
                               uint8_t* __restrict__ fooled, uint8_t* __restrict__ nonfinite) {
  const int64_t stride = int64_t(blockDim.x) * gridDim.x;
  for (int64_t a = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; a < count; a += stride) {
    const int64_t j = rows[a];
    const float* z = logits + a * k;
    const bool finite = detail::all_finite_values(z, k);
    if (!finite) nonfinite[j] = 1;
    if (!detail::row_is_correct(z, k, y[j])) fooled[j] = 1;
  }
}

}  // namespace

void gather_rows(const int32_t* rows, int64_t count, int64_t d, const float* from, float* to) {
  if (count == 0) return;
  gather_kernel<<<blocks_for(count * d), kThreads>>>(rows, count, d, from, to);
  check_launch();
}

void copy_listed_rows(const int32_t* rows, int64_t count, int64_t d, const float* from, float* to) {
  if (count == 0) return;
  copy_listed_kernel<<<blocks_for(count * d), kThreads>>>(rows, count, d, from, to);
  check_launch();
}

void random_start(const int32_t* rows, int64_t count, int64_t d, const float* x, const uint64_t* streams,
                  const StartParams& p, float* cur) {
  if (count == 0) return;
  start_kernel<<<row_blocks(count), kThreads>>>(rows, d, x, streams, p, cur);
  check_launch();
}

void loss_gradients(const int32_t* rows, int64_t count, int64_t k, const float* logits, const int32_t* y,
                    bool dlr, double* scratch, float* dlogits, uint8_t* correct, uint8_t* nonfinite, double* loss) {
  if (count == 0) return;
  loss_kernel<<<blocks_for(count), kThreads>>>(rows, count, k, logits, y, dlr, scratch, dlogits, correct, nonfinite,
                                               loss);
  check_launch();
}

void step(const int32_t* rows, int64_t count, int64_t d, const float* x, float* g, const StepParams& p,
          const uint8_t* correct, float* cur, float* adv, uint8_t* fooled, uint8_t* nonfinite, uint8_t* zero_grad) {
  if (count == 0) return;
  step_kernel<<<row_blocks(count), kThreads>>>(rows, d, x, g, p, correct, cur, adv, fooled, nonfinite, zero_grad);
  check_launch();
}

void final_verdicts(const int32_t* rows, int64_t count, int64_t k, const float* logits, const int32_t* y,
                    uint8_t* fooled, uint8_t* nonfinite) {
  if (count == 0) return;
  verdict_kernel<<<blocks_for(count), kThreads>>>(rows, count, k, logits, y, fooled, nonfinite);
  check_launch();
}

}  // namespace nmode::cuda_attack_kernels
