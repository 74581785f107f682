// Certified radii from the nmODE stability theorem: the per-unit factor κ,
// the dual norms of W's rows, and the logit-gap bound per input.
#include "nmode/certify.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

#include "core/numbers.hpp"
#include "nmode/error.hpp"

namespace nmode {
namespace {

void require_rank2(const Tensor& t, const char* name, const char* expected) {
  if (t.rank() != 2)
    throw InvalidArgument(std::string(name) + " must have shape " + expected + ", got " + t.shape_string());
}

void require_finite(const Tensor& t, const char* name) {
  for (int64_t i = 0; i < t.size(); ++i)
    if (!std::isfinite(t[i]))
      throw InvalidArgument(std::string(name) + " has a non-finite entry at flat index " + std::to_string(i) +
                            "; a bound built from it would be meaningless");
}

}  // namespace

double stability_factor(double lambda, double t_end, bool finite_time) {
  const bool t_ok = finite_time ? (std::isfinite(t_end) && t_end >= 0.0) : (t_end >= 0.0);  // NaN fails both
  if (!(std::isfinite(lambda) && lambda > 1.0) || !t_ok)
    throw InvalidArgument("stability_factor needs lambda > 1 and t_end >= 0" +
                          std::string(finite_time ? " finite" : "") + ", got lambda = " + exact_decimal(lambda) +
                          ", t_end = " + exact_decimal(t_end) + " (the contraction rate is lambda - 1)");
  const double a = lambda - 1.0;
  if (!finite_time) return 1.0 / a;
  // 1 − e^{−a t̄} = −expm1(−a t̄): no cancellation when a·t̄ is small.
  return -std::expm1(-a * t_end) / a;
}

std::vector<double> row_dual_norms(const Tensor& W, CertNorm norm) {
  require_rank2(W, "W", "(hidden, in)");
  const int64_t hidden = W.dim(0), in = W.dim(1);
  std::vector<double> out(static_cast<size_t>(hidden), 0.0);
  for (int64_t i = 0; i < hidden; ++i) {
    const float* w = W.data() + i * in;
    double s = 0.0;
    if (norm == CertNorm::Linf) {
      for (int64_t j = 0; j < in; ++j) s += std::fabs(static_cast<double>(w[j]));
    } else {
      for (int64_t j = 0; j < in; ++j) s += static_cast<double>(w[j]) * static_cast<double>(w[j]);
      s = std::sqrt(s);
    }
    out[static_cast<size_t>(i)] = s;
  }
  return out;
}

double tau(const Tensor& W) {
  const std::vector<double> l1 = row_dual_norms(W, CertNorm::Linf);
  double t = 0.0;
  for (double v : l1) t = std::max(t, v);
  return t;
}

CertifyResult certify_radii(const Tensor& logits, const int32_t* labels, const Tensor& W, const Tensor& V,
                            double lambda, double t_end, bool finite_time, CertNorm norm) {
  require_rank2(logits, "logits", "(n, classes)");
  require_rank2(W, "W", "(hidden, in)");
  require_rank2(V, "V", "(classes, hidden)");
  const int64_t n = logits.dim(0), classes = logits.dim(1), hidden = W.dim(0);
  if (V.dim(0) != classes || V.dim(1) != hidden)
    throw InvalidArgument("V must have shape (classes, hidden) = (" + std::to_string(classes) + ", " +
                          std::to_string(hidden) + ") to match logits " + logits.shape_string() + " and W " +
                          W.shape_string() + ", got " + V.shape_string());
  if (classes < 1) throw InvalidArgument("logits need at least one class, got shape " + logits.shape_string());
  require_finite(W, "W");
  require_finite(V, "V");
  const double kappa = stability_factor(lambda, t_end, finite_time);

  // Every hidden unit moves by at most κ‖w_i‖_*·δ, so the gap z_c − z_k moves by
  // at most D[c][k]·δ with D[c][k] = Σ_i |V_ci − V_ki|·κ‖w_i‖_* (independent of x).
  const std::vector<double> dual = row_dual_norms(W, norm);
  std::vector<double> D(static_cast<size_t>(classes * classes), 0.0);
  for (int64_t c = 0; c < classes; ++c)
    for (int64_t k = c + 1; k < classes; ++k) {
      double s = 0.0;
      for (int64_t i = 0; i < hidden; ++i)
        s += std::fabs(static_cast<double>(V[c * hidden + i]) - static_cast<double>(V[k * hidden + i])) *
             dual[static_cast<size_t>(i)];
      D[static_cast<size_t>(c * classes + k)] = D[static_cast<size_t>(k * classes + c)] = kappa * s;
    }

  CertifyResult result;
  result.radius.assign(static_cast<size_t>(n), 0.0);
  result.predicted.assign(static_cast<size_t>(n), 0);
  for (int64_t r = 0; r < n; ++r) {
    const float* z = logits.data() + r * classes;
    bool finite = true;
    int64_t c = 0;
    for (int64_t k = 0; k < classes; ++k) {
      if (!std::isfinite(z[k])) finite = false;
      if (z[k] > z[c] || std::isnan(z[c])) c = k;  // strict >: ties keep the smallest index
    }
    result.predicted[static_cast<size_t>(r)] = static_cast<int32_t>(c);
    if (labels != nullptr) {
      const int32_t y = labels[r];
      if (y < 0 || y >= classes)
        throw InvalidArgument("labels[" + std::to_string(r) + "] = " + std::to_string(y) + " is outside [0, " +
                              std::to_string(classes) + ")");
      if (y != c) continue;  // a wrong prediction is never certified
    }
    if (!finite) continue;
    double radius = std::numeric_limits<double>::infinity();
    for (int64_t k = 0; k < classes; ++k) {
      if (k == c) continue;
      const double gap = static_cast<double>(z[c]) - static_cast<double>(z[k]);
      const double d = D[static_cast<size_t>(c * classes + k)];
      // d == 0: this gap cannot close; a zero gap (a tie) certifies nothing.
      const double rk = gap <= 0.0 ? 0.0 : (d > 0.0 ? gap / d : std::numeric_limits<double>::infinity());
      radius = std::min(radius, rk);
    }
    result.radius[static_cast<size_t>(r)] = radius;
  }
  return result;
}

std::vector<double> certified_accuracy(const CertifyResult& result, const std::vector<double>& deltas) {
  std::vector<double> acc(deltas.size(), 0.0);
  const size_t n = result.radius.size();
  for (size_t j = 0; j < deltas.size(); ++j) {
    if (std::isnan(deltas[j]) || deltas[j] < 0.0)
      throw InvalidArgument("deltas[" + std::to_string(j) + "] must be >= 0, got " + exact_decimal(deltas[j]));
    if (n == 0) continue;
    size_t count = 0;
    for (double r : result.radius) count += r > deltas[j] ? 1 : 0;
    acc[j] = static_cast<double>(count) / static_cast<double>(n);
  }
  return acc;
}

double global_output_bound(double tau_w, double delta, double lambda) {
  if (!(std::isfinite(lambda) && lambda > 1.0))
    throw InvalidArgument("global_output_bound needs lambda > 1, got lambda = " + exact_decimal(lambda));
  if (!(tau_w >= 0.0) || !(delta >= 0.0))
    throw InvalidArgument("global_output_bound needs tau >= 0 and delta >= 0, got tau = " + exact_decimal(tau_w) +
                          ", delta = " + exact_decimal(delta));
  return tau_w * delta / (lambda - 1.0);
}

}  // namespace nmode
