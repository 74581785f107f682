// Norms, L2 normalisation and the projections onto (L∞ or L2 ball) ∩ [0,1]^d
// used by every attack step (docs/attacks.md §0).
#include <algorithm>
#include <cmath>

#include "nmode/attack_ops.hpp"

namespace nmode {

double l2_norm(const float* v, int64_t n) {
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(v[i]) * v[i];
  return std::sqrt(s);
}

void unit_direction(const float* g, int64_t n, double tau, float* out) {
  const double inv = 1.0 / (l2_norm(g, n) + tau);
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(g[i] * inv);
}

void project_linf(const float* x, float eps, float* v, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    v[i] = clip01(std::min(std::max(v[i], x[i] - eps), x[i] + eps));
}

void project_l2(const float* x, double eps, float* v, int64_t n) {
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
    v[i] = clip01(static_cast<float>(x[i] + d));
  }
}

}  // namespace nmode
