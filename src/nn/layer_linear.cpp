// Linear layer: y = x W^T + b on the blocked CPU GEMM, with backward
// dW += dy^T x, db += column sums of dy, dx = dy W.
#include <algorithm>
#include <cmath>
#include <string>

#include "nmode/error.hpp"
#include "nmode/gemm.hpp"
#include "nmode/layers.hpp"
#include "nmode/random.hpp"
#include "nn/column_sums.hpp"

namespace nmode {
namespace {

// Below this many elements a parallel region costs more than the loop.
constexpr int64_t kParallelMin = 1 << 15;

}  // namespace

Linear::Linear(int64_t in_features, int64_t out_features, uint64_t seed) : in_(in_features), out_(out_features) {
  if (in_features <= 0 || out_features <= 0)
    throw InvalidArgument("Linear: in_features and out_features must be > 0, got " + std::to_string(in_features) +
                          " and " + std::to_string(out_features));
  weight_ = Tensor({out_, in_});
  bias_ = Tensor({out_});
  weight_grad_ = Tensor({out_, in_});
  bias_grad_ = Tensor({out_});
  reset_parameters(seed);
}

void Linear::reset_parameters(uint64_t seed) {
  // PyTorch's nn.Linear.reset_parameters: kaiming_uniform_(a = sqrt(5)) gives
  // bound = gain * sqrt(3 / fan_in) = sqrt(2 / 6) * sqrt(3 / in) = 1 / sqrt(in),
  // and the bias uses the same bound.
  const double bound = 1.0 / std::sqrt(static_cast<double>(in_));
  SplitMix64 rng(seed);
  for (int64_t i = 0; i < weight_.size(); ++i)
    weight_[i] = static_cast<float>((2.0 * rng.next_uniform01() - 1.0) * bound);
  for (int64_t i = 0; i < bias_.size(); ++i)
    bias_[i] = static_cast<float>((2.0 * rng.next_uniform01() - 1.0) * bound);
}

std::vector<ParameterRef> Linear::parameters() {
  return {{"weight", &weight_, &weight_grad_}, {"bias", &bias_, &bias_grad_}};
}

std::string Linear::describe() const {
  return "Linear(" + std::to_string(in_) + " -> " + std::to_string(out_) + ")";
}

// x: (n, in) -> y: (n, out), y already sized by Layer::forward.
void Linear::forward_impl(const Tensor& x, Tensor& y, bool training) {
  const int64_t n = x.dim(0);
  float* yp = y.data();
  const float* b = bias_.data();
  // Start from the bias and let the GEMM add x W^T (beta = 1): one pass over y.
#pragma omp parallel for schedule(static) if (n * out_ >= kParallelMin)
  for (int64_t r = 0; r < n; ++r) std::copy(b, b + out_, yp + r * out_);
  sgemm(Trans::No, Trans::Yes, n, out_, in_, 1.0f, x.data(), in_, weight_.data(), in_, 1.0f, yp, out_);
  if (training) {
    // A copy rather than a pointer to x: backward stays valid whatever the
    // caller does with x, for a memory pass that is small next to the GEMM.
    resize_matrix(input_, n, in_);
    std::copy(x.data(), x.data() + x.size(), input_.data());
  }
}

// dy: (n, out) -> dx: (n, in); dW: (out, in) and db: (out) accumulate.
void Linear::backward_impl(const Tensor& dy, Tensor& dx, bool need_dx, bool need_param_grads) {
  const int64_t n = dy.dim(0);
  const float* g = dy.data();
  if (need_param_grads) {
    sgemm(Trans::Yes, Trans::No, out_, in_, n, 1.0f, g, out_, input_.data(), in_, 1.0f, weight_grad_.data(), in_);
    add_column_sums(g, n, out_, bias_acc_, bias_grad_.data());
  }
  if (need_dx) sgemm(Trans::No, Trans::No, n, in_, out_, 1.0f, g, out_, weight_.data(), in_, 0.0f, dx.data(), in_);
}

}  // namespace nmode
