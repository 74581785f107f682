// The seam between Adam::step (src/train/optim.cpp) and its SIMD kernels
// (src/train/optim_lanes.cpp, compiled once per target): one update of the elements
// [begin, end) of a parameter, bitwise the same on every target (the update is
// IEEE double arithmetic with sqrt and division, none of it fused).
#pragma once

#include <cstdint>

#include "nmode/simd.hpp"

namespace nmode {

struct AdamConstants {
  double b1, b2, eps, step_size, sqrt_bc2, l2, shrink, eta, hi;
  int64_t pen_begin, pen_end;  // the row that carries the stability penalty's subgradient
};

using AdamUpdate = void (*)(const AdamConstants& c, int64_t begin, int64_t end, float* w, const float* g, float* m,
                            float* v);

// The scalar update (also the SIMD kernels' tail).
void adam_update_scalar(const AdamConstants& c, int64_t begin, int64_t end, float* w, const float* g, float* m,
                        float* v);

// The update of a SIMD target; adam_update_scalar for SimdTarget::Scalar.
AdamUpdate adam_update_for(SimdTarget target);

}  // namespace nmode
