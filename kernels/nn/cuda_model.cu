// CudaModel: a Sequential's forward and backward on the GPU, as a chain of the
// layers' device forms (Layer::make_device_layer, nmode/device_layer.hpp).
// The chain owns what passes between layers: the activations, the gradients
// ping-ponged through them, the solves' statistics, and the one read-back per
// batch; a training step adds the loss and Adam on the device.
// The model's device memory is reused across calls and grows only with the batch.
#include <cuda_runtime.h>

#include <algorithm>
#include <climits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cuda_check.cuh"
#include "nmode/cuda_attack.hpp"
#include "nmode/cuda_model.hpp"
#include "nmode/device.hpp"
#include "nmode/device_buffer.hpp"
#include "nmode/error.hpp"
#include "nmode/layers.hpp"
#include "nmode/optim.hpp"
#include "nn/device_context.cuh"
#include "train/cuda_training.cuh"

namespace nmode {
namespace {

void check_int_range(const char* what, int64_t value) {
  // cuBLAS takes int dimensions.
  if (value > INT_MAX)
    throw InvalidArgument(std::string("CudaModel: ") + what + " must be at most " + std::to_string(INT_MAX) +
                          ", got " + std::to_string(value));
}

// One trainable parameter, in the host model's order (Sequential::parameters()):
// one a device layer keeps a copy of lives on the device for train_step, with its
// Adam moments there too; anything else (a learnable lambda) stays on the host.
struct Parameter {
  ParameterRef host;            // the host model's tensors
  DeviceParameter device;       // value null: a host parameter
  DeviceBuffer<float> m, v;     // Adam's moments, allocated by the first upload of the training state
  bool on_device() const { return device.value != nullptr; }
  int64_t count() const { return device.rows * device.cols; }
};

}  // namespace

struct CudaModel::Impl {
  Sequential* model = nullptr;
  std::unique_ptr<DeviceContext> ctx;
  std::vector<std::unique_ptr<DeviceLayer>> layers;  // layers[i]: the device form of model->layer(i)
  std::vector<int64_t> widths;  // widths[0]: the input's; widths[i + 1]: layer i's output
  std::vector<int64_t> stat_offsets;  // layer i's statistics at step_stats + stat_offsets[i]
  int64_t in = 0, classes = 0, max_features = 0;
  int64_t capacity = 0;        // the batch the device buffers are sized for
  int64_t trained_batch = -1;  // batch of the latest forward when it was a training one; -1: none
  std::vector<DeviceBuffer<float>> acts;  // acts[0]: input (n, in); acts[i + 1]: output of layer i
  DeviceBuffer<float> grad_a, grad_b;     // (n, max_features): gradients, ping-ponged through the layers
  std::vector<Parameter> params;
  std::vector<cuda_training::AdamSegment> segments;  // train_step's Adam launch
  // train_step's loss: labels and per-row results on the device, read back once.
  DeviceBuffer<int32_t> labels, row_correct;
  DeviceBuffer<double> row_loss, row_sums;
  std::vector<int32_t> host_correct;
  std::vector<double> host_loss, host_row_sums;
  // A forward's solves leave their statistics here, read back with the forward's results.
  DeviceBuffer<unsigned long long> step_stats;
  std::vector<unsigned long long> host_stats;
  SolveStats last_stats;  // of the latest forward that was checked

  // Grows the batch-sized buffers to hold n rows; contents are not kept.
  void reserve(int64_t n) {
    if (n <= capacity) return;
    const size_t rows = static_cast<size_t>(n);
    capacity = 0;  // an allocation below may throw (out of memory): then nothing is usable
    acts.clear();
    for (int64_t width : widths) acts.emplace_back(rows * size_t(width));
    for (auto& layer : layers) layer->reserve(n);
    grad_a = DeviceBuffer<float>(rows * size_t(max_features));
    grad_b = DeviceBuffer<float>(rows * size_t(max_features));
    capacity = n;
  }

  void backward(const Tensor& dlogits, Tensor* dx, DeviceGrads grads) {
    if (trained_batch < 0)
      throw InvalidArgument("CudaModel::backward needs the latest forward to have training = true");
    const int64_t n = trained_batch;
    if (dlogits.rank() != 2 || dlogits.dim(0) != n || dlogits.dim(1) != classes)
      throw InvalidArgument("CudaModel::backward: dlogits has shape " + dlogits.shape_string() + ", expected (" +
                            std::to_string(n) + ", " + std::to_string(classes) + ") as the latest forward's logits");
    if (dx == &dlogits) throw InvalidArgument("CudaModel::backward: dlogits and dx must be different tensors");
    if (dx) resize_matrix(*dx, n, in);
    if (n == 0) return;
    grad_a.copy_from_host(dlogits.data(), size_t(dlogits.size()));
    const float* d_dx = backward_chain(n, dx != nullptr, grads);
    if (dx) NMODE_CUDA_CHECK(cudaMemcpy(dx->data(), d_dx, size_t(dx->size()) * sizeof(float), cudaMemcpyDeviceToHost));
  }

  // The layers' backward from dlogits in grad_a, for the latest training forward of
  // n > 0 rows; returns the device input gradient (valid when need_dx).
  float* backward_chain(int64_t n, bool need_dx, DeviceGrads grads) {
    float* dy = grad_a.data();
    float* other = grad_b.data();
    for (size_t k = 0; k < layers.size(); ++k) {
      const size_t i = layers.size() - 1 - k;
      layers[i]->backward(*ctx, n, acts[i].data(), acts[i + 1].data(), dy, other, i > 0 || need_dx, grads);
      std::swap(dy, other);  // the layer's dx is the next layer's dy
    }
    return dy;
  }

  // The batch size of x, which must be (n, in).
  int64_t check_input(const Tensor& x, const char* caller) const {
    if (x.rank() != 2 || x.dim(1) != in)
      throw InvalidArgument(std::string(caller) + ": input must be (batch, " + std::to_string(in) + "), got shape " +
                            x.shape_string());
    check_int_range("batch size", x.dim(0));
    return x.dim(0);
  }

  // x: (n, in) host rows, n checked -> logits in acts.back() on the device. The
  // solves' statistics wait in step_stats: the caller reads them back with its
  // results (read_back) and checks them (check_solves), one synchronisation.
  void forward_rows(const float* x, int64_t n, bool training) {
    trained_batch = -1;  // invalid until this forward succeeds
    if (n > 0) {
      reserve(n);
      acts[0].copy_from_host(x, size_t(n * in));  // first: the GPU is idle, the copy waits for nothing
    }
    queue_forward(n, training);
  }

  // The layers on the first n rows of acts[0], with fresh statistics.
  void queue_forward(int64_t n, bool training) {
    trained_batch = -1;
    if (n > 0) {
      if (stat_bytes() > 0) NMODE_CUDA_CHECK(cudaMemsetAsync(step_stats.data(), 0, stat_bytes()));
      for (size_t i = 0; i < layers.size(); ++i) layers[i]->forward(*ctx, n, acts[i].data(), acts[i + 1].data(), training);
    }
    if (training) trained_batch = n;
  }

  size_t stat_bytes() const { return step_stats.size() * sizeof(unsigned long long); }

  // Copies `bytes` from the device to the host together with the latest forward's
  // solver statistics, and waits once.
  void read_back(void* host, const void* device, size_t bytes) {
    if (bytes > 0) NMODE_CUDA_CHECK(cudaMemcpyAsync(host, device, bytes, cudaMemcpyDeviceToHost));
    if (stat_bytes() > 0)
      NMODE_CUDA_CHECK(cudaMemcpyAsync(host_stats.data(), step_stats.data(), stat_bytes(), cudaMemcpyDeviceToHost));
    NMODE_CUDA_CHECK(cudaStreamSynchronize(nullptr));
  }

  // The statistics of the latest forward's solves (after read_back), summed over
  // the layers. Throws Error, as the CPU layer does, when one failed on any
  // element; `after` is added to the message.
  SolveStats check_solves(const std::string& after = "") {
    last_stats = SolveStats{};
    const int64_t checked_batch = trained_batch;
    trained_batch = -1;  // a failed solve leaves nothing to go backward from
    SolveStats total;
    for (size_t i = 0; i < layers.size(); ++i)
      if (layers[i]->stat_slots() > 0) total.merge(layers[i]->check_stats(host_stats.data() + stat_offsets[i], after));
    trained_batch = checked_batch;
    last_stats = total;
    return total;
  }

  // The parameters in the host model's order, each matched to its device copy.
  void bind_parameters() {
    std::vector<DeviceParameter> copies;
    for (auto& layer : layers)
      for (const DeviceParameter& p : layer->parameters()) copies.push_back(p);
    for (const ParameterRef& ref : model->parameters()) {
      Parameter p;
      p.host = ref;
      for (const DeviceParameter& c : copies)
        if (c.host == ref.value) p.device = c;
      params.push_back(std::move(p));
    }
  }

  // Adam's moments of the device parameters from the host optimizer (zeros before
  // its first step), allocating them on the first call.
  void upload_moments(Adam& adam) {
    const bool bound = adam.bound_parameters() == params.size() && !params.empty();
    for (size_t k = 0; k < params.size(); ++k) {
      Parameter& p = params[k];
      if (!p.on_device()) continue;
      const size_t count = size_t(p.count());
      if (p.m.size() != count) {
        p.m = DeviceBuffer<float>(count);
        p.v = DeviceBuffer<float>(count);
      }
      if (bound) {
        p.m.copy_from_host(adam.first_moment(k).data(), count);
        p.v.copy_from_host(adam.second_moment(k).data(), count);
      } else {
        NMODE_CUDA_CHECK(cudaMemset(p.m.data(), 0, count * sizeof(float)));
        NMODE_CUDA_CHECK(cudaMemset(p.v.data(), 0, count * sizeof(float)));
      }
    }
  }

  // The row of largest L1 norm of parameter k's current value (Adam::next_step's
  // penalty_row), with row_l1_argmax's rule: the largest sum, ties to the smaller
  // row, NaN never winning.
  int64_t penalty_row(size_t k) {
    Parameter& p = params[k];
    if (!p.on_device()) return row_l1_argmax(*p.host.value);
    const int64_t rows = p.device.rows;
    if (row_sums.size() < size_t(rows)) row_sums = DeviceBuffer<double>(size_t(rows));
    cuda_training::row_l1_sums(rows, p.device.cols, p.device.value, row_sums.data());
    host_row_sums.resize(size_t(rows));
    row_sums.copy_to_host(host_row_sums.data(), size_t(rows));
    double best = -1.0;
    int64_t row = -1;
    for (int64_t r = 0; r < rows; ++r)
      if (host_row_sums[size_t(r)] > best) {
        best = host_row_sums[size_t(r)];
        row = r;
      }
    return row;
  }
};

CudaModel::CudaModel(Sequential& model) : impl_(std::make_unique<Impl>()) {
  if (model.size() == 0) throw InvalidArgument("CudaModel: the model has no layers; add() some first");
  Impl& m = *impl_;
  m.model = &model;
  // Layers are checked before the device, so an unsupported model is reported as such everywhere.
  m.widths.push_back(model.layer(0).in_features());
  for (size_t i = 0; i < model.size(); ++i) {
    Layer& layer = model.layer(i);
    std::unique_ptr<DeviceLayer> device = layer.make_device_layer();
    if (!device)
      throw InvalidArgument("CudaModel: layer " + std::to_string(i) + " " + layer.describe() +
                            " has no CUDA implementation (supported: Linear, NmOde, ReLU, Tanh); run this model "
                            "on the CPU");
    check_int_range("layer width", std::max(layer.in_features(), layer.out_features()));
    m.max_features = std::max({m.max_features, layer.in_features(), layer.out_features()});
    m.widths.push_back(layer.out_features());
    m.layers.push_back(std::move(device));
  }
  m.in = m.widths.front();
  m.classes = m.widths.back();
  std::string reason;
  if (!cuda_available(&reason))
    throw Error("CudaModel: no usable GPU (" + reason + "); run the model on the CPU (--device cpu)");
  m.ctx = std::make_unique<DeviceContext>();
  for (auto& layer : m.layers) layer->allocate(*m.ctx);
  for (size_t i = 0; i + 1 < m.layers.size(); ++i)
    if (m.layers[i + 1]->takes_input_bias())
      if (const float* bias = m.layers[i]->give_bias_to_next()) m.layers[i + 1]->take_input_bias(bias);
  int64_t slots = 0;
  for (auto& layer : m.layers) {
    m.stat_offsets.push_back(slots);
    slots += layer->stat_slots();
  }
  m.step_stats = DeviceBuffer<unsigned long long>(size_t(slots));
  m.host_stats.resize(m.step_stats.size());
  for (size_t i = 0; i < m.layers.size(); ++i)
    if (m.layers[i]->stat_slots() > 0) m.layers[i]->bind_stats(m.step_stats.data() + m.stat_offsets[i]);
  m.bind_parameters();
  upload_parameters();
}

CudaModel::~CudaModel() = default;
CudaModel::CudaModel(CudaModel&& other) noexcept = default;
CudaModel& CudaModel::operator=(CudaModel&& other) noexcept = default;

void CudaModel::upload_parameters() {
  for (auto& layer : impl_->layers) layer->upload_parameters();
}

// x: (n, in) -> logits: (n, classes), host tensors.
void CudaModel::forward(const Tensor& x, Tensor& logits, bool training) {
  Impl& m = *impl_;
  if (&x == &logits) throw InvalidArgument("CudaModel::forward: x and logits must be different tensors");
  const int64_t n = m.check_input(x, "CudaModel::forward");
  resize_matrix(logits, n, m.classes);
  forward(x.data(), n, logits.data(), training);
}

// dlogits: (n, classes) -> parameter gradients into the host model, dx: (n, in).
void CudaModel::backward(const Tensor& dlogits, Tensor* dx) { impl_->backward(dlogits, dx, DeviceGrads::ToHost); }

void CudaModel::backward_input(const Tensor& dlogits, Tensor& dx) { impl_->backward(dlogits, &dx, DeviceGrads::None); }

void CudaModel::forward(const float* x, int64_t n, float* logits, bool training) {
  Impl& m = *impl_;
  if (n < 0) throw InvalidArgument("CudaModel::forward: batch size must be >= 0, got " + std::to_string(n));
  check_int_range("batch size", n);
  m.forward_rows(x, n, training);
  if (n == 0) return;
  m.read_back(logits, m.acts.back().data(), size_t(n * m.classes) * sizeof(float));
  m.check_solves();
}

void CudaModel::backward_input(const float* dlogits, float* dx) {
  Impl& m = *impl_;
  if (m.trained_batch < 0)
    throw InvalidArgument("CudaModel::backward_input needs the latest forward to have training = true");
  const int64_t n = m.trained_batch;
  if (n == 0) return;
  m.grad_a.copy_from_host(dlogits, size_t(n * m.classes));
  const float* d_dx = m.backward_chain(n, true, DeviceGrads::None);
  NMODE_CUDA_CHECK(
      cudaMemcpy(dx, d_dx, size_t(n * m.in) * sizeof(float), cudaMemcpyDeviceToHost));
}

float* CudaModel::device_input(int64_t n) {
  if (n < 0) throw InvalidArgument("CudaModel::device_input: batch size must be >= 0, got " + std::to_string(n));
  check_int_range("batch size", n);
  impl_->reserve(std::max<int64_t>(n, 1));
  return impl_->acts[0].data();
}

const float* CudaModel::forward_on_device(int64_t n, bool training) {
  Impl& m = *impl_;
  if (n < 0 || n > m.capacity)
    throw InvalidArgument("CudaModel::forward_on_device: " + std::to_string(n) + " rows, but device_input holds " +
                          std::to_string(m.capacity));
  m.queue_forward(n, training);
  return m.acts.back().data();
}

float* CudaModel::device_dlogits() {
  if (impl_->capacity == 0) throw InvalidArgument("CudaModel::device_dlogits needs device_input first");
  return impl_->grad_a.data();
}

float* CudaModel::backward_input_on_device() {
  Impl& m = *impl_;
  if (m.trained_batch < 0)
    throw InvalidArgument("CudaModel::backward_input_on_device needs the latest forward to have training = true");
  if (m.trained_batch == 0) return m.grad_b.data();
  return m.backward_chain(m.trained_batch, true, DeviceGrads::None);
}

SolveStats CudaModel::synchronize(const std::vector<HostCopy>& copies) {
  Impl& m = *impl_;
  for (const HostCopy& c : copies)
    if (c.bytes > 0) NMODE_CUDA_CHECK(cudaMemcpyAsync(c.host, c.device, c.bytes, cudaMemcpyDeviceToHost));
  m.read_back(nullptr, nullptr, 0);
  return m.check_solves();
}

bool CudaModel::run_attack_on_device(const float* x, const int32_t* y, int64_t n, const AttackConfig& config,
                                     const int64_t* example_ids, AttackResult& result) {
  if (!attacks_on_device_ || !cuda_attack_supports(config)) return false;
  try {
    result = cuda_attack(*this, x, y, n, config, example_ids);
  } catch (...) {
    impl_->trained_batch = -1;
    throw;
  }
  impl_->trained_batch = -1;  // the attack's forwards replaced the caller's latest one
  return true;
}

const SolveStats& CudaModel::last_stats() const { return impl_->last_stats; }

int64_t CudaModel::input_dim() const { return impl_->in; }
int64_t CudaModel::num_classes() const { return impl_->classes; }

CudaModel::TrainStep CudaModel::train_step(const Tensor& x, const std::vector<int32_t>& labels, Adam& adam) {
  Impl& m = *impl_;
  const int64_t classes = m.classes;
  // Everything is checked before any work, as softmax_cross_entropy does.
  const int64_t n = m.check_input(x, "CudaModel::train_step");
  if (int64_t(labels.size()) != n)
    throw InvalidArgument("CudaModel::train_step: " + std::to_string(labels.size()) + " labels for a batch of " +
                          std::to_string(n));
  for (size_t i = 0; i < labels.size(); ++i)
    if (labels[i] < 0 || labels[i] >= classes)
      throw InvalidArgument("CudaModel::train_step: label " + std::to_string(labels[i]) + " of example " +
                            std::to_string(i) + " is outside [0, " + std::to_string(classes) + ")");
  TrainStep outcome;
  if (n == 0) {
    m.trained_batch = 0;
    return outcome;
  }
  for (Parameter& p : m.params)
    if (!p.on_device()) p.host.grad->fill(0.0f);  // this step's gradient alone, as after zero_grad
  // The uploads come first, while the GPU is idle: a copy from pageable memory
  // waits for the work queued before it.
  const size_t rows = size_t(n);
  if (m.labels.size() < rows) {
    m.labels = DeviceBuffer<int32_t>(rows);
    m.row_correct = DeviceBuffer<int32_t>(rows);
    m.row_loss = DeviceBuffer<double>(rows);
  }
  m.labels.copy_from_host(labels.data(), rows);
  m.forward_rows(x.data(), n, true);
  const double inv_n = 1.0 / static_cast<double>(n);
  cuda_training::softmax_cross_entropy(n, classes, m.acts.back().data(), m.labels.data(), inv_n, m.grad_a.data(),
                                       m.row_loss.data(), m.row_correct.data());
  m.backward_chain(n, false, DeviceGrads::OnDevice);

  const std::vector<detail::AdamConstants>& constants =
      adam.next_step(m.model->parameters(), [&](size_t k) { return m.penalty_row(k); });
  std::vector<cuda_training::AdamSegment>& segments = m.segments;  // kept: steady-state steps allocate nothing
  segments.clear();
  for (size_t k = 0; k < m.params.size(); ++k) {
    Parameter& p = m.params[k];
    if (p.on_device()) {
      if (p.m.size() == 0) m.upload_moments(adam);  // first needed now
      segments.push_back({p.device.value, p.device.grad, p.m.data(), p.v.data(), p.count(), constants[k]});
    } else {
      float* w = p.host.value->data();
      for (int64_t i = 0; i < p.host.value->size(); ++i)
        detail::adam_update_element(constants[k], i, w, p.host.grad->data(), adam.first_moment(k).data(),
                                    adam.second_moment(k).data());
    }
  }
  cuda_training::adam_update(segments);

  // The one read-back of the step: the rows' losses and verdicts, summed in row
  // order as the CPU's loss is, and the solves' statistics.
  m.host_loss.resize(rows);
  m.host_correct.resize(rows);
  NMODE_CUDA_CHECK(cudaMemcpyAsync(m.host_correct.data(), m.row_correct.data(), rows * sizeof(int32_t),
                                   cudaMemcpyDeviceToHost));
  m.read_back(m.host_loss.data(), m.row_loss.data(), rows * sizeof(double));
  outcome.solver =
      m.check_solves(" (the GPU's copy of the parameters took the step: upload_training_state before another)");
  double total = 0.0;
  for (size_t i = 0; i < rows; ++i) {
    total += m.host_loss[i];
    outcome.correct += m.host_correct[i];
  }
  outcome.loss_sum = total * inv_n * static_cast<double>(n);
  return outcome;
}

void CudaModel::upload_training_state(Adam& adam) {
  upload_parameters();
  impl_->upload_moments(adam);
}

void CudaModel::download_training_state(Adam& adam) {
  const bool bound = adam.bound_parameters() == impl_->params.size() && !impl_->params.empty();
  for (size_t k = 0; k < impl_->params.size(); ++k) {
    Parameter& p = impl_->params[k];
    if (!p.on_device()) continue;
    const size_t count = size_t(p.count());
    NMODE_CUDA_CHECK(cudaMemcpy(p.host.value->data(), p.device.value, count * sizeof(float), cudaMemcpyDeviceToHost));
    if (bound && p.m.size() == count) {
      p.m.copy_to_host(adam.first_moment(k).data(), count);
      p.v.copy_to_host(adam.second_moment(k).data(), count);
    }
  }
}

}  // namespace nmode
