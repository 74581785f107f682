// Sequential: a chain of layers with forward, backward (to the parameters and,
// for attacks, to the input) and reused buffers, on the CPU or, through its GPU
// half (CudaModel), on the GPU; plus the model factory and the model description
// stored in checkpoint metadata.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nmode/classifier.hpp"
#include "nmode/device.hpp"
#include "nmode/layers.hpp"
#include "nmode/tensor.hpp"

namespace nmode {

class CudaModel;  // nmode/cuda_model.hpp

// Activations and gradients live in member tensors reused across calls, so once
// the batch size is fixed, forward and backward allocate nothing.
class Sequential final : public Classifier {
 public:
  Sequential();
  ~Sequential() override;  // not movable: the GPU half refers to the model

  // Appends a layer; throws InvalidArgument when its in_features differs from
  // the previous layer's out_features, or when the model is on the GPU (add the
  // layers first). Returns the layer.
  Layer& add(std::unique_ptr<Layer> layer);
  template <class L, class... Args>
  L& emplace(Args&&... args) {
    return static_cast<L&>(add(std::make_unique<L>(std::forward<Args>(args)...)));
  }

  size_t size() const { return layers_.size(); }
  Layer& layer(size_t i) { return *layers_.at(i); }
  const Layer& layer(size_t i) const { return *layers_.at(i); }

  // x: (n, input_dim) -> logits: (n, num_classes), resized. `training` keeps what
  // backward needs (see Layer::forward).
  void forward(const Tensor& x, Tensor& logits, bool training);

  // Backward for the last forward(..., training = true). dlogits: (n, num_classes).
  // Parameter gradients accumulate (call zero_grad first); with dx non-null the
  // input gradient dx: (n, input_dim) is written too.
  void backward(const Tensor& dlogits, Tensor* dx = nullptr);

  void zero_grad();

  // Where forward, backward and the Classifier calls run (default: the CPU); the
  // parameters, their gradients and the checkpoints stay the host's either way.
  // Cuda makes the model's GPU half (CudaModel) from the layers and the parameters
  // as they are now: after the host's parameters change (a checkpoint load, an
  // optimizer step on the host), call it again. Throws as CudaModel's constructor
  // does (InvalidArgument for a layer without a CUDA implementation, Error when no
  // GPU is usable), and the model then stays where it was; Auto is an
  // InvalidArgument (resolve_device first). A backward refers to the latest
  // training forward on the same device.
  void set_device(Device device);
  Device device() const { return gpu_ ? Device::Cuda : Device::Cpu; }
  // The GPU half while on the GPU, else null: for whole training steps on the
  // device (CudaModel::train_step) and device-resident work.
  CudaModel* gpu() { return gpu_.get(); }

  // All trainable parameters as "<layer index>.<name>" ("0.weight", "0.bias",
  // "1.lambda", "2.weight", ...), PyTorch's nn.Sequential naming. The views stay
  // valid while the model lives, so a training loop can fetch them once.
  const std::vector<ParameterRef>& parameters() { return params_; }
  int64_t parameter_count() const;

  // Names of the weight matrices that feed an NmOde layer directly (a Linear
  // right before it), e.g. {"0.weight"}: where nmODE+ clipping and penalty apply.
  std::vector<std::string> nmode_input_weights() const;

  // One line per layer, e.g. "0: Linear(784 -> 2048)".
  std::string describe() const;

  // Classifier. input_dim/num_classes throw InvalidArgument on an empty model.
  int64_t input_dim() const override;
  int64_t num_classes() const override;
  // x: (n, input_dim) -> logits: (n, num_classes); need_input_grad keeps the state
  // for backward_input.
  void forward(const float* x, int64_t n, float* logits, bool need_input_grad) override;
  // dlogits: (n, num_classes) -> dx: (n, input_dim) for the last forward with
  // need_input_grad (or training). Parameter gradients are neither computed nor touched.
  void backward_input(const float* dlogits, float* dx) override;
  // On the GPU, the attacks the device runs whole (CudaModel::run_attack_on_device).
  bool run_attack_on_device(const float* x, const int32_t* y, int64_t n, const AttackConfig& config,
                            const int64_t* example_ids, AttackResult& result) override;

 private:
  void check_not_empty() const;
  void backward_chain(const Tensor& dlogits, Tensor* dx, bool need_param_grads);

  std::vector<std::unique_ptr<Layer>> layers_;
  std::vector<ParameterRef> params_;  // collected by add(); the layers' tensors never move
  std::vector<Tensor> acts_;   // acts_[i]: output of layer i (all but the last)
  std::vector<Tensor> grads_;  // grads_[i]: gradient w.r.t. the input of layer i (i >= 1)
  Tensor input_, logits_, dlogits_, dinput_;  // staging for the raw-pointer Classifier calls
  int64_t grad_batch_ = -1;                   // batch of the last training forward
  std::unique_ptr<CudaModel> gpu_;            // set_device(Cuda)
};

// What make_model builds. Reference model: 784 -> Linear(2048) -> NmOde(lambda 3,
// t_end 1) -> Linear(10). "mlp-relu"/"mlp-tanh" put ReLU/Tanh in the NmOde's place;
// "node" puts ReLU then a coupled neural ODE there (NeuralOde, nmode/neural_ode.hpp:
// state width = hidden; t_end, rtol, atol and node_steps apply): an ODE-Net, whose
// ODE block follows a feature extractor with its activation (Chen et al. 2018).
struct ModelSpec {
  std::string kind = "nmode";  // "nmode" | "mlp-relu" | "mlp-tanh" | "node"
  int64_t input = 784, hidden = 2048, classes = 10;
  double lambda = 3, t_end = 1, rtol = 1e-3, atol = 1e-3;  // NmOde; t_end, rtol, atol also node
  bool learn_lambda = false;                                // NmOde only
  std::string node_steps = "per-sample";                    // node only: "per-sample" | "batch-shared"

  // Throws InvalidArgument naming the field and its value.
  void validate() const;
};

// Builds the model; Linear layer i is initialised from derive_seed(seed, i).
std::unique_ptr<Sequential> make_model(const ModelSpec& spec, uint64_t seed);

// The names and shapes of make_model(spec)'s parameters, computed without
// allocating them: a checkpoint whose metadata disagrees with its tensors can be
// refused before a model of the claimed size is built.
std::map<std::string, std::vector<int64_t>> parameter_shapes(const ModelSpec& spec);

// The spec as checkpoint metadata under "model.*" keys (doubles written with 17
// significant digits, so spec_from_metadata(to_metadata(s)) == s exactly).
std::map<std::string, std::string> to_metadata(const ModelSpec& spec);
// Reads the "model.*" keys and ignores others (training settings, optimizer
// state). Throws IoError naming the key for a missing key, an unknown "model.*"
// key, or a value that does not parse.
ModelSpec spec_from_metadata(const std::map<std::string, std::string>& metadata);

bool operator==(const ModelSpec& a, const ModelSpec& b);
inline bool operator!=(const ModelSpec& a, const ModelSpec& b) { return !(a == b); }

// Sums the solver statistics of the model's nmODE and neural-ODE layers from their
// last forward; on the GPU, those of its GPU half's last forward (CudaModel::last_stats).
SolveStats last_solver_stats(Sequential& model);

// Sums the steady-state regulariser terms (TisODE) of the model's neural-ODE
// layers at their last training forward: the part of the loss beyond the data term.
double steady_state_loss(Sequential& model);

}  // namespace nmode
