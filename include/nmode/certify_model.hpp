// Certified radii for a trained x -> Linear -> NmOde -> Linear classifier, from
// the stability theorem (certify.hpp), with the solver's own error taken out of
// each logit margin so that the certificate covers the computed network too.
#pragma once

#include <cstdint>
#include <vector>

#include "nmode/certify.hpp"
#include "nmode/model.hpp"

namespace nmode {

struct ModelCertificate {
  CertNorm norm = CertNorm::Linf;
  double lambda = 0, t_end = 0, tau = 0;
  double kappa_finite = 0, kappa_theorem = 0;  // (1 - e^{-(lambda-1) t})/(lambda-1) and 1/(lambda-1)
  double solver_slack = 0;                     // largest |y_float - y_ref| measured on any unit of any input
  std::vector<int32_t> predicted;              // (n)
  std::vector<uint8_t> correct;                // (n)
  std::vector<double> radius_finite, radius_theorem;  // (n); 0 when wrong
};

// x: (n, input) in [0, 1]; labels: (n). Throws InvalidArgument when the model is
// not Linear -> NmOde -> Linear or lambda <= 1 (no stability bound).
// By default (solver_error = true) the certificate covers the computed float
// network: each unit's solver error at the clean input is measured against a
// double solve at rtol = atol = 1e-10 of the same gamma and taken out of the
// margins, and the error at a perturbed input is taken as at most twice the
// largest error measured on any unit of any of the n inputs (an empirical bound:
// stated, not proved). With solver_error = false the margins are not reduced:
// the certificate covers the exact ODE map only (the paper's setting).
ModelCertificate certify_model(Sequential& model, const Tensor& x, const int32_t* labels, CertNorm norm,
                               int64_t batch = 256, bool solver_error = true);

// Fraction of inputs whose radius exceeds each delta (strictly).
std::vector<double> certified_fraction(const std::vector<double>& radius, const std::vector<double>& deltas);

}  // namespace nmode
