// Adam's elementwise update in SIMD lanes of doubles, compiled once per target by
// Highway's foreach_target.h. Every operation is the scalar loop's own
// (adam_update_scalar), in its order, so each target updates bitwise alike.
#include <cstdint>

#include "train/optim_kernels.hpp"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "train/optim_lanes.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace nmode {
namespace HWY_NAMESPACE {
namespace {

namespace hn = hwy::HWY_NAMESPACE;

void adam_update(const AdamConstants& c, int64_t begin, int64_t end, float* w, const float* g, float* m, float* v) {
  const hn::ScalableTag<double> d;
  const hn::Rebind<float, decltype(d)> df;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  const auto one = hn::Set(d, 1.0), zero = hn::Zero(d);
  const auto pen_begin = hn::Set(d, static_cast<double>(c.pen_begin));
  const auto pen_end = hn::Set(d, static_cast<double>(c.pen_end));
  int64_t i = begin;
  for (; i + lanes <= end; i += lanes) {
    auto wi = hn::PromoteTo(d, hn::LoadU(df, w + i));
    const auto index = hn::Iota(d, static_cast<double>(i));
    const auto on_row = hn::IfThenElseZero(hn::And(hn::Ge(index, pen_begin), hn::Lt(index, pen_end)), one);
    const auto sign = hn::Sub(hn::IfThenElseZero(hn::Gt(wi, zero), one), hn::IfThenElseZero(hn::Lt(wi, zero), one));
    const auto gi = hn::Add(hn::Add(hn::PromoteTo(d, hn::LoadU(df, g + i)), hn::Mul(hn::Set(d, c.l2), wi)),
                            hn::Mul(hn::Mul(on_row, hn::Set(d, c.eta)), sign));
    wi = hn::Mul(wi, hn::Set(d, c.shrink));
    const auto mi = hn::Add(hn::Mul(hn::Set(d, c.b1), hn::PromoteTo(d, hn::LoadU(df, m + i))),
                            hn::Mul(hn::Set(d, 1.0 - c.b1), gi));
    const auto vi = hn::Add(hn::Mul(hn::Set(d, c.b2), hn::PromoteTo(d, hn::LoadU(df, v + i))),
                            hn::Mul(hn::Mul(hn::Set(d, 1.0 - c.b2), gi), gi));
    hn::StoreU(hn::DemoteTo(df, mi), df, m + i);
    hn::StoreU(hn::DemoteTo(df, vi), df, v + i);
    const auto denominator = hn::Add(hn::Div(hn::Sqrt(vi), hn::Set(d, c.sqrt_bc2)), hn::Set(d, c.eps));
    wi = hn::Sub(wi, hn::Div(hn::Mul(hn::Set(d, c.step_size), mi), denominator));
    // std::min(std::max(wi, -hi), hi), NaN passing through as there.
    wi = hn::Min(hn::Set(d, c.hi), hn::Max(hn::Set(d, -c.hi), wi));
    hn::StoreU(hn::DemoteTo(df, wi), df, w + i);
  }
  adam_update_scalar(c, i, end, w, g, m, v);
}

}  // namespace

extern const AdamUpdate kAdamUpdate;
const AdamUpdate kAdamUpdate = adam_update;

}  // namespace HWY_NAMESPACE
}  // namespace nmode
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "simd/dispatch.hpp"

namespace nmode {

AdamUpdate adam_update_for(SimdTarget target) {
  return NMODE_FOR_SIMD_TARGET(target, kAdamUpdate, &adam_update_scalar);
}

}  // namespace nmode
#endif  // HWY_ONCE
