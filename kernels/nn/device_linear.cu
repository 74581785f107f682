// Linear on the GPU: y = x W^T + b on cuBLAS, its backward as two GEMMs and the
// bias's column sums. The bias may go to an NmOde right after, whose solver adds
// it as it reads gamma: one pass over the batch fewer.
#include <cublas_v2.h>

#include <string>

#include "core/grid_stride.cuh"
#include "cuda_check.cuh"
#include "nmode/device_buffer.hpp"
#include "nmode/gemm.hpp"
#include "nmode/layers.hpp"
#include "nn/device_context.cuh"

namespace nmode {
namespace {

// y: (rows, cols) gets b: (cols) in every row.
__global__ void broadcast_rows_kernel(int64_t rows, int64_t cols, const float* __restrict__ b,
                                      float* __restrict__ y) {
  const int64_t count = rows * cols, stride = int64_t(blockDim.x) * gridDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) y[i] = b[i % cols];
}

// dy: (rows, cols) -> sums: (cols). One thread per column, summed in row order in
// double like the CPU layer, so the result does not depend on the launch shape.
__global__ void column_sums_kernel(int64_t rows, int64_t cols, const float* __restrict__ dy,
                                   float* __restrict__ sums) {
  const int64_t stride = int64_t(blockDim.x) * gridDim.x;
  for (int64_t j = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; j < cols; j += stride) {
    double acc = 0.0;
    for (int64_t r = 0; r < rows; ++r) acc += static_cast<double>(dy[r * cols + j]);
    sums[j] = static_cast<float>(acc);
  }
}

// Row-major C (m, n) = op(A) (m, k) * op(B) (k, n) + beta * C with the same
// arguments as the CPU sgemm. cuBLAS is column-major, where a row-major matrix
// reads as its transpose, so we ask it for C^T = op(B)^T op(A)^T: the operands
// swap places and m, n swap roles; the row strides become leading dimensions.
void gemm(cublasHandle_t handle, Trans trans_a, Trans trans_b, int64_t m, int64_t n, int64_t k, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  const float alpha = 1.0f;
  NMODE_CUBLAS_CHECK(cublasSgemm(handle, trans_b == Trans::Yes ? CUBLAS_OP_T : CUBLAS_OP_N,
                                 trans_a == Trans::Yes ? CUBLAS_OP_T : CUBLAS_OP_N, int(n), int(m), int(k), &alpha,
                                 b, int(ldb), a, int(lda), &beta, c, int(ldc)));
}

class LinearOnDevice final : public DeviceLayer {
 public:
  explicit LinearOnDevice(Linear& host) : host_(host), in_(host.in_features()), out_(host.out_features()) {}

  void allocate(DeviceContext&) override {
    weight_ = DeviceBuffer<float>(size_t(out_ * in_));
    bias_ = DeviceBuffer<float>(size_t(out_));
    weight_grad_ = DeviceBuffer<float>(size_t(out_ * in_));
    bias_grad_ = DeviceBuffer<float>(size_t(out_));
  }

  void upload_parameters() override {
    weight_.copy_from_host(host_.weight().data(), size_t(out_ * in_));
    bias_.copy_from_host(host_.bias().data(), size_t(out_));
  }

  std::vector<DeviceParameter> parameters() override {
    return {{&host_.weight(), weight_.data(), weight_grad_.data(), out_, in_},
            {&host_.bias(), bias_.data(), bias_grad_.data(), 1, out_}};
  }

  const float* give_bias_to_next() override {
    bias_in_next_ = true;
    return bias_.data();
  }

  void forward(DeviceContext& ctx, int64_t n, const float* x, float* y, bool) override {
    if (!bias_in_next_) grid_stride::launch(n * out_, broadcast_rows_kernel, n, out_, bias_.data(), y);
    // With the bias in y, the GEMM adds x W^T to it (beta = 1), as the CPU layer does.
    gemm(ctx.handle, Trans::No, Trans::Yes, n, out_, in_, x, in_, weight_.data(), in_, bias_in_next_ ? 0.0f : 1.0f,
         y, out_);
  }

  void backward(DeviceContext& ctx, int64_t n, const float* x, const float*, const float* dy, float* dx, bool need_dx,
                DeviceGrads grads) override {
    // dW = dy^T x and db = column sums of dy, fresh (beta = 0); added on the host for ToHost.
    if (grads != DeviceGrads::None) {
      gemm(ctx.handle, Trans::Yes, Trans::No, out_, in_, n, dy, out_, x, in_, 0.0f, weight_grad_.data(), in_);
      grid_stride::launch(out_, column_sums_kernel, n, out_, dy, bias_grad_.data());
    }
    if (grads == DeviceGrads::ToHost) {
      ctx.add_to_host(weight_grad_.data(), host_.weight_grad(), size_t(out_ * in_));
      ctx.add_to_host(bias_grad_.data(), host_.bias_grad(), size_t(out_));
    }
    if (need_dx) gemm(ctx.handle, Trans::No, Trans::No, n, in_, out_, dy, out_, weight_.data(), in_, 0.0f, dx, in_);
  }

 private:
  Linear& host_;
  int64_t in_, out_;
  bool bias_in_next_ = false;
  DeviceBuffer<float> weight_, bias_;            // (out, in), (out)
  DeviceBuffer<float> weight_grad_, bias_grad_;  // one backward's gradients
};

}  // namespace

std::unique_ptr<DeviceLayer> Linear::make_device_layer() { return std::make_unique<LinearOnDevice>(*this); }

}  // namespace nmode
