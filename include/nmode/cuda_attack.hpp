// FGSM, PGD, APGD and the Square Attack with every step on the GPU: the random
// starts and proposals, the loss gradients with respect to the logits, the steps
// and the projections run as kernels on device-resident batches, and only the
// verdicts come back. Same contract and per-example results as fgsm_attack /
// pgd_attack / apgd_attack / square_attack (nmode/attack.hpp): the same
// random streams (drawn by position, detail/counter_rng.hpp) and the same
// per-element arithmetic (detail/attack_step.hpp, attack_losses.hpp); only the L2
// norms are summed in another order. CudaModel, as a Classifier, runs these for the configs
// they support, so run_attack and evaluate_robustness reach them unchanged.
#pragma once

#include <cstdint>

#include "nmode/attack.hpp"
#include "nmode/cuda_model.hpp"

namespace nmode {

// Every attack kind, with the attacked model's own gradients (no gradient_model).
inline bool cuda_attack_supports(const AttackConfig& config) { return config.gradient_model == nullptr; }

// Runs config (cuda_attack_supports) on n examples; x: (n, input_dim) and y: (n)
// host, checked first (as the attacks check them). Throws InvalidArgument for an
// unsupported config, Error when the nmODE solver fails, as the CPU attacks do.
AttackResult cuda_attack(CudaModel& model, const float* x, const int32_t* y, int64_t n, const AttackConfig& config,
                         const int64_t* example_ids = nullptr);

}  // namespace nmode
