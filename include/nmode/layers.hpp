// Layers of the "autograd-lite" model: each layer's forward keeps what its
// backward needs, and backward turns the output gradient into parameter and
// input gradients. No tape and no graph; buffers are reused across calls.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nmode/device_layer.hpp"
#include "nmode/ode.hpp"
#include "nmode/tensor.hpp"

namespace nmode {

// A view of one trainable parameter for optimizers and checkpoints. The pointers
// stay valid for the lifetime of the layer that owns them.
struct ParameterRef {
  std::string name;  // "weight", "bias", "lambda"; Sequential prefixes "<index>."
  Tensor* value;
  Tensor* grad;  // same shape as value
};

// Gives `t` the shape (rows, cols), touching neither its allocation nor its shape
// vector when it already has that shape, so steady-state loops allocate nothing.
void resize_matrix(Tensor& t, int64_t rows, int64_t cols);

// Base class in the non-virtual-interface style: forward/backward check shapes
// and call order once, then hand over to the layer's forward_impl/backward_impl.
//
// Gradients ACCUMULATE: backward adds into the parameters' grad tensors (as
// PyTorch does), so callers zero them (Sequential::zero_grad) before each step.
// NaN/Inf inputs are not scanned for: they propagate to the outputs, except in
// NmOde, whose solver reports them and which then throws.
class Layer {
 public:
  Layer() = default;
  Layer(const Layer&) = delete;
  Layer& operator=(const Layer&) = delete;
  virtual ~Layer() = default;

  // x: (n, in_features) -> y: (n, out_features); y is resized, x and y must be
  // different tensors. With `training` (a backward will follow: training or
  // input gradients) the layer keeps what backward needs; without it the layer
  // takes the cheapest path and leaves the state of the last training forward.
  void forward(const Tensor& x, Tensor& y, bool training);

  // Backward for the last forward(..., training = true). dy: (n, out_features).
  // need_dx: also write dx: (n, in_features) (resized); otherwise dx is left
  // alone. need_param_grads = false skips the parameter gradients (input
  // gradients for attacks need none, and the weight GEMM is the costliest part).
  void backward(const Tensor& dy, Tensor& dx, bool need_dx, bool need_param_grads = true);

  // Views of the trainable parameters, named locally ("weight", "bias", "lambda").
  virtual std::vector<ParameterRef> parameters() { return {}; }
  virtual std::string describe() const = 0;  // e.g. "Linear(784 -> 2048)"
  virtual int64_t in_features() const = 0;
  virtual int64_t out_features() const = 0;

  // This layer's half on the GPU, which CudaModel runs (nmode/device_layer.hpp),
  // or null when the layer has no CUDA implementation or the library no CUDA
  // backend. Makes no CUDA call: a model can be checked before a device is sought.
  virtual std::unique_ptr<DeviceLayer> make_device_layer();

 private:
  virtual void forward_impl(const Tensor& x, Tensor& y, bool training) = 0;
  virtual void backward_impl(const Tensor& dy, Tensor& dx, bool need_dx, bool need_param_grads) = 0;

  int64_t cached_batch_ = -1;  // batch size of the last training forward; -1: none
};

// y = x W^T + b, W: (out, in), b: (out). Initialised as PyTorch's nn.Linear
// (kaiming-uniform with a = sqrt(5), i.e. W and b ~ U(-1/sqrt(in), 1/sqrt(in)))
// from a SplitMix64 stream seeded with `seed`: W row-major first, then b.
class Linear final : public Layer {
 public:
  Linear(int64_t in_features, int64_t out_features, uint64_t seed = 0);

  void reset_parameters(uint64_t seed);
  Tensor& weight() { return weight_; }  // (out, in)
  Tensor& bias() { return bias_; }      // (out)
  const Tensor& weight() const { return weight_; }
  const Tensor& bias() const { return bias_; }
  Tensor& weight_grad() { return weight_grad_; }
  Tensor& bias_grad() { return bias_grad_; }

  std::vector<ParameterRef> parameters() override;
  std::string describe() const override;
  int64_t in_features() const override { return in_; }
  int64_t out_features() const override { return out_; }
  std::unique_ptr<DeviceLayer> make_device_layer() override;  // kernels/nn/device_linear.cu

 private:
  void forward_impl(const Tensor& x, Tensor& y, bool training) override;
  void backward_impl(const Tensor& dy, Tensor& dx, bool need_dx, bool need_param_grads) override;

  int64_t in_, out_;
  Tensor weight_, bias_, weight_grad_, bias_grad_;
  Tensor input_;                   // (n, in): copy of the last training input, for dW
  std::vector<double> bias_acc_;   // (out): column sums of dy in double
};

// The nmODE neuron layer: y_i = y(t_end) of y' = -lambda*y + sin^2(y + x_i),
// y(0) = 0, elementwise (features in = features out). A training forward keeps
// s = dy/dgamma (and q = dy/dlambda when lambda is learnable) from the solver's
// forward sensitivities; backward is then elementwise: dx = dy * s,
// dlambda += sum(dy * q). An inference forward runs the cheaper value-only solver.
// Throws nmode::Error when the solver fails on any element (NaN/Inf input,
// max_steps exhausted, step too small).
class NmOde final : public Layer {
 public:
  NmOde(int64_t features, double lambda, double t_end, double rtol, double atol, bool learn_lambda = false);
  // options.lambda is the (initial) lambda; max_steps and the initial-step rule are kept.
  NmOde(int64_t features, const SolverOptions& options, bool learn_lambda = false);

  // The lambda the next forward uses (the parameter's value when learnable).
  double lambda() const;
  bool learn_lambda() const { return learn_lambda_; }
  // Solver options with the current lambda filled in.
  SolverOptions solver_options() const;
  // Statistics of the last forward's solve (steps, failures).
  const SolveStats& last_stats() const { return stats_; }

  std::vector<ParameterRef> parameters() override;  // "lambda": (1) when learnable
  std::string describe() const override;
  int64_t in_features() const override { return features_; }
  int64_t out_features() const override { return features_; }
  std::unique_ptr<DeviceLayer> make_device_layer() override;  // kernels/nn/device_nmode.cu

 private:
  void forward_impl(const Tensor& x, Tensor& y, bool training) override;
  void backward_impl(const Tensor& dy, Tensor& dx, bool need_dx, bool need_param_grads) override;

  int64_t features_;
  SolverOptions options_;
  bool learn_lambda_;
  Tensor lambda_, lambda_grad_;     // (1), used only when learn_lambda_
  Tensor s_, q_;                    // (n, features): dy/dgamma, dy/dlambda of the last training forward
  std::vector<double> partial_;     // per-chunk sums of dy*q: a reduction independent of the thread count
  SolveStats stats_;
};

// What the elementwise activations share: as many outputs as inputs, and one
// tensor kept from the last training forward for backward.
class ElementwiseLayer : public Layer {
 public:
  int64_t in_features() const override { return features_; }
  int64_t out_features() const override { return features_; }
  std::string describe() const override;

 protected:
  ElementwiseLayer(const char* name, int64_t features);  // InvalidArgument unless features > 0
  void keep(const float* v, int64_t rows);                // into kept_: (rows, features)

  const char* name_;
  int64_t features_;
  Tensor kept_;
};

// y = max(x, 0) elementwise (NaN propagates); dx = dy where x > 0, else 0. Keeps x.
class ReLU final : public ElementwiseLayer {
 public:
  explicit ReLU(int64_t features) : ElementwiseLayer("ReLU", features) {}
  std::unique_ptr<DeviceLayer> make_device_layer() override;  // kernels/nn/device_activations.cu

 private:
  void forward_impl(const Tensor& x, Tensor& y, bool training) override;
  void backward_impl(const Tensor& dy, Tensor& dx, bool need_dx, bool need_param_grads) override;
};

// y = tanh(x) elementwise; dx = dy * (1 - y^2). Keeps y.
class Tanh final : public ElementwiseLayer {
 public:
  explicit Tanh(int64_t features) : ElementwiseLayer("Tanh", features) {}
  std::unique_ptr<DeviceLayer> make_device_layer() override;  // kernels/nn/device_activations.cu

 private:
  void forward_impl(const Tensor& x, Tensor& y, bool training) override;
  void backward_impl(const Tensor& dy, Tensor& dx, bool need_dx, bool need_param_grads) override;
};

}  // namespace nmode
