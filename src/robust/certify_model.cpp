// Certified radii of a trained nmODE classifier: the exact-ODE bound of
// certify.hpp, minus the numerical solver's error on the clean input (measured
// against a double reference) and on the perturbed one (a stated multiple).
#include "nmode/certify_model.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/numbers.hpp"
#include "nmode/error.hpp"
#include "nmode/layers.hpp"
#include "nmode/ode.hpp"

namespace nmode {
namespace {

struct Parts {
  Linear* in;
  NmOde* ode;
  Linear* out;
};

Parts split_model(Sequential& model) {
  if (model.size() == 3) {
    auto* a = dynamic_cast<Linear*>(&model.layer(0));
    auto* b = dynamic_cast<NmOde*>(&model.layer(1));
    auto* c = dynamic_cast<Linear*>(&model.layer(2));
    if (a && b && c) return {a, b, c};
  }
  throw Error("certification needs a Linear -> NmOde -> Linear model, got " + model.describe());
}

const Tensor& weight_of(Layer& layer) {
  for (const ParameterRef& p : layer.parameters())
    if (p.name == "weight") return *p.value;
  throw InvalidArgument("layer " + layer.describe() + " has no weight");
}

// The margin taken for the solver's error on a perturbed input, which is not
// solved: its error is taken as at most this many times the largest error
// measured on any unit of any certified input (errors of the adaptive solver at
// a fixed tolerance vary little with gamma; 2 leaves room for that variation).
constexpr double kPerturbedErrorFactor = 2.0;

// |y - y_ref| per element, y_ref solved in double at rtol = atol = 1e-10 (its own
// error is below 1e-8, far under float's 1e-3 tolerance) from the float gamma
// the model used. gamma, y: (b, hidden); error: b * hidden values.
void measure_solver_error(const SolverOptions& model_options, const Tensor& gamma, const Tensor& y, float* error) {
  SolverOptions tight = model_options;
  tight.rtol = tight.atol = 1e-10;
  tight.max_steps = 1 << 20;
  const int64_t m = gamma.size();
  std::vector<double> g(gamma.data(), gamma.data() + m), ref(static_cast<size_t>(m));
  SolveOutputs<double> out;
  out.y = ref.data();
  const SolveStats stats = solve_cpu<double>(tight, m, g.data(), nullptr, out);
  if (stats.failed() > 0) throw Error("certification: the reference solve failed: " + stats.summary());
  for (int64_t j = 0; j < m; ++j) error[j] = static_cast<float>(std::abs(double(y[j]) - ref[size_t(j)]));
}

}  // namespace

std::vector<double> certified_fraction(const std::vector<double>& radius, const std::vector<double>& deltas) {
  std::vector<double> f;
  for (double d : deltas) {
    int64_t c = 0;
    for (double r : radius) c += r > d;
    f.push_back(radius.empty() ? 0.0 : double(c) / double(radius.size()));
  }
  return f;
}

ModelCertificate certify_model(Sequential& model, const Tensor& x, const int32_t* labels, CertNorm norm,
                               int64_t batch, bool solver_error) {
  const Parts parts = split_model(model);
  const Tensor& W = weight_of(*parts.in);
  const Tensor& V = weight_of(*parts.out);
  ModelCertificate c;
  c.norm = norm;
  c.lambda = parts.ode->lambda();
  c.t_end = parts.ode->solver_options().t_end;
  if (!(c.lambda > 1))
    throw Error("certification needs lambda > 1 (the stability bound), the model has lambda = " +
                exact_decimal(c.lambda) + "; train it with --lambda above 1");
  c.tau = tau(W);
  c.kappa_finite = stability_factor(c.lambda, c.t_end, true);
  c.kappa_theorem = stability_factor(c.lambda, c.t_end, false);

  const int64_t n = x.dim(0), k = model.num_classes(), hidden = V.dim(1);
  Tensor logits({n, k}), xb, gb, yb, zb;
  // Per input and unit: |y_float - y_ref|, y_ref a tight double solve of the same gamma.
  std::vector<float> unit_error(solver_error ? static_cast<size_t>(n * hidden) : 0);
  for (int64_t first = 0; first < n; first += batch) {
    const int64_t b = std::min(batch, n - first);
    xb.resize({b, x.dim(1)});
    std::copy_n(x.data() + first * x.dim(1), b * x.dim(1), xb.data());
    // The model's own three layers, one after the other: Sequential::forward, with gamma kept.
    parts.in->forward(xb, gb, false);
    parts.ode->forward(gb, yb, false);
    parts.out->forward(yb, zb, false);
    std::copy_n(zb.data(), b * k, logits.data() + first * k);
    if (solver_error) measure_solver_error(parts.ode->solver_options(), gb, yb, unit_error.data() + first * hidden);
  }
  c.solver_slack = 0;
  for (float e : unit_error) c.solver_slack = std::max(c.solver_slack, double(e));

  // The exact-ODE radii give the prediction (ties, non-finite logits handled);
  // the radii themselves are recomputed with margins reduced by the solver error
  // of both evaluations on every unit.
  const CertifyResult rf = certify_radii(logits, labels, W, V, c.lambda, c.t_end, true, norm);
  const std::vector<double> dual = row_dual_norms(W, norm);
  // Per class pair (p, o): sum_u |V_pu - V_ou| (scales the solver slack) and the
  // same weighted by the dual norms of W's rows (scales delta); the same for every input.
  std::vector<double> vdiff(static_cast<size_t>(k * k), 0.0), weighted(vdiff.size(), 0.0);
  for (int64_t p = 0; p < k; ++p)
    for (int64_t other = 0; other < k; ++other)
      for (int64_t u = 0; u < hidden; ++u) {
        const double dv = std::abs(double(V[p * hidden + u]) - double(V[other * hidden + u]));
        vdiff[size_t(p * k + other)] += dv;
        weighted[size_t(p * k + other)] += dv * dual[size_t(u)];
      }
  c.predicted = rf.predicted;
  c.correct.resize(static_cast<size_t>(n));
  c.radius_finite.resize(static_cast<size_t>(n));
  c.radius_theorem.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const int32_t p = rf.predicted[size_t(i)];
    c.correct[size_t(i)] = p == labels[i];
    double best_f = std::numeric_limits<double>::infinity(), best_t = best_f;
    if (!c.correct[size_t(i)] || !(rf.radius[size_t(i)] > 0)) {
      best_f = best_t = 0;
    } else {
      for (int64_t other = 0; other < k; ++other) {
        if (other == p) continue;
        const double vd = vdiff[size_t(p * k + other)], wd = weighted[size_t(p * k + other)];
        // The clean logits' own error (measured), and the perturbed input's (at most
        // kPerturbedErrorFactor times the largest error measured on any unit).
        double clean = 0;
        for (int64_t u = 0; solver_error && u < hidden; ++u)
          clean += std::abs(double(V[p * hidden + u]) - double(V[other * hidden + u])) *
                   double(unit_error[size_t(i * hidden + u)]);
        const double gap = double(logits[i * k + p]) - double(logits[i * k + other]) - clean -
                           kPerturbedErrorFactor * c.solver_slack * vd;
        const double rf_k = gap <= 0 ? 0.0 : (wd > 0 ? gap / (c.kappa_finite * wd) : HUGE_VAL);
        const double rt_k = gap <= 0 ? 0.0 : (wd > 0 ? gap / (c.kappa_theorem * wd) : HUGE_VAL);
        best_f = std::min(best_f, rf_k);
        best_t = std::min(best_t, rt_k);
      }
    }
    c.radius_finite[size_t(i)] = best_f;
    c.radius_theorem[size_t(i)] = best_t;
  }
  return c;
}

}  // namespace nmode
