// Building blocks shared by the attacks (docs/attacks.md §0): prediction, the
// CE / margin / DLR losses with their gradients, sign, L2 normalisation and the
// L∞ / L2 projections. Exposed for adversarial training and for tests.
#pragma once

#include <cstdint>

#include "nmode/detail/attack_step.hpp"

namespace nmode {

// argmax of z: (k), ties to the smallest index (std::max_element semantics).
int64_t predict_class(const float* z, int64_t k);
bool all_finite(const float* v, int64_t n);
// Correct means every logit is finite and the prediction is y.
bool is_correct(const float* z, int64_t k, int32_t y);

// Losses of one example's logits z: (k), computed in double. When dz is not
// null it receives the gradient with respect to z: (k).
// CE(z, y) = -z_y + log Σ exp(z_j), evaluated with the maximum subtracted.
double ce_loss(const double* z, int64_t k, int32_t y, double* dz);
// M(z, y) = z_y - max_{j≠y} z_j  (> 0 iff correctly classified, up to ties).
double margin_loss(const double* z, int64_t k, int32_t y);
// DLR(z, y) = -(z_y - max_{j≠y} z_j) / (z_π1 - z_π3 + 1e-12); needs k >= 3.
double dlr_loss(const double* z, int64_t k, int32_t y, double* dz);

// sign with sign(0) = 0 (copysign would map 0 to ±1).
inline float sign0(float v) { return detail::sign_or_zero(v); }
// The input domain attacks stay in: [lo, hi] in every coordinate ([0, 1] for
// images; other data, e.g. standardised features, give their own box).
struct Box {
  float lo = 0.0f, hi = 1.0f;
  float clip(float v) const { return detail::clip_to_box(v, lo, hi); }
  bool contains(float v) const { return v >= lo && v <= hi; }  // false for NaN
};
inline float clip01(float v) { return Box{}.clip(v); }

// Euclidean norm of v: (n), accumulated in double.
double l2_norm(const float* v, int64_t n);
// out = g / (‖g‖₂ + tau); a zero gradient gives a zero direction, never NaN. g, out: (n).
void unit_direction(const float* g, int64_t n, double tau, float* out);

// v ← Π∞(v) = clip01(min(max(v, x - eps), x + eps)), elementwise. x, v: (n).
void project_linf(const float* x, float eps, float* v, int64_t n, const Box& box = {});
// v ← Π₂(v): δ = v - x scaled by min(1, eps/‖δ‖₂) (factor 1 when δ = 0), then clip01(x + δ). x, v: (n).
void project_l2(const float* x, double eps, float* v, int64_t n, const Box& box = {});

}  // namespace nmode
