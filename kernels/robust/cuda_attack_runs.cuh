// The GPU's APGD (cuda_apgd.cu) and Square Attack (cuda_square.cu) runs, for
// cuda_attack's dispatch (cuda_attack.cu).
#pragma once

#include <cstdint>

#include "nmode/attack.hpp"
#include "nmode/cuda_model.hpp"

namespace nmode::cuda_attack_runs {

// config.kind is APGD and the inputs are checked (cuda_attack).
AttackResult apgd(CudaModel& model, const float* x, const int32_t* y, int64_t n, const AttackConfig& config,
                  const int64_t* example_ids);

// config.kind is Square and the inputs are checked (cuda_attack).
AttackResult square(CudaModel& model, const float* x, const int32_t* y, int64_t n, const AttackConfig& config,
                    const int64_t* example_ids);

}  // namespace nmode::cuda_attack_runs
