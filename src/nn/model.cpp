// Sequential model: chains layer forwards and backwards through member buffers
// that are reused across calls, and exposes the chain as a Classifier; on the
// GPU every call goes to its GPU half.
#include <algorithm>
#include <memory>
#include <string>

#include "nmode/cuda_model.hpp"
#include "nmode/error.hpp"
#include "nmode/model.hpp"
#include "nmode/neural_ode.hpp"

namespace nmode {

Sequential::Sequential() = default;
Sequential::~Sequential() = default;

Layer& Sequential::add(std::unique_ptr<Layer> layer) {
  if (!layer) throw InvalidArgument("Sequential::add: the layer is null");
  if (gpu_)
    throw InvalidArgument("Sequential::add: the model is on the GPU; add every layer before set_device(Device::Cuda)");
  if (!layers_.empty() && layers_.back()->out_features() != layer->in_features())
    throw InvalidArgument("Sequential::add: " + layer->describe() + " takes " + std::to_string(layer->in_features()) +
                          " features but the previous layer " + layers_.back()->describe() + " gives " +
                          std::to_string(layers_.back()->out_features()));
  const std::string prefix = std::to_string(layers_.size()) + ".";
  for (ParameterRef p : layer->parameters()) {
    p.name = prefix + p.name;
    params_.push_back(std::move(p));
  }
  layers_.push_back(std::move(layer));
  acts_.resize(layers_.size() - 1);
  grads_.resize(layers_.size());
  return *layers_.back();
}

void Sequential::check_not_empty() const {
  if (layers_.empty()) throw InvalidArgument("Sequential: the model has no layers; add() some first");
}

int64_t Sequential::input_dim() const {
  check_not_empty();
  return layers_.front()->in_features();
}

int64_t Sequential::num_classes() const {
  check_not_empty();
  return layers_.back()->out_features();
}

void Sequential::set_device(Device device) {
  if (device == Device::Auto) throw InvalidArgument("Sequential::set_device: resolve auto first (resolve_device)");
  if (device == Device::Cpu) {
    gpu_.reset();
    return;
  }
  auto gpu = std::make_unique<CudaModel>(*this);  // may throw: then nothing changed
  gpu_ = std::move(gpu);
}

// x: (n, input_dim) -> logits: (n, num_classes).
void Sequential::forward(const Tensor& x, Tensor& logits, bool training) {
  if (gpu_) return gpu_->forward(x, logits, training);
  check_not_empty();
  if (&x == &logits) throw InvalidArgument("Sequential::forward: x and logits must be different tensors");
  if (training) grad_batch_ = -1;
  const size_t last = layers_.size() - 1;
  const Tensor* in = &x;
  for (size_t i = 0; i <= last; ++i) {
    Tensor& out = i == last ? logits : acts_[i];
    layers_[i]->forward(*in, out, training);
    in = &out;
  }
  if (training) grad_batch_ = x.dim(0);
}

// dlogits: (n, num_classes) -> dx: (n, input_dim) when dx is non-null.
void Sequential::backward_chain(const Tensor& dlogits, Tensor* dx, bool need_param_grads) {
  check_not_empty();
  if (dx == &dlogits) throw InvalidArgument("Sequential::backward: dlogits and dx must be different tensors");
  const size_t last = layers_.size() - 1;
  for (size_t k = 0; k <= last; ++k) {
    const size_t i = last - k;
    const Tensor& dy = i == last ? dlogits : grads_[i + 1];
    Tensor& target = i > 0 ? grads_[i] : (dx ? *dx : grads_[0]);
    layers_[i]->backward(dy, target, i > 0 || dx != nullptr, need_param_grads);
  }
}

void Sequential::backward(const Tensor& dlogits, Tensor* dx) {
  if (gpu_) return gpu_->backward(dlogits, dx);
  backward_chain(dlogits, dx, true);
}

void Sequential::zero_grad() {
  for (const ParameterRef& p : params_) p.grad->fill(0.0f);
}

int64_t Sequential::parameter_count() const {
  int64_t count = 0;
  for (const ParameterRef& p : params_) count += p.value->size();
  return count;
}

std::vector<std::string> Sequential::nmode_input_weights() const {
  std::vector<std::string> names;
  for (size_t i = 1; i < layers_.size(); ++i)
    if (dynamic_cast<const NmOde*>(layers_[i].get()) && dynamic_cast<const Linear*>(layers_[i - 1].get()))
      names.push_back(std::to_string(i - 1) + ".weight");
  return names;
}

std::string Sequential::describe() const {
  std::string s;
  for (size_t i = 0; i < layers_.size(); ++i) {
    if (i) s += "\n";
    s += std::to_string(i) + ": " + layers_[i]->describe();
  }
  return s;
}

// x: (n, input_dim) -> logits: (n, num_classes), host arrays.
void Sequential::forward(const float* x, int64_t n, float* logits, bool need_input_grad) {
  if (gpu_) return gpu_->forward(x, n, logits, need_input_grad);
  check_not_empty();
  if (n < 0) throw InvalidArgument("Sequential::forward: batch size must be >= 0, got " + std::to_string(n));
  resize_matrix(input_, n, input_dim());
  std::copy(x, x + input_.size(), input_.data());
  forward(input_, logits_, need_input_grad);
  std::copy(logits_.data(), logits_.data() + logits_.size(), logits);
}

// dlogits: (n, num_classes) -> dx: (n, input_dim), host arrays.
void Sequential::backward_input(const float* dlogits, float* dx) {
  if (gpu_) return gpu_->backward_input(dlogits, dx);
  check_not_empty();
  if (grad_batch_ < 0)
    throw InvalidArgument("Sequential::backward_input needs a forward with need_input_grad = true before it");
  resize_matrix(dlogits_, grad_batch_, num_classes());
  std::copy(dlogits, dlogits + dlogits_.size(), dlogits_.data());
  backward_chain(dlogits_, &dinput_, false);
  std::copy(dinput_.data(), dinput_.data() + dinput_.size(), dx);
}

bool Sequential::run_attack_on_device(const float* x, const int32_t* y, int64_t n, const AttackConfig& config,
                                      const int64_t* example_ids, AttackResult& result) {
  return gpu_ && gpu_->run_attack_on_device(x, y, n, config, example_ids, result);
}

SolveStats last_solver_stats(Sequential& model) {
  if (const CudaModel* gpu = model.gpu()) return gpu->last_stats();
  SolveStats total;
  for (size_t i = 0; i < model.size(); ++i)
    if (const auto* ode = dynamic_cast<const NmOde*>(&model.layer(i))) total.merge(ode->last_stats());
    else if (const auto* node = dynamic_cast<const NeuralOde*>(&model.layer(i))) total.merge(node->last_stats());
  return total;
}

double steady_state_loss(Sequential& model) {
  double total = 0.0;
  for (size_t i = 0; i < model.size(); ++i)
    if (const auto* node = dynamic_cast<const NeuralOde*>(&model.layer(i))) total += node->last_steady_state_loss();
  return total;
}

}  // namespace nmode
