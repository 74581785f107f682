// The neural-ODE layer's elementwise kernels in SIMD lanes, compiled once per
// target by Highway's foreach_target.h (stage combinations, tanh, the scaled
// error norm); each row's tail runs the scalar kernel of neural_ode_kernels.cpp.
#include <cstdint>

#include "nn/neural_ode_kernels.hpp"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "nn/neural_ode_lanes.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>
#include <hwy/contrib/math/math-inl.h>

HWY_BEFORE_NAMESPACE();
namespace nmode {
namespace HWY_NAMESPACE {
namespace {

namespace hn = hwy::HWY_NAMESPACE;
using Tag = hn::ScalableTag<float>;

int64_t full_vectors_end(int64_t count) {
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(Tag()));
  return count - count % lanes;
}

void tanh_in_place(float* x, int64_t m, int64_t d_cols) {
  const Tag d;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d)), end = full_vectors_end(d_cols);
  for (int64_t r = 0; r < m; ++r) {
    float* row = x + r * d_cols;
    for (int64_t i = 0; i < end; i += lanes) hn::StoreU(hn::Tanh(d, hn::LoadU(d, row + i)), d, row + i);
    neural_ode_tanh_scalar(row + end, 1, d_cols - end);
  }
}

// sum_j coef[j] * k[j][i..i+lanes)
HWY_INLINE hn::Vec<Tag> weighted_sum(const float* const* k, const float* coef, int terms, int64_t i) {
  const Tag d;
  auto acc = hn::Mul(hn::Set(d, coef[0]), hn::LoadU(d, k[0] + i));
  for (int j = 1; j < terms; ++j) acc = hn::MulAdd(hn::Set(d, coef[j]), hn::LoadU(d, k[j] + i), acc);
  return acc;
}

// The scalar kernels see one row's tail as a 1-row matrix of width `tail`; their
// pointers are offset so the row's tail starts at element 0.
void combine(const float* y, const float* const* k, const float* coef, int terms, const float* h, int64_t m,
             int64_t d_cols, float* z) {
  const Tag d;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d)), end = full_vectors_end(d_cols);
  for (int64_t r = 0; r < m; ++r) {
    const int64_t row = r * d_cols;
    const auto hv = hn::Set(d, h[r]);
    for (int64_t i = row; i < row + end; i += lanes)
      hn::StoreU(hn::MulAdd(hv, weighted_sum(k, coef, terms, i), hn::LoadU(d, y + i)), d, z + i);
    if (end < d_cols) {
      const float* tails[kMaxStageTerms];
      for (int j = 0; j < terms; ++j) tails[j] = k[j] + row + end;
      neural_ode_combine_scalar(y + row + end, tails, coef, terms, h + r, 1, d_cols - end, z + row + end);
    }
  }
}

void error_estimate(const float* const* k, const float* coef, int terms, const float* h, int64_t m, int64_t d_cols,
                    float* e) {
  const Tag d;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d)), end = full_vectors_end(d_cols);
  for (int64_t r = 0; r < m; ++r) {
    const int64_t row = r * d_cols;
    const auto hv = hn::Set(d, h[r]);
    for (int64_t i = row; i < row + end; i += lanes) hn::StoreU(hn::Mul(hv, weighted_sum(k, coef, terms, i)), d, e + i);
    if (end < d_cols) {
      const float* tails[kMaxStageTerms];
      for (int j = 0; j < terms; ++j) tails[j] = k[j] + row + end;
      neural_ode_error_scalar(tails, coef, terms, h + r, 1, d_cols - end, e + row + end);
    }
  }
}

void scaled_error_squares(const float* e, const float* y, const float* y_new, float rtol, float atol, int64_t m,
                          int64_t d_cols, double* out) {
  const Tag d;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d)), end = full_vectors_end(d_cols);
  const auto vr = hn::Set(d, rtol), va = hn::Set(d, atol), floor = hn::Set(d, 1e-30f);
  for (int64_t r = 0; r < m; ++r) {
    const int64_t row = r * d_cols;
    auto acc = hn::Zero(d);
    for (int64_t i = row; i < row + end; i += lanes) {
      const auto big = hn::Max(hn::Abs(hn::LoadU(d, y + i)), hn::Abs(hn::LoadU(d, y_new + i)));
      const auto q = hn::Div(hn::LoadU(d, e + i), hn::Max(hn::MulAdd(vr, big, va), floor));
      acc = hn::MulAdd(q, q, acc);
    }
    double tail = 0.0;
    if (end < d_cols) neural_ode_error_squares_scalar(e + row + end, y + row + end, y_new + row + end, rtol, atol, 1,
                                                      d_cols - end, &tail);
    out[r] = static_cast<double>(hn::GetLane(hn::SumOfLanes(d, acc))) + tail;
  }
}

void tanh_backward(const float* g, const float* k, int64_t m, int64_t d_cols, float* u) {
  const Tag d;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d)), end = full_vectors_end(d_cols);
  const auto one = hn::Set(d, 1.0f);
  for (int64_t r = 0; r < m; ++r) {
    const int64_t row = r * d_cols;
    for (int64_t i = row; i < row + end; i += lanes) {
      const auto ki = hn::LoadU(d, k + i);
      hn::StoreU(hn::Mul(hn::LoadU(d, g + i), hn::NegMulAdd(ki, ki, one)), d, u + i);
    }
    neural_ode_tanh_backward_scalar(g + row + end, k + row + end, 1, d_cols - end, u + row + end);
  }
}

}  // namespace

extern const NeuralOdeKernels kNeuralOdeKernels;
const NeuralOdeKernels kNeuralOdeKernels = {tanh_in_place, combine, error_estimate, scaled_error_squares,
                                            tanh_backward};

}  // namespace HWY_NAMESPACE
}  // namespace nmode
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "simd/dispatch.hpp"

namespace nmode {
namespace {

const NeuralOdeKernels kScalarKernels = {neural_ode_tanh_scalar, neural_ode_combine_scalar, neural_ode_error_scalar,
                                         neural_ode_error_squares_scalar, neural_ode_tanh_backward_scalar};

}  // namespace

const NeuralOdeKernels& neural_ode_kernels_for(SimdTarget target) {
  return NMODE_FOR_SIMD_TARGET(target, kNeuralOdeKernels, kScalarKernels);
}

}  // namespace nmode
#endif  // HWY_ONCE
