// The seam between the neural-ODE layer (src/nn/layer_neural_ode*.cpp) and its
// elementwise kernels (src/nn/neural_ode_lanes.cpp, compiled once per SIMD
// target; neural_ode_kernels.cpp holds the scalar versions). Matrices are
// row-major (m, d); a row is one sample and has its own step size h[r].
#pragma once

#include <cstdint>

#include "nmode/simd.hpp"

namespace nmode {

// At most this many earlier stages enter one combination (DP5's 6th stage, or the
// solution and error sums).
constexpr int kMaxStageTerms = 7;

struct NeuralOdeKernels {
  // x <- tanh(x). Like every kernel here it works row by row, so where a row's
  // tail falls (the scalar code) does not depend on the other rows.
  void (*tanh_in_place)(float* x, int64_t m, int64_t d);
  // z[r] = y[r] + h[r] * sum_j coef[j] * k[j][r], terms <= kMaxStageTerms; z may be y.
  void (*combine)(const float* y, const float* const* k, const float* coef, int terms, const float* h, int64_t m,
                  int64_t d, float* z);
  // e[r] = h[r] * sum_j coef[j] * k[j][r]: the error estimate, written over k[0]'s
  // shape into e (no y term).
  void (*error_estimate)(const float* const* k, const float* coef, int terms, const float* h, int64_t m, int64_t d,
                         float* e);
  // out[r] = sum_i (e[r,i] / max(atol + rtol * max(|y[r,i]|, |y_new[r,i]|), 1e-30))^2, in double.
  void (*scaled_error_squares)(const float* e, const float* y, const float* y_new, float rtol, float atol, int64_t m,
                               int64_t d, double* out);
  // u = g * (1 - k * k): tanh's backward from its output k.
  void (*tanh_backward)(const float* g, const float* k, int64_t m, int64_t d, float* u);
};

// The scalar kernels (also the SIMD kernels' tails).
void neural_ode_tanh_scalar(float* x, int64_t m, int64_t d);
void neural_ode_combine_scalar(const float* y, const float* const* k, const float* coef, int terms, const float* h,
                               int64_t m, int64_t d, float* z);
void neural_ode_error_scalar(const float* const* k, const float* coef, int terms, const float* h, int64_t m,
                             int64_t d, float* e);
void neural_ode_error_squares_scalar(const float* e, const float* y, const float* y_new, float rtol, float atol,
                                     int64_t m, int64_t d, double* out);
void neural_ode_tanh_backward_scalar(const float* g, const float* k, int64_t m, int64_t d, float* u);

// The kernels of a SIMD target; the scalar ones for SimdTarget::Scalar.
const NeuralOdeKernels& neural_ode_kernels_for(SimdTarget target);

}  // namespace nmode
