// The kernels of the GPU's APGD (cuda_apgd.cu), one block per listed row of a
// batch held whole on the device (rows, count entries, as attack_kernels.cuh).
// Each holds one part of the CPU's per-example APGD (src/robust/attack_apgd.cpp)
// with the CPU's per-element arithmetic (detail/attack_step.hpp).
#pragma once

#include <cstdint>

namespace nmode::cuda_attack_kernels {

// The per-example state of APGD on a batch: rows of d floats, one value per row.
struct ApgdBuffers {
  float *cur, *prev, *best, *g, *g_best, *tmp, *found;  // (capacity, d)
  double *loss, *loss_best, *loss_prev, *loss_best_at_check, *eta;
  int32_t* increases;
  uint8_t *reduced_at_check, *correct, *fooled, *nonfinite, *zero_grad;
};

struct ApgdParams {
  bool linf;  // else L2
  double eps;
  float lo, hi;  // the box
};

// cur[rows[a]]: x moved to the ball's boundary in stream a's random direction, clamped.
void apgd_start(const int32_t* rows, int64_t count, int64_t d, const float* x, const uint64_t* streams,
                const ApgdParams& p, float* cur);

// After a gradient evaluation: the compact gradient dx (count, d) into g, its
// non-finite entries zeroed (nonfinite set); a misclassified iterate kept in
// found (fooled set); with record_zero_grad, zero_grad from the sanitised gradient.
void apgd_take_gradient(const int32_t* rows, int64_t count, int64_t d, float* dx, bool record_zero_grad,
                        const ApgdBuffers& b);

// The state of a fresh start: prev = best = cur, g_best = g, every loss the start's, eta = eta0.
void apgd_begin(const int32_t* rows, int64_t count, int64_t d, double eta0, const ApgdBuffers& b);

// The projected gradient step then the momentum step of weight a (1 in the first iteration).
void apgd_step(const int32_t* rows, int64_t count, int64_t d, const float* x, const ApgdParams& p, double a,
               const ApgdBuffers& b);

// After the step's evaluation: the best point, the loss increases and, where k
// is not 0 (a checkpoint closing a window of k iterations), the step-size decision.
void apgd_update(const int32_t* rows, int64_t count, int64_t d, int k, const ApgdBuffers& b);

// End of a restart: the result keeps the restart's best point when it is the first
// or beats the result's loss. loss_result: (capacity), x_best: (capacity, d).
void apgd_keep_best(const int32_t* rows, int64_t count, int64_t d, bool first_restart, const ApgdBuffers& b,
                    double* loss_result, float* x_best);

// End of a batch: adv row j = found row j for the fooled rows j < rows_in_batch.
void apgd_answers(int64_t rows_in_batch, int64_t d, const ApgdBuffers& b, float* adv);

}  // namespace nmode::cuda_attack_kernels
