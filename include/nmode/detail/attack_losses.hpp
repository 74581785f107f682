// One example's attack losses on its logits, in double, with their gradients:
// the CPU attacks' (nmode/attack_ops.hpp) and the GPU attacks' (one thread per
// row) single definition.
#pragma once

#include <math.h>

#include <cstdint>

#include "nmode/detail/hd.hpp"

namespace nmode::detail {

// CE(z, y) = -z_y + log Σ exp(z_j), with the maximum subtracted; dz (nullable): (k).
NMODE_HD inline double ce_loss_row(const double* z, int64_t k, int32_t y, double* dz) {
  double zmax = z[0];
  for (int64_t j = 1; j < k; ++j) zmax = fmax(zmax, z[j]);
  double sum = 0.0;
  for (int64_t j = 0; j < k; ++j) sum += exp(z[j] - zmax);
  const double lse = zmax + log(sum);
  if (dz) {
    for (int64_t j = 0; j < k; ++j) dz[j] = exp(z[j] - lse);
    dz[y] -= 1.0;
  }
  return lse - z[y];
}

// Index of the largest logit other than y (smallest index on ties); k >= 2.
NMODE_HD inline int64_t best_other_class(const double* z, int64_t k, int32_t y) {
  int64_t a = (y == 0) ? 1 : 0;
  for (int64_t j = a + 1; j < k; ++j)
    if (j != y && z[j] > z[a]) a = j;
  return a;
}

// M(z, y) = z_y - max_{j≠y} z_j, the Square Attack's margin; +∞ when k < 2.
NMODE_HD inline double margin_loss_row(const double* z, int64_t k, int32_t y) {
  if (k < 2) return INFINITY;
  return z[y] - z[best_other_class(z, k, y)];
}

// DLR(z, y) = -(z_y - max_{j≠y} z_j) / (z_π1 - z_π3 + 1e-12); k >= 3; dz (nullable): (k).
NMODE_HD inline double dlr_loss_row(const double* z, int64_t k, int32_t y, double* dz) {
  // π1 and π3: the positions of the largest and third-largest logits.
  int64_t p1 = 0;
  for (int64_t j = 1; j < k; ++j)
    if (z[j] > z[p1]) p1 = j;
  int64_t p2 = -1;
  for (int64_t j = 0; j < k; ++j)
    if (j != p1 && (p2 < 0 || z[j] > z[p2])) p2 = j;
  int64_t p3 = -1;
  for (int64_t j = 0; j < k; ++j)
    if (j != p1 && j != p2 && (p3 < 0 || z[j] > z[p3])) p3 = j;
  const int64_t a = best_other_class(z, k, y);
  const double num = z[y] - z[a];
  const double den = z[p1] - z[p3] + 1e-12;
  if (dz) {
    for (int64_t j = 0; j < k; ++j) dz[j] = 0.0;
    dz[y] -= 1.0 / den;
    dz[a] += 1.0 / den;
    const double c = num / (den * den);
    dz[p1] += c;
    dz[p3] -= c;
  }
  return -num / den;
}

}  // namespace nmode::detail
