// DeviceLayer: one layer's half on the GPU. A Layer makes its own
// (Layer::make_device_layer), so a new layer type reaches the GPU by adding its
// device form next to its kernels, with no change to CudaModel, which only runs
// the chain: it owns the activations between layers, the gradients ping-ponged
// through them and the one read-back per batch. Every pointer here is device
// memory and every launch goes to the default stream. Plain C++: the CUDA types
// stay behind DeviceContext (kernels/nn/device_context.cuh).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nmode/ode.hpp"

namespace nmode {

class Tensor;          // nmode/tensor.hpp
struct DeviceContext;  // kernels/nn/device_context.cuh: the cuBLAS handle and the host staging

// Where a backward puts the parameter gradients: nowhere (input gradients only),
// added into the host layer's grad tensors, or left in the device's grad buffers
// for the device's Adam (CudaModel::train_step).
enum class DeviceGrads { None, ToHost, OnDevice };

// The device copy of one host parameter, which train_step's Adam updates in place.
struct DeviceParameter {
  const Tensor* host = nullptr;  // the host layer's value tensor (its ParameterRef::value)
  float* value = nullptr;
  float* grad = nullptr;         // the latest backward's gradient with DeviceGrads::OnDevice
  int64_t rows = 0, cols = 0;    // the matrix the nmODE+ penalty's row L1 norms see
};

class DeviceLayer {
 public:
  DeviceLayer() = default;
  DeviceLayer(const DeviceLayer&) = delete;
  DeviceLayer& operator=(const DeviceLayer&) = delete;
  virtual ~DeviceLayer() = default;  // never throws

  // Once, after a usable GPU was found: the device copies of the parameters
  // (uploaded by CudaModel right after).
  virtual void allocate(DeviceContext&) {}
  // The host layer's parameters to their device copies, again after the host changed them.
  virtual void upload_parameters() {}
  virtual std::vector<DeviceParameter> parameters() { return {}; }

  // Grows what the layer keeps per row to n rows; the contents are not kept.
  virtual void reserve(int64_t /*n*/) {}

  // Fusing a bias into the next layer (after allocate): the next layer asks
  // whether it can add a bias as it reads its input, and the previous one then
  // hands its bias over and leaves it out of its own output. give_bias_to_next
  // returns null (and changes nothing) when the layer has no bias to give.
  virtual bool takes_input_bias() const { return false; }
  virtual void take_input_bias(const float* /*bias*/) {}
  virtual const float* give_bias_to_next() { return nullptr; }

  // Solver statistics: the layer's forward adds them into `stat_slots()` device
  // counters (zeroed by CudaModel before each forward), which CudaModel copies back
  // with the batch's results; check_stats turns the host copy into SolveStats, or
  // throws Error naming the layer (with `after` appended) when a solve failed.
  virtual int64_t stat_slots() const { return 0; }
  virtual void bind_stats(unsigned long long* /*device_slots*/) {}
  virtual SolveStats check_stats(const unsigned long long* /*host_slots*/, const std::string& /*after*/) const {
    return {};
  }

  // x: (n, in) -> y: (n, out), n > 0. `training` keeps what backward needs.
  virtual void forward(DeviceContext& ctx, int64_t n, const float* x, float* y, bool training) = 0;
  // Backward for the latest training forward of n > 0 rows, whose input and output
  // were x and y: dy: (n, out) -> dx: (n, in) when need_dx, and the parameter
  // gradients as `grads` says.
  virtual void backward(DeviceContext& ctx, int64_t n, const float* x, const float* y, const float* dy, float* dx,
                        bool need_dx, DeviceGrads grads) = 0;
};

}  // namespace nmode
