// The seam between Adam::step (src/train/optim.cpp) and its SIMD kernels
// (src/train/optim_lanes.cpp, compiled once per target): one update of the elements
// [begin, end) of a parameter, bitwise the same on every target (the update is
// IEEE double arithmetic with sqrt and division, none of it fused).
#pragma once

#include <cstdint>

#include "nmode/detail/adam_update.hpp"
#include "nmode/simd.hpp"

namespace nmode {

using detail::AdamConstants;

using AdamUpdate = void (*)(const AdamConstants& c, int64_t begin, int64_t end, float* w, const float* g, float* m,
                            float* v);

// The scalar update (also the SIMD kernels' tail): detail::adam_update_element in order.
void adam_update_scalar(const AdamConstants& c, int64_t begin, int64_t end, float* w, const float* g, float* m,
                        float* v);

// The update of a SIMD target; adam_update_scalar for SimdTarget::Scalar.
AdamUpdate adam_update_for(SimdTarget target);

}  // namespace nmode
