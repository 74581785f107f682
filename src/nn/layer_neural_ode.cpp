// NeuralOde's public face: options, parameters, the shape checks' hand-over to
// the forward and backward of neural_ode_forward.cpp / neural_ode_backward.cpp,
// the failure message, and TisODE's steady-state regulariser.
#include <cmath>
#include <sstream>
#include <string>

#include "nmode/error.hpp"
#include "nmode/gemm.hpp"
#include "nmode/neural_ode.hpp"
#include "nmode/random.hpp"
#include "nmode/simd.hpp"
#include "nn/column_sums.hpp"
#include "nn/neural_ode_steps.hpp"

namespace nmode {

const char* to_string(StepControl control) {
  return control == StepControl::PerSample ? "per-sample" : "batch-shared";
}

StepControl parse_step_control(const std::string& name) {
  if (name == "per-sample") return StepControl::PerSample;
  if (name == "batch-shared") return StepControl::BatchShared;
  throw InvalidArgument("step control must be \"per-sample\" or \"batch-shared\", got \"" + name + "\"");
}

void NeuralOdeOptions::validate() const {
  if (!(std::isfinite(t_end) && t_end > 0)) throw InvalidArgument("neural ODE t_end must be finite and > 0, got " + std::to_string(t_end));
  if (!(std::isfinite(rtol) && rtol > 0 && rtol < 1))
    throw InvalidArgument("neural ODE rtol must be in (0, 1), got " + std::to_string(rtol));
  if (!(std::isfinite(atol) && atol > 0 && atol < 1))
    throw InvalidArgument("neural ODE atol must be in (0, 1), got " + std::to_string(atol));
  if (max_steps < 1) throw InvalidArgument("neural ODE max_steps must be >= 1, got " + std::to_string(max_steps));
}

NeuralOde::NeuralOde(int64_t width, const NeuralOdeOptions& options, uint64_t seed) : width_(width), options_(options) {
  if (width <= 0) throw InvalidArgument("NeuralOde: width must be > 0, got " + std::to_string(width));
  options_.validate();
  weight_ = Tensor({width_, width_});
  bias_ = Tensor({width_});
  weight_grad_ = Tensor({width_, width_});
  bias_grad_ = Tensor({width_});
  reset_parameters(seed);
}

void NeuralOde::reset_parameters(uint64_t seed) {
  // As nn.Linear (see Linear::reset_parameters): W and b ~ U(-1/sqrt(d), 1/sqrt(d)).
  const double bound = 1.0 / std::sqrt(static_cast<double>(width_));
  SplitMix64 rng(seed);
  for (int64_t i = 0; i < weight_.size(); ++i) weight_[i] = static_cast<float>((2.0 * rng.next_uniform01() - 1.0) * bound);
  for (int64_t i = 0; i < bias_.size(); ++i) bias_[i] = static_cast<float>((2.0 * rng.next_uniform01() - 1.0) * bound);
}

void NeuralOde::set_steady_state_weight(double w) {
  if (!(std::isfinite(w) && w >= 0)) throw InvalidArgument("steady-state weight must be finite and >= 0, got " + std::to_string(w));
  steady_state_weight_ = w;
}

std::vector<ParameterRef> NeuralOde::parameters() {
  return {{"weight", &weight_, &weight_grad_}, {"bias", &bias_, &bias_grad_}};
}

std::string NeuralOde::describe() const {
  std::ostringstream s;
  s << "NeuralOde(" << width_ << ", tanh(W h + b), t_end=" << options_.t_end << ", rtol=" << options_.rtol
    << ", atol=" << options_.atol << ", steps " << to_string(options_.steps) << ")";
  return s.str();
}

std::vector<float> NeuralOde::last_step_sizes(int64_t sample) const {
  std::vector<float> h;
  const int64_t group = tape_group_;
  if (group <= 0 || sample < 0) return h;
  const size_t g = static_cast<size_t>(sample / group);
  if (g >= tapes_.size()) return h;
  const NeuralOdeTape& tape = tapes_[g];
  for (size_t j = 0; j < tape.sample.size(); ++j)
    if (tape.sample[j] == sample % group) h.push_back(tape.h[j]);
  return h;
}

namespace {

NeuralOdeRhs make_rhs(const Tensor& weight, const Tensor& bias, int64_t d) {
  return {weight.data(), bias.data(), d, &neural_ode_kernels_for(active_simd_target())};
}

std::string failure_message(const std::string& layer, const SolveStats& s) {
  std::ostringstream m;
  m << layer << ": the solver failed on " << s.failed() << " of " << s.elements << " samples (" << s.non_finite
    << " with a non-finite input, " << s.hit_max_steps << " at max_steps, " << s.step_too_small
    << " with a vanishing step); check the input for NaN/Inf or loosen rtol/atol";
  return m.str();
}

}  // namespace

// Per-sample steps: the batch is integrated in groups of kSamplesPerGroup samples,
// one group per thread at a time with serial GEMMs inside. One parallel region
// per forward instead of one per GEMM and per elementwise pass: a region waits for
// its whole team, which costs a scheduler slice whenever another process holds a
// core (a step of a 256 x 256 state spends ~100 of them). The groups are fixed by
// the batch, not the thread count, so the results are too. A batch-shared step
// needs the whole batch, as one group.
int64_t NeuralOde::group_size(int64_t n) const {
  return options_.steps == StepControl::PerSample ? kSamplesPerGroup : std::max<int64_t>(n, 1);
}

// x: (n, d) = h(0) -> y: (n, d) = h(t_end).
void NeuralOde::forward_impl(const Tensor& x, Tensor& y, bool training) {
  const int64_t n = x.dim(0), group = group_size(n), groups = (n + group - 1) / group;
  const NeuralOdeRhs f = make_rhs(weight_, bias_, width_);
  if (training) {
    tapes_.resize(static_cast<size_t>(groups));
    tape_group_ = group;
  }
  std::vector<SolveStats> stats(static_cast<size_t>(groups));
#pragma omp parallel for schedule(dynamic, 1) if (groups > 1)
  for (int64_t g = 0; g < groups; ++g) {
    const int64_t first = g * group, rows = std::min(group, n - first);
    stats[static_cast<size_t>(g)] = integrate_neural_ode(f, options_, x.data() + first * width_, rows,
                                                          y.data() + first * width_,
                                                          training ? &tapes_[static_cast<size_t>(g)] : nullptr);
  }
  stats_ = SolveStats{};
  for (const SolveStats& s : stats) stats_.merge(s);
  if (stats_.failed() > 0) throw Error(failure_message(describe(), stats_));
  steady_state_loss_ = 0.0;
  if (training) {
    resize_matrix(output_, n, width_);
    std::copy(y.data(), y.data() + y.size(), output_.data());
    if (steady_state_weight_ > 0 && n > 0) {
      Tensor v({n, width_});
      f(output_.data(), n, v.data());
      double total = 0.0;
      for (int64_t i = 0; i < v.size(); ++i) total += std::fabs(static_cast<double>(v[i]));
      steady_state_loss_ = steady_state_weight_ * total / static_cast<double>(n * width_);
    }
  }
}

// dy: (n, d) -> dx: (n, d); dW, db accumulate.
void NeuralOde::backward_impl(const Tensor& dy, Tensor& dx, bool need_dx, bool need_param_grads) {
  const int64_t n = dy.dim(0);
  const NeuralOdeRhs f = make_rhs(weight_, bias_, width_);
  Tensor adjoint = dy;
  // The regulariser is part of the training loss only: an input gradient for an
  // attack (no parameter gradients wanted) is the gradient of the attacked loss.
  if (steady_state_weight_ > 0 && n > 0 && need_param_grads) {
    // d/dh of w/(n d) sum |f(h)|: u = w/(n d) sign(f) (1 - f^2), then dh += u W, dW += u^T h, db += sum u.
    Tensor v({n, width_}), u({n, width_});
    f(output_.data(), n, v.data());
    const float scale = static_cast<float>(steady_state_weight_ / static_cast<double>(n * width_));
    for (int64_t i = 0; i < v.size(); ++i)
      u[i] = v[i] > 0 ? scale * (1.0f - v[i] * v[i]) : v[i] < 0 ? -scale * (1.0f - v[i] * v[i]) : 0.0f;
    sgemm(Trans::Yes, Trans::No, width_, width_, n, 1.0f, u.data(), width_, output_.data(), width_, 1.0f,
          weight_grad_.data(), width_);
    std::vector<double> acc;
    add_column_sums(u.data(), n, width_, acc, bias_grad_.data());
    gemm_rows(Trans::No, n, width_, u.data(), weight_.data(), 1.0f, adjoint.data());
  }
  // Each group's parameter gradients into its own buffer, summed in group order
  // afterwards: the same bits whatever the thread count.
  const int64_t group = group_size(n), groups = (n + group - 1) / group, dd = width_ * width_;
  if (need_param_grads) group_grads_.assign(static_cast<size_t>(groups * (dd + width_)), 0.0f);
#pragma omp parallel for schedule(dynamic, 1) if (groups > 1)
  for (int64_t g = 0; g < groups; ++g) {
    const int64_t first = g * group, rows = std::min(group, n - first);
    float* grads = need_param_grads ? group_grads_.data() + g * (dd + width_) : nullptr;
    backprop_neural_ode(f, tapes_[static_cast<size_t>(g)], rows, adjoint.data() + first * width_, grads,
                        grads ? grads + dd : nullptr);
  }
  if (need_param_grads)
    for (int64_t g = 0; g < groups; ++g) {
      const float* grads = group_grads_.data() + g * (dd + width_);
      for (int64_t i = 0; i < dd; ++i) weight_grad_[i] += grads[i];
      for (int64_t i = 0; i < width_; ++i) bias_grad_[i] += grads[dd + i];
    }
  if (need_dx) std::copy(adjoint.data(), adjoint.data() + adjoint.size(), dx.data());
}

}  // namespace nmode
