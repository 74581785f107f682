// One row of the training loss, softmax cross-entropy with its gradient, and the
// argmax verdict, shared by the CPU's loss (src/nn/loss.cpp) and the GPU's
// training step (one thread per row), so the CPU tests check the GPU's arithmetic.
#pragma once

#include <math.h>

#include <cstdint>

#include "nmode/detail/hd.hpp"

namespace nmode::detail {

// False for NaN and +-Inf (x - x is NaN for both); no library call, host or device.
NMODE_HD inline bool finite_value(double x) { return x - x == 0.0; }

// Whether all of v: (n) are finite: a row of logits the attacks may use.
NMODE_HD inline bool all_finite_values(const float* v, int64_t n) {
  bool finite = true;
  for (int64_t j = 0; j < n; ++j) finite = finite && finite_value(v[j]);
  return finite;
}

// z: (k) logits, label in [0, k). Returns this row's loss lse(z) - z_label, in
// double, or NaN when a logit or the log-sum-exp is not finite. When d is not
// null, d: (k) receives scale * (softmax(z) - onehot(label)) (NaN for such a row);
// d may be z itself (each z_j is read before d_j is written).
NMODE_HD inline double softmax_ce_row(const float* z, int64_t k, int32_t label, double scale, float* d) {
  double m = z[0];
  for (int64_t j = 1; j < k; ++j) m = fmax(m, static_cast<double>(z[j]));
  // Every exponent is <= 0, so the sum lies in [1, k] unless a logit is NaN/Inf.
  double sum = 0.0;
  for (int64_t j = 0; j < k; ++j) sum += exp(static_cast<double>(z[j]) - m);
  const double lse = m + log(sum);
  bool finite = finite_value(lse);
  for (int64_t j = 0; j < k; ++j) finite = finite && finite_value(z[j]);
  const double nan_value = nan("");
  const double loss = finite ? lse - static_cast<double>(z[label]) : nan_value;
  if (d) {
    for (int64_t j = 0; j < k; ++j) {
      const double p = exp(static_cast<double>(z[j]) - lse);
      d[j] = static_cast<float>(finite ? (p - (j == label ? 1.0 : 0.0)) * scale : nan_value);
    }
  }
  return loss;
}

// All logits finite and the first largest one at `label` (a tie keeps the smaller index).
NMODE_HD inline bool row_is_correct(const float* z, int64_t k, int32_t label) {
  bool finite = true;
  int64_t best = 0;
  for (int64_t j = 0; j < k; ++j) {
    finite = finite && finite_value(z[j]);
    if (z[j] > z[best]) best = j;
  }
  return finite && best == label;
}

}  // namespace nmode::detail
