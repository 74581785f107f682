// The attack operations (docs/attacks.md §0): prediction, the per-example losses
// (CE, margin, DLR) with their gradients with respect to the logits, in double;
// norms, L2 normalisation and the projections onto (L∞ or L2 ball) ∩ [0,1]^d used
// by every attack step.
#include <algorithm>
#include <cmath>
#include <limits>

#include "nmode/attack_ops.hpp"
#include "nmode/detail/softmax_ce.hpp"

namespace nmode {

int64_t predict_class(const float* z, int64_t k) {
  int64_t best = 0;
  for (int64_t j = 1; j < k; ++j)
    if (z[j] > z[best]) best = j;  // strict: ties keep the smaller index
  return best;
}

bool all_finite(const float* v, int64_t n) {
  for (int64_t j = 0; j < n; ++j)
    if (!std::isfinite(v[j])) return false;
  return true;
}

bool is_correct(const float* z, int64_t k, int32_t y) { return detail::row_is_correct(z, k, y); }

double ce_loss(const double* z, int64_t k, int32_t y, double* dz) {
  double zmax = z[0];
  for (int64_t j = 1; j < k; ++j) zmax = std::fmax(zmax, z[j]);
  double sum = 0.0;
  for (int64_t j = 0; j < k; ++j) sum += std::exp(z[j] - zmax);
  const double lse = zmax + std::log(sum);
  if (dz) {
    for (int64_t j = 0; j < k; ++j) dz[j] = std::exp(z[j] - lse);
    dz[y] -= 1.0;
  }
  return lse - z[y];
}

// Index of the largest logit other than y (smallest index on ties).
static int64_t best_other(const double* z, int64_t k, int32_t y) {
  int64_t a = (y == 0) ? 1 : 0;
  for (int64_t j = a + 1; j < k; ++j)
    if (j != y && z[j] > z[a]) a = j;
  return a;
}

double margin_loss(const double* z, int64_t k, int32_t y) {
  if (k < 2) return std::numeric_limits<double>::infinity();
  return z[y] - z[best_other(z, k, y)];
}

double dlr_loss(const double* z, int64_t k, int32_t y, double* dz) {
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
  const int64_t a = best_other(z, k, y);
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

// ---- norms and projections ----

double l2_norm(const float* v, int64_t n) {
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(v[i]) * v[i];
  return std::sqrt(s);
}

void unit_direction(const float* g, int64_t n, double tau, float* out) {
  const double inv = 1.0 / (l2_norm(g, n) + tau);
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(g[i] * inv);
}

void project_linf(const float* x, float eps, float* v, int64_t n, const Box& box) {
  for (int64_t i = 0; i < n; ++i)
    v[i] = box.clip(std::min(std::max(v[i], x[i] - eps), x[i] + eps));
}

void project_l2(const float* x, double eps, float* v, int64_t n, const Box& box) {
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(v[i]) - x[i];
    s += d * d;
  }
  const double norm = std::sqrt(s);
  // δ = 0 keeps factor 1: no 0/0.
  const double factor = norm > eps ? eps / norm : 1.0;
  for (int64_t i = 0; i < n; ++i) {
    const double d = (static_cast<double>(v[i]) - x[i]) * factor;
    v[i] = box.clip(static_cast<float>(x[i] + d));
  }
}

}  // namespace nmode
