// The attack operations (docs/attacks.md §0): prediction, the per-example losses
// (CE, margin, DLR) with their gradients with respect to the logits, in double;
// norms, L2 normalisation and the projections onto (L∞ or L2 ball) ∩ [0,1]^d used
// by every attack step.
#include <algorithm>
#include <cmath>
#include <limits>

#include "nmode/attack_ops.hpp"
#include "nmode/detail/attack_losses.hpp"
#include "nmode/detail/attack_step.hpp"
#include "nmode/detail/softmax_ce.hpp"

namespace nmode {

int64_t predict_class(const float* z, int64_t k) {
  int64_t best = 0;
  for (int64_t j = 1; j < k; ++j)
    if (z[j] > z[best]) best = j;  // strict: ties keep the smaller index
  return best;
}

bool all_finite(const float* v, int64_t n) { return detail::all_finite_values(v, n); }

bool is_correct(const float* z, int64_t k, int32_t y) { return detail::row_is_correct(z, k, y); }

double ce_loss(const double* z, int64_t k, int32_t y, double* dz) { return detail::ce_loss_row(z, k, y, dz); }

double margin_loss(const double* z, int64_t k, int32_t y) { return detail::margin_loss_row(z, k, y); }

double dlr_loss(const double* z, int64_t k, int32_t y, double* dz) { return detail::dlr_loss_row(z, k, y, dz); }

// ---- norms and projections ----

double l2_norm(const float* v, int64_t n) {
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(v[i]) * v[i];
  return std::sqrt(s);
}

void unit_direction(const float* g, int64_t n, double tau, float* out) {
  const double inv = 1.0 / (l2_norm(g, n) + tau);
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(g[i] * inv);  // as detail::l2_move_element
}

void project_linf(const float* x, float eps, float* v, int64_t n, const Box& box) {
  for (int64_t i = 0; i < n; ++i) v[i] = detail::linf_project_element(x[i], v[i], eps, box.lo, box.hi);
}

void project_l2(const float* x, double eps, float* v, int64_t n, const Box& box) {
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(v[i]) - x[i];
    s += d * d;
  }
  const double factor = detail::l2_projection_factor(std::sqrt(s), eps);
  for (int64_t i = 0; i < n; ++i) v[i] = detail::l2_project_element(x[i], v[i], factor, box.lo, box.hi);
}

}  // namespace nmode
