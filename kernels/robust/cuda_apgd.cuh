// The GPU's APGD run (cuda_apgd.cu), for cuda_attack's dispatch.
#pragma once

#include <cstdint>

#include "nmode/attack.hpp"
#include "nmode/cuda_model.hpp"

namespace nmode::cuda_attack_runs {

// config.kind is APGD and the inputs are checked (cuda_attack).
AttackResult apgd(CudaModel& model, const float* x, const int32_t* y, int64_t n, const AttackConfig& config,
                  const int64_t* example_ids);

}  // namespace nmode::cuda_attack_runs
