// One element of the Adam/AdamW update with the nmODE+ penalty and clipping, in
// IEEE double arithmetic without fused operations: the CPU's scalar loop (the
// SIMD kernels' reference and tail, src/train/) and the GPU's kernel (compiled
// with -fmad=false) both call it, so the CPU tests check the arithmetic the GPU
// runs and both round alike.
#pragma once

#include <cmath>
#include <cstdint>

#include "nmode/detail/hd.hpp"

namespace nmode::detail {

// What one step applies to one parameter (Adam::next_step).
struct AdamConstants {
  double b1, b2, eps, step_size, sqrt_bc2, l2, shrink, eta, hi;
  int64_t pen_begin, pen_end;  // the row that carries the stability penalty's subgradient
};

// w, g, m, v: the parameter's value, grad and moments; i: the element.
NMODE_HD inline void adam_update_element(const AdamConstants& c, int64_t i, float* w, const float* g, float* m,
                                         float* v) {
  double wi = w[i];
  const double on_row = static_cast<double>((i >= c.pen_begin) & (i < c.pen_end));
  const double gi = g[i] + c.l2 * wi + on_row * c.eta * static_cast<double>((wi > 0) - (wi < 0));
  wi *= c.shrink;
  const double mi = c.b1 * m[i] + (1.0 - c.b1) * gi;
  const double vi = c.b2 * v[i] + (1.0 - c.b2) * gi * gi;
  m[i] = static_cast<float>(mi);
  v[i] = static_cast<float>(vi);
  wi -= c.step_size * mi / (sqrt(vi) / c.sqrt_bc2 + c.eps);
  // std::min(std::max(wi, -hi), hi), NaN passing through.
  wi = wi < -c.hi ? -c.hi : wi;
  wi = c.hi < wi ? c.hi : wi;
  w[i] = static_cast<float>(wi);
}

// The L1 norm of one row of w, summed in double in column order: the nmODE+
// penalty's row is the first with the largest (row_l1_argmax on the CPU, the GPU's
// row sums), so both find the same row.
NMODE_HD inline double row_l1_sum(const float* row, int64_t cols) {
  double sum = 0.0;
  for (int64_t j = 0; j < cols; ++j) sum += fabs(static_cast<double>(row[j]));
  return sum;
}

}  // namespace nmode::detail
