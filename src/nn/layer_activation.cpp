// Elementwise activation layers for the baseline MLPs: ReLU and Tanh.
#include <algorithm>
#include <cmath>
#include <string>

#include "nmode/error.hpp"
#include "nmode/layers.hpp"

namespace nmode {
namespace {

constexpr int64_t kParallelMin = 1 << 15;

}  // namespace

ElementwiseLayer::ElementwiseLayer(const char* name, int64_t features) : name_(name), features_(features) {
  if (features <= 0)
    throw InvalidArgument(std::string(name) + ": features must be > 0, got " + std::to_string(features));
}

std::string ElementwiseLayer::describe() const { return std::string(name_) + "(" + std::to_string(features_) + ")"; }

void ElementwiseLayer::keep(const float* v, int64_t rows) {
  resize_matrix(kept_, rows, features_);
  std::copy(v, v + rows * features_, kept_.data());
}

// x, y: (n, features).
void ReLU::forward_impl(const Tensor& x, Tensor& y, bool training) {
  const int64_t count = x.size();
  const float* a = x.data();
  float* b = y.data();
  // "x < 0 ? 0 : x" rather than max(x, 0) so that NaN propagates, as in PyTorch.
#pragma omp parallel for simd schedule(static) if (count >= kParallelMin)
  for (int64_t i = 0; i < count; ++i) b[i] = a[i] < 0.0f ? 0.0f : a[i];
  if (training) keep(a, x.dim(0));
}

// dy, dx: (n, features); the subgradient at x = 0 is 0, as in PyTorch.
void ReLU::backward_impl(const Tensor& dy, Tensor& dx, bool need_dx, bool) {
  if (!need_dx) return;
  const int64_t count = dy.size();
  const float* g = dy.data();
  const float* a = kept_.data();
  float* d = dx.data();
#pragma omp parallel for simd schedule(static) if (count >= kParallelMin)
  for (int64_t i = 0; i < count; ++i) d[i] = a[i] > 0.0f ? g[i] : 0.0f;
}

// x, y: (n, features).
void Tanh::forward_impl(const Tensor& x, Tensor& y, bool training) {
  const int64_t count = x.size();
  const float* a = x.data();
  float* b = y.data();
#pragma omp parallel for schedule(static) if (count >= kParallelMin)
  for (int64_t i = 0; i < count; ++i) b[i] = std::tanh(a[i]);
  if (training) keep(b, x.dim(0));
}

// dy, dx: (n, features); tanh' = 1 - tanh^2 from the kept output.
void Tanh::backward_impl(const Tensor& dy, Tensor& dx, bool need_dx, bool) {
  if (!need_dx) return;
  const int64_t count = dy.size();
  const float* g = dy.data();
  const float* t = kept_.data();
  float* d = dx.data();
#pragma omp parallel for simd schedule(static) if (count >= kParallelMin)
  for (int64_t i = 0; i < count; ++i) d[i] = g[i] * (1.0f - t[i] * t[i]);
}

}  // namespace nmode
