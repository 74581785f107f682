// Scalar versions of the neural-ODE layer's elementwise kernels: the Scalar
// target's kernels and the tails of the SIMD ones (src/nn/neural_ode_lanes.cpp).
#include <algorithm>
#include <cmath>

#include "nn/neural_ode_kernels.hpp"

namespace nmode {

void neural_ode_tanh_scalar(float* x, int64_t m, int64_t d) {
  for (int64_t i = 0; i < m * d; ++i) x[i] = std::tanh(x[i]);
}

void neural_ode_combine_scalar(const float* y, const float* const* k, const float* coef, int terms, const float* h,
                               int64_t m, int64_t d, float* z) {
  for (int64_t r = 0; r < m; ++r)
    for (int64_t i = r * d; i < (r + 1) * d; ++i) {
      float acc = coef[0] * k[0][i];
      for (int j = 1; j < terms; ++j) acc += coef[j] * k[j][i];
      z[i] = y[i] + h[r] * acc;
    }
}

void neural_ode_error_scalar(const float* const* k, const float* coef, int terms, const float* h, int64_t m,
                             int64_t d, float* e) {
  for (int64_t r = 0; r < m; ++r)
    for (int64_t i = r * d; i < (r + 1) * d; ++i) {
      float acc = coef[0] * k[0][i];
      for (int j = 1; j < terms; ++j) acc += coef[j] * k[j][i];
      e[i] = h[r] * acc;
    }
}

void neural_ode_error_squares_scalar(const float* e, const float* y, const float* y_new, float rtol, float atol,
                                     int64_t m, int64_t d, double* out) {
  for (int64_t r = 0; r < m; ++r) {
    double acc = 0.0;
    for (int64_t i = r * d; i < (r + 1) * d; ++i) {
      const float scale = std::max(atol + rtol * std::max(std::fabs(y[i]), std::fabs(y_new[i])), 1e-30f);
      const double q = static_cast<double>(e[i] / scale);
      acc += q * q;
    }
    out[r] = acc;
  }
}

void neural_ode_tanh_backward_scalar(const float* g, const float* k, int64_t m, int64_t d, float* u) {
  for (int64_t i = 0; i < m * d; ++i) u[i] = g[i] * (1.0f - k[i] * k[i]);
}

}  // namespace nmode
