// NmOde on the GPU: the CUDA solver with forward sensitivities, adding the bias of
// a Linear right before it as it reads gamma, and a backward that is one kernel:
// dx = dy * s and, for a learnable lambda, per-block sums of dy * q.
#include <cuda_runtime.h>

#include <vector>

#include "core/block_reduce.cuh"
#include "core/grid_stride.cuh"
#include "cuda_check.cuh"
#include "nmode/cuda_solver.hpp"
#include "nmode/device_buffer.hpp"
#include "nmode/error.hpp"
#include "nmode/layers.hpp"
#include "nn/device_context.cuh"
#include "nn/nmode_failure.hpp"

namespace nmode {
namespace {

using grid_stride::kThreads;
constexpr int64_t kDotBlocks = 1024;  // partial sums of the lambda gradient

// dx = dy * s when dx is set, and when q is set, partials: (gridDim.x) per-block
// sums of dy * q in double (dlambda = sum dy * q). blockDim.x must be kThreads.
__global__ void nmode_backward_kernel(int64_t count, const float* __restrict__ dy, const float* __restrict__ s,
                                      const float* __restrict__ q, float* __restrict__ dx,
                                      double* __restrict__ partials) {
  __shared__ double shared[kThreads];
  const int64_t stride = int64_t(blockDim.x) * gridDim.x;
  double acc = 0.0;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
    if (dx) dx[i] = dy[i] * s[i];
    if (q) acc += static_cast<double>(dy[i]) * static_cast<double>(q[i]);
  }
  if (!q) return;  // the same for the whole grid: no thread waits at the block sum's barriers
  const double total = block_reduce::sum(acc, shared);
  if (threadIdx.x == 0) partials[blockIdx.x] = total;
}

class NmOdeOnDevice final : public DeviceLayer {
 public:
  explicit NmOdeOnDevice(NmOde& host) : host_(host), features_(host.out_features()) {
    for (const ParameterRef& p : host.parameters())
      if (p.name == "lambda") lambda_grad_ = p.grad;
  }

  void reserve(int64_t n) override {
    s_ = DeviceBuffer<float>(size_t(n * features_));
    if (lambda_grad_) q_ = DeviceBuffer<float>(size_t(n * features_));
  }

  bool takes_input_bias() const override { return true; }
  void take_input_bias(const float* bias) override { bias_ = bias; }

  int64_t stat_slots() const override { return cuda_solve_stat_slots(); }
  void bind_stats(unsigned long long* device_slots) override { stats_ = device_slots; }
  SolveStats check_stats(const unsigned long long* host_slots, const std::string& after) const override {
    const SolveStats stats = cuda_solve_stats(host_slots);
    if (stats.failed() > 0)
      throw Error(nmode_failure_message(host_.describe() + " on the GPU", stats, host_.solver_options()) + after);
    return stats;
  }

  void forward(DeviceContext&, int64_t n, const float* x, float* y, bool training) override {
    SolveOutputs<float> out;
    out.y = y;
    if (training) {
      out.dy_dgamma = s_.data();
      if (lambda_grad_) out.dy_dlambda = q_.data();
    }
    CudaSolveOptions gpu;  // the statistics wait for CudaModel's read-back
    gpu.deferred_stats = stats_;
    gpu.bias = bias_;
    gpu.bias_period = features_;
    solve_cuda(host_.solver_options(), n * features_, x, nullptr, out, gpu);  // the host's current lambda
  }

  // A learnable lambda's gradient is added on the host whenever parameter
  // gradients are asked for: one scalar, summed there in block order, so the
  // result is the same on every run.
  void backward(DeviceContext&, int64_t n, const float*, const float*, const float* dy, float* dx, bool need_dx,
                DeviceGrads grads) override {
    const int64_t count = n * features_;
    const float* q = grads != DeviceGrads::None && lambda_grad_ ? q_.data() : nullptr;
    if (!need_dx) dx = nullptr;
    if (!dx && !q) return;
    const int blocks = grid_stride::blocks_for(count, kDotBlocks);
    if (q && partials_.size() < size_t(blocks)) partials_ = DeviceBuffer<double>(size_t(kDotBlocks));
    nmode_backward_kernel<<<blocks, kThreads>>>(count, dy, s_.data(), q, dx, q ? partials_.data() : nullptr);
    NMODE_CUDA_CHECK(cudaGetLastError());
    if (!q) return;
    host_partials_.resize(size_t(blocks));
    partials_.copy_to_host(host_partials_.data(), size_t(blocks));
    double total = 0.0;
    for (double p : host_partials_) total += p;
    (*lambda_grad_)[0] = static_cast<float>(static_cast<double>((*lambda_grad_)[0]) + total);
  }

 private:
  NmOde& host_;
  int64_t features_;
  Tensor* lambda_grad_ = nullptr;            // (1) with a learnable lambda
  const float* bias_ = nullptr;              // the previous Linear's, added to gamma; or null
  unsigned long long* stats_ = nullptr;      // stat_slots() device counters
  DeviceBuffer<float> s_, q_;                // dy/dgamma, dy/dlambda of the last training forward, (n, features)
  DeviceBuffer<double> partials_;            // (kDotBlocks)
  std::vector<double> host_partials_;
};

}  // namespace

std::unique_ptr<DeviceLayer> NmOde::make_device_layer() { return std::make_unique<NmOdeOnDevice>(*this); }

}  // namespace nmode
