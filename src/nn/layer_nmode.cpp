// NmOde layer: each feature is one nmODE neuron driven by its input gamma. The
// solver's forward sensitivities make backward elementwise, with no trajectory kept.
#include <algorithm>
#include <sstream>
#include <string>

#include "nmode/error.hpp"
#include "core/numbers.hpp"
#include "nmode/layers.hpp"
#include "nn/nmode_failure.hpp"

namespace nmode {
namespace {

constexpr int64_t kParallelMin = 1 << 15;
// Fixed-size chunks for the lambda-gradient sum: the chunking depends on n
// only, so the sum is bitwise the same for any number of threads.
constexpr int64_t kSumChunk = 4096;

SolverOptions make_options(double lambda, double t_end, double rtol, double atol) {
  SolverOptions o;
  o.lambda = lambda;
  o.t_end = t_end;
  o.rtol = rtol;
  o.atol = atol;
  return o;
}

}  // namespace

NmOde::NmOde(int64_t features, double lambda, double t_end, double rtol, double atol, bool learn_lambda)
    : NmOde(features, make_options(lambda, t_end, rtol, atol), learn_lambda) {}

NmOde::NmOde(int64_t features, const SolverOptions& options, bool learn_lambda)
    : features_(features), options_(options), learn_lambda_(learn_lambda) {
  if (features <= 0) throw InvalidArgument("NmOde: features must be > 0, got " + std::to_string(features));
  options_.validate();
  if (learn_lambda_) {
    lambda_ = Tensor({1}, static_cast<float>(options_.lambda));
    lambda_grad_ = Tensor({1});
  }
}

double NmOde::lambda() const { return learn_lambda_ ? static_cast<double>(lambda_[0]) : options_.lambda; }

SolverOptions NmOde::solver_options() const {
  SolverOptions o = options_;
  o.lambda = lambda();
  return o;
}

std::vector<ParameterRef> NmOde::parameters() {
  if (!learn_lambda_) return {};
  return {{"lambda", &lambda_, &lambda_grad_}};
}

std::string NmOde::describe() const {
  std::ostringstream s;
  s << "NmOde(" << features_ << ", lambda=" << lambda() << (learn_lambda_ ? " (learnable)" : "")
    << ", t_end=" << options_.t_end << ", rtol=" << options_.rtol << ", atol=" << options_.atol << ")";
  return s.str();
}

// x: (n, features) = gamma -> y: (n, features) = y(t_end).
void NmOde::forward_impl(const Tensor& x, Tensor& y, bool training) {
  const int64_t n = x.dim(0), count = x.size();
  const SolverOptions o = solver_options();
  SolveOutputs<float> out;
  out.y = y.data();
  if (training) {
    resize_matrix(s_, n, features_);
    out.dy_dgamma = s_.data();
    if (learn_lambda_) {
      resize_matrix(q_, n, features_);
      out.dy_dlambda = q_.data();
    }
  }
  stats_ = solve_cpu<float>(o, count, x.data(), nullptr, out);
  if (stats_.failed() > 0) throw Error(nmode_failure_message(describe(), stats_, o));
}

// dy: (n, features) -> dx = dy * s; lambda's gradient accumulates sum(dy * q).
void NmOde::backward_impl(const Tensor& dy, Tensor& dx, bool need_dx, bool need_param_grads) {
  const int64_t count = dy.size();
  const float* g = dy.data();
  if (need_dx) {
    const float* s = s_.data();
    float* d = dx.data();
#pragma omp parallel for simd schedule(static) if (count >= kParallelMin)
    for (int64_t i = 0; i < count; ++i) d[i] = g[i] * s[i];
  }
  if (need_param_grads && learn_lambda_) {
    const float* q = q_.data();
    const int64_t chunks = ceil_div(count, kSumChunk);
    partial_.resize(static_cast<size_t>(chunks));  // grows once, then keeps its capacity
    double* part = partial_.data();
#pragma omp parallel for schedule(static) if (count >= kParallelMin)
    for (int64_t c = 0; c < chunks; ++c) {
      double acc = 0.0;
      const int64_t end = std::min(count, (c + 1) * kSumChunk);
      for (int64_t i = c * kSumChunk; i < end; ++i) acc += static_cast<double>(g[i]) * static_cast<double>(q[i]);
      part[c] = acc;
    }
    double total = 0.0;
    for (int64_t c = 0; c < chunks; ++c) total += part[c];
    lambda_grad_[0] = static_cast<float>(static_cast<double>(lambda_grad_[0]) + total);
  }
}

}  // namespace nmode
