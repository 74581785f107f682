// Certified robustness from the nmODE stability theorem: per-unit Lipschitz
// factor κ, dual norms of the rows of W, per-input certified radii for the
// classifier x -> V·nmODE(Wx + b) + c, and the paper's global output bound.
#pragma once

#include <cstdint>
#include <vector>

#include "nmode/norm.hpp"
#include "nmode/tensor.hpp"

namespace nmode {

// The norm of the input perturbation δ (nmode/norm.hpp). The bound uses its dual
// norm on each row of W: L1 rows for an L∞ ball, L2 rows for an L2 ball.
using CertNorm = Norm;  // the name of earlier versions

// κ(λ, t̄): every hidden unit satisfies |y_i(t̄) − ȳ_i(t̄)| ≤ κ·|γ_i − γ̄_i|
// because |d/du sin²u| ≤ 1. finite_time: κ = (1 − e^{−(λ−1)t̄})/(λ−1);
// otherwise the theorem's t̄-free κ = 1/(λ−1), which bounds every t̄.
// Throws InvalidArgument unless λ > 1 (finite) and t̄ ≥ 0 (finite when
// finite_time; t̄ = +inf is accepted otherwise, since it is not used).
double stability_factor(double lambda, double t_end, bool finite_time);

// W: (hidden, in) -> one dual norm per row (hidden), accumulated in double.
std::vector<double> row_dual_norms(const Tensor& W, CertNorm norm);

// τ = max_i Σ_j |w_ij| (0 for an empty W); W: (hidden, in).
double tau(const Tensor& W);

struct CertifyResult {
  std::vector<double> radius;       // per input; 0 when misclassified or non-finite; +inf when no gap can close
  std::vector<int32_t> predicted;   // per input; argmax of the logits, ties to the smallest index
};

// logits: (n, classes) computed by the network with output weights
// V: (classes, hidden) and input weights W: (hidden, in); labels: (n), or
// nullptr to certify the predicted class without checking it.
// radius = min_{k≠c} (z_c − z_k) / Σ_i |V_ci − V_ki|·κ·‖w_i‖_*, so the
// prediction c cannot change for any ‖δ‖ < radius (strictly).
CertifyResult certify_radii(const Tensor& logits, const int32_t* labels, const Tensor& W, const Tensor& V,
                            double lambda, double t_end, bool finite_time, CertNorm norm);

// For each δ, the fraction of inputs with radius > δ (strict); 0 for no inputs.
std::vector<double> certified_accuracy(const CertifyResult& result, const std::vector<double>& deltas);

// The paper's global bound ε = τδ/(λ−1) on ‖y − ȳ‖∞ for an L∞ perturbation δ.
double global_output_bound(double tau, double delta, double lambda);

}  // namespace nmode
