// The per-element arithmetic of the FGSM, PGD, APGD and Square steps, their random
// starts and proposals and the projections, shared by the CPU attacks (src/robust/)
// and the GPU's (kernels/robust/), so the CPU tests check what a GPU thread
// computes. Row norms are the callers' (a sequential sum on the CPU, a block
// reduction on the GPU); everything between them is here.
#pragma once

#include <math.h>

#include <cstdint>

#include "nmode/detail/counter_rng.hpp"
#include "nmode/detail/hd.hpp"

namespace nmode::detail {

// sign with sign(0) = 0 (copysign would map 0 to ±1).
NMODE_HD inline float sign_or_zero(float v) { return static_cast<float>((v > 0.0f) - (v < 0.0f)); }

NMODE_HD inline float clip_to_box(float v, float lo, float hi) { return v < lo ? lo : (v > hi ? hi : v); }

// FGSM: one signed step of size eps from x.
NMODE_HD inline float fgsm_element(float x, float g, float eps, float lo, float hi) {
  return clip_to_box(x + eps * sign_or_zero(g), lo, hi);
}

// Square Attack: x moved by ±eps (sigma = ±1) into the domain, a vertex of the eps-box.
NMODE_HD inline float square_vertex_element(float x, float eps, float sigma, float lo, float hi) {
  return clip_to_box(x + eps * sigma, lo, hi);
}
// Square Attack's sign from a draw of next_below(2).
NMODE_HD inline float square_sign(uint64_t draw) { return draw ? 1.0f : -1.0f; }

// The Square Attack's start: one sign per (channel, column), draw
// channel · width + column of the example's stream (next_below(2) never rejects,
// so the draws can be read by position).
NMODE_HD inline float square_stripe_sign(uint64_t stream, int64_t channel, int64_t column, int64_t width) {
  return square_sign(splitmix64_at(stream, uint64_t(channel * width + column)) % 2);
}
// The stream after the start's channels · width draws.
NMODE_HD inline uint64_t square_stream_after_stripes(uint64_t stream, int64_t channels, int64_t width) {
  return stream + uint64_t(channels * width) * kSplitMixIncrement;
}

// One proposal's square, drawn from the example's stream in order: its top-left
// corner (both offsets inclusive of height - side and width - side, as the
// paper's pseudo-code), then one sign per channel into signs (channels).
NMODE_HD inline void square_draw_proposal(uint64_t& stream, int height, int width, int side, int channels,
                                          int64_t& row0, int64_t& col0, float* signs) {
  row0 = int64_t(splitmix64_below(stream, uint64_t(height - side + 1)));
  col0 = int64_t(splitmix64_below(stream, uint64_t(width - side + 1)));
  for (int c = 0; c < channels; ++c) signs[c] = square_sign(splitmix64_below(stream, 2));
}

// PGD-L∞: a signed step of size alpha from cur, then back into the eps-box around x and the domain.
NMODE_HD inline float pgd_linf_element(float x, float cur, float g, float alpha, float eps, float lo, float hi) {
  const float v = cur + alpha * sign_or_zero(g);
  const float moved = v - x;
  // std::min(std::max(moved, -eps), eps), spelled out for the device.
  const float at_least = moved < -eps ? -eps : moved;
  const float delta = eps < at_least ? eps : at_least;
  return clip_to_box(x + delta, lo, hi);
}

// PGD-L2's guard in 1 / (‖g‖₂ + guard), as torchattacks: a zero gradient gives a
// zero step; APGD's is auto-attack's.
constexpr double kPgdL2Guard = 1e-10;
constexpr double kApgdL2Guard = 1e-12;

// PGD-L2 before its projection: a step of alpha along g·inv_norm, where
// inv_norm = 1 / (‖g‖₂ + guard), rounded to float first as unit_direction does.
NMODE_HD inline float l2_move_element(float cur, float g, double inv_norm, float alpha) {
  return cur + alpha * static_cast<float>(g * inv_norm);
}

// Π₂'s scale of δ = v − x: min(1, eps/‖δ‖₂), and 1 for δ = 0 (no 0/0).
NMODE_HD inline double l2_projection_factor(double delta_norm, double eps) {
  return delta_norm > eps ? eps / delta_norm : 1.0;
}

NMODE_HD inline float l2_project_element(float x, float v, double factor, float lo, float hi) {
  const double delta = (static_cast<double>(v) - x) * factor;
  return clip_to_box(static_cast<float>(x + delta), lo, hi);
}

// Π∞: into [x - eps, x + eps], then the box (std::min(std::max(v, x - eps), x + eps),
// spelled out for the device).
NMODE_HD inline float linf_project_element(float x, float v, float eps, float lo, float hi) {
  const float low = x - eps, high = x + eps;
  const float at_least = v < low ? low : v;
  return clip_to_box(high < at_least ? high : at_least, lo, hi);
}

// APGD-L∞'s gradient step: a signed step of eta from cur, then Π∞.
NMODE_HD inline float apgd_linf_element(float x, float cur, float g, float eta, float eps, float lo, float hi) {
  return linf_project_element(x, cur + eta * sign_or_zero(g), eps, lo, hi);
}

// APGD's momentum step from cur towards z, the projected gradient step, with
// weight a on it and 1 - a on the last move (cur - prev): fa = a, fb = 1 - a in float.
NMODE_HD inline float apgd_momentum_element(float cur, float prev, float z, float fa, float fb) {
  const float m = cur - prev;
  return cur + fa * (z - cur) + fb * m;
}

// APGD's L∞ start direction: coordinate i is U[-1, 1) from draw i; the start is
// x + eps·t / (max|t| + 1e-12) (its L2 start is l2_start_direction's, scaled to eps).
NMODE_HD inline double apgd_linf_start_direction(uint64_t stream, uint64_t i) {
  return 2.0 * uniform01_at(stream, i) - 1.0;
}

// PGD-L∞ random start: x + U[-eps, eps], from draw i of the example's stream.
NMODE_HD inline float linf_start_element(float x, double eps, uint64_t stream, uint64_t i, float lo, float hi) {
  const double u = eps * (2.0 * uniform01_at(stream, i) - 1.0);
  return clip_to_box(static_cast<float>(x + u), lo, hi);
}

// PGD-L2 random start over d coordinates: direction i is normal_at(stream, i)
// (draws 2i, 2i + 1), the radius's uniform is draw 2d; the start is
// x + scale·direction with scale = eps·r / (‖direction‖₂ + 1e-12).
NMODE_HD inline double l2_start_direction(uint64_t stream, uint64_t i) { return normal_at(stream, i); }
// r: 1 on the sphere, u for a uniform radius, u^(1/d) for uniform in volume.
NMODE_HD inline double l2_start_radius(uint64_t stream, int64_t d, bool sphere, bool uniform_volume) {
  if (sphere) return 1.0;
  const double u = uniform01_at(stream, 2 * static_cast<uint64_t>(d));
  return uniform_volume ? pow(u, 1.0 / static_cast<double>(d)) : u;
}
NMODE_HD inline float l2_start_element(float x, double scale, double direction, float lo, float hi) {
  return clip_to_box(static_cast<float>(x + scale * direction), lo, hi);
}

}  // namespace nmode::detail
