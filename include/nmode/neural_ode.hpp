// A coupled neural-ODE layer, the baseline the nmODE paper compares with: the
// ODE-Net block of Chen et al. (2018) in the time-invariant form that Yan et al.
// (2019, TisODE) study on MNIST, dh/dt = tanh(W h + b) on a state of width d,
// h(0) = x, output h(t_end). Unlike the nmODE layer, the d components of a
// sample are coupled, so a sample is integrated as one system with one step size.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nmode/layers.hpp"
#include "nmode/ode.hpp"
#include "nmode/tensor.hpp"

namespace nmode {

// PerSample: every sample has its own adaptive step (torchode's behaviour), so a
// sample's output is bitwise independent of the rest of the batch and of the
// thread count. BatchShared: one step for the whole batch from the RMS error
// over all of it (torchdiffeq's behaviour), kept for comparison: there a
// sample's output depends on its batch.
enum class StepControl { PerSample, BatchShared };
const char* to_string(StepControl control);  // "per-sample", "batch-shared"
StepControl parse_step_control(const std::string& name);  // InvalidArgument naming the choices

// The accepted steps of a training forward, in the order they were taken (a
// sample's steps in time order): what backward differentiates through.
struct NeuralOdeTape {
  std::vector<float> states;    // (steps, d): the state each step started from
  std::vector<float> h;         // (steps): its size, as the step used it
  std::vector<int64_t> sample;  // (steps): its sample (row of the batch)

  void clear() {
    states.clear();
    h.clear();
    sample.clear();
  }
};

struct NeuralOdeOptions {
  double t_end = 1.0;
  double rtol = 1e-3, atol = 1e-3;  // per component; a step is accepted when the RMS of scaled errors <= 1
  int64_t max_steps = 10000;        // attempts per sample before it counts as failed
  StepControl steps = StepControl::PerSample;

  void validate() const;  // InvalidArgument naming the option and its value
};

// dh/dt = tanh(W h + b), W: (d, d), b: (d), initialised as PyTorch's nn.Linear.
//
// Forward: Dormand-Prince 5(4) with Hairer's initial step and controller (the
// nmODE solver's, include/nmode/detail/dopri5.hpp); the right-hand side of all
// active samples is one GEMM per stage.
//
// Backward: exact for the discrete map with the accepted steps frozen, by
// backpropagation through the accepted steps with checkpointing. A training
// forward keeps each accepted step's start state and size (memory per sample
// O(steps x d)); backward recomputes that step's stages and runs the step's
// reverse. Chosen over the adjoint ODE because the adjoint's backward solve is
// only accurate to its tolerance, so its gradients are not the gradients of the
// map the forward computed (Gholami et al. 2019, "ANODE"), which would blur
// both training and gradient-based attacks; the memory is small at these widths.
//
// TisODE's steady-state regulariser (optional, set_steady_state_weight): adds
//   w * (1/n) sum_samples (1/d) sum_i |f(h(t_end))_i|
// to the loss: the velocity left at the output, the integrand of Yan et al.'s
// ∫_T^2T |f(h(t))| dt at its left end (its rectangle-rule estimate per unit time).
class NeuralOde final : public Layer {
 public:
  NeuralOde(int64_t width, const NeuralOdeOptions& options, uint64_t seed = 0);

  void reset_parameters(uint64_t seed);
  Tensor& weight() { return weight_; }  // (d, d)
  Tensor& bias() { return bias_; }      // (d)
  const NeuralOdeOptions& options() const { return options_; }

  // TisODE: the steady-state weight w >= 0 (0: off). Its gradient enters in a
  // backward with parameter gradients (training), not in an input-only one (attacks).
  void set_steady_state_weight(double w);
  double steady_state_weight() const { return steady_state_weight_; }
  // The regulariser's value at the last training forward (0 when off).
  double last_steady_state_loss() const { return steady_state_loss_; }

  // Per sample: elements = samples, steps and failures as for the nmODE solver.
  const SolveStats& last_stats() const { return stats_; }
  // The accepted step sizes of one sample (its row in the batch) in the last
  // training forward, in time order: the steps backward differentiates through.
  std::vector<float> last_step_sizes(int64_t sample) const;

  std::vector<ParameterRef> parameters() override;  // "weight", "bias"
  std::string describe() const override;
  int64_t in_features() const override { return width_; }
  int64_t out_features() const override { return width_; }

 private:
  void forward_impl(const Tensor& x, Tensor& y, bool training) override;
  void backward_impl(const Tensor& dy, Tensor& dx, bool need_dx, bool need_param_grads) override;

  int64_t width_;
  NeuralOdeOptions options_;
  double steady_state_weight_ = 0.0, steady_state_loss_ = 0.0;
  Tensor weight_, bias_, weight_grad_, bias_grad_;
  int64_t group_size(int64_t n) const;  // samples integrated together (see forward_impl)

  std::vector<NeuralOdeTape> tapes_;  // of the last training forward, one per group of samples
  int64_t tape_group_ = 0;            // the samples per group of tapes_
  std::vector<float> group_grads_;    // (groups, d*d + d): each group's dW, db
  Tensor output_;  // (n, d): h(t_end) of the last training forward, for the regulariser
  SolveStats stats_;
};

}  // namespace nmode
