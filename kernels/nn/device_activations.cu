// ReLU and Tanh on the GPU: one grid-stride kernel each way, with the CPU
// layers' conventions (NaN propagates through ReLU; its subgradient at 0 is 0).
#include "core/grid_stride.cuh"
#include "nmode/layers.hpp"

namespace nmode {
namespace {

// "x < 0 ? 0 : x" rather than fmaxf so that NaN propagates, as on the CPU.
__global__ void relu_forward_kernel(int64_t count, const float* __restrict__ x, float* __restrict__ y) {
  const int64_t stride = int64_t(blockDim.x) * gridDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride)
    y[i] = x[i] < 0.0f ? 0.0f : x[i];
}

__global__ void relu_backward_kernel(int64_t count, const float* __restrict__ x, const float* __restrict__ dy,
                                     float* __restrict__ dx) {
  const int64_t stride = int64_t(blockDim.x) * gridDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride)
    dx[i] = x[i] > 0.0f ? dy[i] : 0.0f;
}

__global__ void tanh_forward_kernel(int64_t count, const float* __restrict__ x, float* __restrict__ y) {
  const int64_t stride = int64_t(blockDim.x) * gridDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) y[i] = tanhf(x[i]);
}

// tanh' = 1 - tanh^2 from the kept output y.
__global__ void tanh_backward_kernel(int64_t count, const float* __restrict__ y, const float* __restrict__ dy,
                                     float* __restrict__ dx) {
  const int64_t stride = int64_t(blockDim.x) * gridDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride)
    dx[i] = dy[i] * (1.0f - y[i] * y[i]);
}

// An activation's forward from its input, and backward from the input (ReLU) or
// the output (Tanh) of the training forward, which CudaModel keeps anyway.
using ForwardKernel = void (*)(int64_t, const float*, float*);
using BackwardKernel = void (*)(int64_t, const float*, const float*, float*);

class ActivationOnDevice final : public DeviceLayer {
 public:
  ActivationOnDevice(int64_t features, ForwardKernel forward, BackwardKernel backward, bool backward_from_output)
      : features_(features), forward_(forward), backward_(backward), from_output_(backward_from_output) {}

  void forward(DeviceContext&, int64_t n, const float* x, float* y, bool) override {
    grid_stride::launch(n * features_, forward_, n * features_, x, y);
  }
  void backward(DeviceContext&, int64_t n, const float* x, const float* y, const float* dy, float* dx, bool need_dx,
                DeviceGrads) override {
    if (need_dx) grid_stride::launch(n * features_, backward_, n * features_, from_output_ ? y : x, dy, dx);
  }

 private:
  int64_t features_;
  ForwardKernel forward_;
  BackwardKernel backward_;
  bool from_output_;
};

}  // namespace

std::unique_ptr<DeviceLayer> ReLU::make_device_layer() {
  return std::make_unique<ActivationOnDevice>(features_, relu_forward_kernel, relu_backward_kernel, false);
}
std::unique_ptr<DeviceLayer> Tanh::make_device_layer() {
  return std::make_unique<ActivationOnDevice>(features_, tanh_forward_kernel, tanh_backward_kernel, true);
}

}  // namespace nmode
