// CudaModel: forward and backward of a Sequential (Linear, NmOde, ReLU, Tanh) on
// the GPU. Linear layers run on cuBLAS; NmOde calls the CUDA solver with forward
// sensitivities, adding the bias of a Linear right before it as it reads its input,
// and its backward is one kernel; the rest are small elementwise kernels, each
// with its launcher.
// The model's device memory is reused across calls and grows only with the batch
// (the solver still allocates its small statistics buffer per call).
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "cuda_check.cuh"
#include "core/numbers.hpp"
#include "nmode/cuda_model.hpp"
#include "nmode/cuda_solver.hpp"
#include "nmode/device.hpp"
#include "nmode/device_buffer.hpp"
#include "nmode/error.hpp"
#include "nmode/gemm.hpp"
#include "nmode/layers.hpp"
#include "nmode/optim.hpp"
#include "train/cuda_training.cuh"

namespace nmode {
namespace {

constexpr int kThreads = 256;      // a power of two: dot_partials_kernel halves it
constexpr int64_t kMaxBlocks = 4096;  // grid-stride loops cover the rest
constexpr int64_t kDotBlocks = 1024;  // partial sums of the lambda gradient

int grid_for(int64_t count, int64_t max_blocks) {
  return static_cast<int>(std::min(ceil_div(count, kThreads), max_blocks));
}

// ---- elementwise kernels, all grid-stride over `count` elements ----

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

// "x < 0 ? 0 : x" rather than fmaxf so that NaN propagates, as on the CPU.
__global__ void relu_forward_kernel(int64_t count, const float* __restrict__ x, float* __restrict__ y) {
  const int64_t stride = int64_t(blockDim.x) * gridDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride)
    y[i] = x[i] < 0.0f ? 0.0f : x[i];
}

// The subgradient at x = 0 is 0, as on the CPU.
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

// NmOde's backward in one pass over dy: dx = dy * s when dx is set, and when q is
// set, partials: (gridDim.x) per-block sums of dy * q in double (dlambda = sum dy * q).
// blockDim.x must be kThreads.
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
  if (!q) return;  // the same for the whole grid: no thread waits at the barrier below
  shared[threadIdx.x] = acc;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (int(threadIdx.x) < half) shared[threadIdx.x] += shared[threadIdx.x + half];
    __syncthreads();
  }
  if (threadIdx.x == 0) partials[blockIdx.x] = shared[0];
}

// ---- launchers: nothing to do for empty inputs, and every launch is checked ----

// Runs the grid-stride kernel(args...) over `work` items.
template <class... Params, class... Args>
void launch(int64_t work, void (*kernel)(Params...), Args... args) {
  if (work == 0) return;
  kernel<<<grid_for(work, kMaxBlocks), kThreads>>>(args...);
  NMODE_CUDA_CHECK(cudaGetLastError());
}

void broadcast_rows(int64_t rows, int64_t cols, const float* b, float* y) {
  launch(rows * cols, broadcast_rows_kernel, rows, cols, b, y);
}
void column_sums(int64_t rows, int64_t cols, const float* dy, float* sums) {
  launch(cols, column_sums_kernel, rows, cols, dy, sums);
}
void relu_forward(int64_t count, const float* x, float* y) { launch(count, relu_forward_kernel, count, x, y); }
void relu_backward(int64_t count, const float* x, const float* dy, float* dx) {
  launch(count, relu_backward_kernel, count, x, dy, dx);
}
void tanh_forward(int64_t count, const float* x, float* y) { launch(count, tanh_forward_kernel, count, x, y); }
void tanh_backward(int64_t count, const float* y, const float* dy, float* dx) {
  launch(count, tanh_backward_kernel, count, y, dy, dx);
}
// NmOde backward (nmode_backward_kernel); returns sum(dy * q), 0 without q. The
// partial sums are added on the host in block order, so the result is the same on
// every run.
double nmode_backward(int64_t count, const float* dy, const float* s, const float* q, float* dx,
                      DeviceBuffer<double>& partials, std::vector<double>& host_partials) {
  if (count == 0 || (!dx && !q)) return 0.0;
  const int blocks = grid_for(count, kDotBlocks);
  if (q && partials.size() < size_t(blocks)) partials = DeviceBuffer<double>(size_t(kDotBlocks));
  nmode_backward_kernel<<<blocks, kThreads>>>(count, dy, s, q, dx, q ? partials.data() : nullptr);
  NMODE_CUDA_CHECK(cudaGetLastError());
  if (!q) return 0.0;
  host_partials.resize(size_t(blocks));
  partials.copy_to_host(host_partials.data(), size_t(blocks));
  double total = 0.0;
  for (double p : host_partials) total += p;
  return total;
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

std::string solver_failure(const std::string& layer, const SolveStats& s, const SolverOptions& o) {
  std::ostringstream m;
  m << layer << " on the GPU: nmODE solver failed on " << s.failed() << " of " << s.elements << " elements ("
    << s.hit_max_steps << " used all max_steps = " << o.max_steps << " attempts, " << s.non_finite
    << " had a NaN/Inf input, " << s.step_too_small << " had a step too small to move t)";
  if (s.non_finite > 0) m << "; check the inputs and weights for NaN/Inf (diverged training?)";
  if (s.hit_max_steps > 0) m << "; raise max_steps or loosen rtol/atol";
  return m.str();
}

void check_int_range(const char* what, int64_t value) {
  // cuBLAS takes int dimensions.
  if (value > INT_MAX)
    throw InvalidArgument(std::string("CudaModel: ") + what + " must be at most " + std::to_string(INT_MAX) +
                          ", got " + std::to_string(value));
}

enum class Kind { Linear, NmOde, ReLU, Tanh };

// Where a backward puts the parameter gradients: nowhere (input gradients only),
// added into the host model's grad tensors, or left in the device's grad buffers
// for the device's Adam (train_step).
enum class Grads { None, ToHost, OnDevice };

// One layer's device state. Buffers sized by the batch live in Impl::reserve.
struct Slot {
  Kind kind = Kind::Linear;
  Layer* layer = nullptr;
  Linear* linear = nullptr;          // Kind::Linear
  NmOde* nmode = nullptr;            // Kind::NmOde
  Tensor* lambda_grad = nullptr;     // Kind::NmOde with a learnable lambda: (1)
  // A Linear right before an NmOde leaves its bias out of its output, and the
  // NmOde's solver adds it as it reads gamma (CudaSolveOptions::bias): one pass over
  // the batch fewer.
  bool bias_in_next = false;         // Kind::Linear
  int64_t bias_from = -1;            // Kind::NmOde: the slot of that Linear, or -1
  int64_t stats_index = -1;          // Kind::NmOde: its statistics in Impl::step_stats
  int64_t in = 0, out = 0;
  DeviceBuffer<float> weight, bias;            // Linear: (out, in), (out)
  DeviceBuffer<float> weight_grad, bias_grad;  // Linear: one backward's gradients, (out, in), (out)
  DeviceBuffer<float> s, q;                    // NmOde: dy/dgamma, dy/dlambda of the last training forward, (n, out)
};

// One trainable parameter, in the host model's order (Sequential::parameters()):
// a Linear's weight or bias lives on the device for train_step, with its Adam
// moments there too; anything else (a learnable lambda) stays on the host.
struct Parameter {
  ParameterRef host;            // the host model's tensors
  float* value = nullptr;       // device copy, or null for a host parameter
  float* grad = nullptr;        // device gradient of the latest train_step
  int64_t rows = 0, cols = 0;   // the shape on the device: (out, in) or (1, out)
  DeviceBuffer<float> m, v;     // Adam's moments, allocated by the first upload of the training state
  bool on_device() const { return value != nullptr; }
  int64_t count() const { return rows * cols; }
};

}  // namespace

struct CudaModel::Impl {
  Sequential* model = nullptr;
  cublasHandle_t handle = nullptr;
  std::vector<Slot> slots;
  int64_t max_features = 0;
  int64_t capacity = 0;        // the batch the device buffers are sized for
  int64_t trained_batch = -1;  // batch of the latest forward when it was a training one; -1: none
  std::vector<DeviceBuffer<float>> acts;  // acts[0]: input (n, in); acts[i + 1]: output of layer i
  DeviceBuffer<float> grad_a, grad_b;     // (n, max_features): gradients, ping-ponged through the layers
  DeviceBuffer<double> partials;          // (kDotBlocks)
  std::vector<double> host_partials;
  std::vector<float> staging;             // host copy of one gradient before it is added
  std::vector<Parameter> params;
  std::vector<cuda_training::AdamSegment> segments;  // train_step's Adam launch
  // train_step's loss: labels and per-row results on the device, read back once.
  DeviceBuffer<int32_t> labels, row_correct;
  DeviceBuffer<double> row_loss, row_sums;
  std::vector<int32_t> host_correct;
  std::vector<double> host_loss, host_row_sums;
  // A forward's solves leave their statistics here (CudaSolveOptions::deferred_stats),
  // cuda_solve_stat_slots() per NmOde layer, read back with the forward's results.
  DeviceBuffer<unsigned long long> step_stats;
  std::vector<unsigned long long> host_stats;

  Impl() = default;
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl() {
    if (!handle) return;
    const cublasStatus_t status = cublasDestroy(handle);
    if (status != CUBLAS_STATUS_SUCCESS)
      std::fprintf(stderr, "nmode: cublasDestroy failed: %s\n", cublasGetStatusString(status));
  }

  // Grows the batch-sized buffers to hold n rows; contents are not kept.
  void reserve(int64_t n) {
    if (n <= capacity) return;
    const size_t rows = static_cast<size_t>(n);
    capacity = 0;  // an allocation below may throw (out of memory): then nothing is usable
    acts.clear();
    acts.emplace_back(rows * size_t(slots.front().in));
    for (Slot& s : slots) {
      acts.emplace_back(rows * size_t(s.out));
      if (s.kind == Kind::NmOde) {
        s.s = DeviceBuffer<float>(rows * size_t(s.out));
        if (s.lambda_grad) s.q = DeviceBuffer<float>(rows * size_t(s.out));
      }
    }
    grad_a = DeviceBuffer<float>(rows * size_t(max_features));
    grad_b = DeviceBuffer<float>(rows * size_t(max_features));
    capacity = n;
  }

  // Adds a device gradient of `count` floats into a host tensor.
  void accumulate(const DeviceBuffer<float>& grad, Tensor& target, size_t count) {
    staging.resize(count);
    grad.copy_to_host(staging.data(), count);
    float* t = target.data();
    for (size_t i = 0; i < count; ++i) t[i] += staging[i];
  }

  // x: (n, in) -> y: (n, out) on the device.
  void forward_layer(Slot& s, int64_t n, const float* x, float* y, bool training) {
    const int64_t count = n * s.out;
    switch (s.kind) {
      case Kind::Linear:
        if (s.bias_in_next) {
          gemm(handle, Trans::No, Trans::Yes, n, s.out, s.in, x, s.in, s.weight.data(), s.in, 0.0f, y, s.out);
        } else {
          // Start from the bias and let the GEMM add x W^T (beta = 1), as the CPU layer does.
          broadcast_rows(n, s.out, s.bias.data(), y);
          gemm(handle, Trans::No, Trans::Yes, n, s.out, s.in, x, s.in, s.weight.data(), s.in, 1.0f, y, s.out);
        }
        break;
      case Kind::NmOde: {
        const SolverOptions o = s.nmode->solver_options();  // the host's current lambda
        SolveOutputs<float> out;
        out.y = y;
        if (training) {
          out.dy_dgamma = s.s.data();
          if (s.lambda_grad) out.dy_dlambda = s.q.data();
        }
        CudaSolveOptions gpu;  // the statistics wait for the caller's read-back (check_solves)
        gpu.deferred_stats = step_stats.data() + s.stats_index * cuda_solve_stat_slots();
        if (s.bias_from >= 0) {
          gpu.bias = slots[size_t(s.bias_from)].bias.data();
          gpu.bias_period = s.out;
        }
        solve_cuda(o, count, x, nullptr, out, gpu);
        break;
      }
      case Kind::ReLU: relu_forward(count, x, y); break;
      case Kind::Tanh: tanh_forward(count, x, y); break;
    }
  }

  // dy: (n, out) -> dx: (n, in) when need_dx; x, y: the layer's input and output
  // of the training forward. A learnable lambda's gradient is added on the host
  // whenever parameter gradients are asked for.
  void backward_layer(Slot& s, int64_t n, const float* x, const float* y, const float* dy, float* dx,
                      bool need_dx, Grads grads) {
    const bool need_params = grads != Grads::None;
    const int64_t count = n * s.out;
    switch (s.kind) {
      case Kind::Linear:
        // dW = dy^T x and db = column sums of dy, fresh (beta = 0), then added on the host.
        if (need_params) {
          gemm(handle, Trans::Yes, Trans::No, s.out, s.in, n, dy, s.out, x, s.in, 0.0f, s.weight_grad.data(), s.in);
          column_sums(n, s.out, dy, s.bias_grad.data());
        }
        if (grads == Grads::ToHost) {
          accumulate(s.weight_grad, s.linear->weight_grad(), size_t(s.out * s.in));
          accumulate(s.bias_grad, s.linear->bias_grad(), size_t(s.out));
        }
        if (need_dx) gemm(handle, Trans::No, Trans::No, n, s.in, s.out, dy, s.out, s.weight.data(), s.in, 0.0f, dx, s.in);
        break;
      case Kind::NmOde: {
        const float* q = need_params && s.lambda_grad ? s.q.data() : nullptr;
        const double total = nmode_backward(count, dy, s.s.data(), q, need_dx ? dx : nullptr, partials, host_partials);
        if (q) (*s.lambda_grad)[0] = static_cast<float>(static_cast<double>((*s.lambda_grad)[0]) + total);
        break;
      }
      case Kind::ReLU:
        if (need_dx) relu_backward(count, x, dy, dx);
        break;
      case Kind::Tanh:
        if (need_dx) tanh_backward(count, y, dy, dx);
        break;
    }
  }
  void backward(const Tensor& dlogits, Tensor* dx, Grads grads) {
    if (trained_batch < 0)
      throw InvalidArgument("CudaModel::backward needs the latest forward to have training = true");
    const int64_t n = trained_batch, in = slots.front().in, classes = slots.back().out;
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
  float* backward_chain(int64_t n, bool need_dx, Grads grads) {
    float* dy = grad_a.data();
    float* other = grad_b.data();
    for (size_t k = 0; k < slots.size(); ++k) {
      const size_t i = slots.size() - 1 - k;
      backward_layer(slots[i], n, acts[i].data(), acts[i + 1].data(), dy, other, i > 0 || need_dx, grads);
      std::swap(dy, other);  // the layer's dx is the next layer's dy
    }
    return dy;
  }

  // The batch size of x, which must be (n, in).
  int64_t check_input(const Tensor& x, const char* caller) const {
    const int64_t in = slots.front().in;
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
      acts[0].copy_from_host(x, size_t(n * slots.front().in));  // first: the GPU is idle, the copy waits for nothing
    }
    queue_forward(n, training);
  }

  // The layers on the first n rows of acts[0], with fresh statistics.
  void queue_forward(int64_t n, bool training) {
    trained_batch = -1;
    if (n > 0) {
      if (stat_bytes() > 0) NMODE_CUDA_CHECK(cudaMemsetAsync(step_stats.data(), 0, stat_bytes()));
      for (size_t i = 0; i < slots.size(); ++i) forward_layer(slots[i], n, acts[i].data(), acts[i + 1].data(), training);
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
  // the NmOde layers. Throws Error, as the CPU layer does, when one failed on any
  // element; `after` is added to the message.
  SolveStats check_solves(const char* after = "") {
    SolveStats total;
    for (const Slot& s : slots) {
      if (s.kind != Kind::NmOde) continue;
      const SolveStats stats = cuda_solve_stats(host_stats.data() + s.stats_index * cuda_solve_stat_slots());
      if (stats.failed() > 0) {
        trained_batch = -1;  // nothing to go backward from
        throw Error(solver_failure(s.nmode->describe(), stats, s.nmode->solver_options()) + after);
      }
      total.merge(stats);
    }
    return total;
  }

  // The parameters in the host model's order, each matched to its device copy.
  void bind_parameters() {
    for (const ParameterRef& ref : model->parameters()) {
      Parameter p;
      p.host = ref;
      for (Slot& s : slots) {
        if (s.kind != Kind::Linear) continue;
        if (ref.value == &s.linear->weight()) {
          p.value = s.weight.data();
          p.grad = s.weight_grad.data();
          p.rows = s.out;
          p.cols = s.in;
        } else if (ref.value == &s.linear->bias()) {
          p.value = s.bias.data();
          p.grad = s.bias_grad.data();
          p.rows = 1;
          p.cols = s.out;
        }
      }
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
    if (row_sums.size() < size_t(p.rows)) row_sums = DeviceBuffer<double>(size_t(p.rows));
    cuda_training::row_l1_sums(p.rows, p.cols, p.value, row_sums.data());
    host_row_sums.resize(size_t(p.rows));
    row_sums.copy_to_host(host_row_sums.data(), size_t(p.rows));
    double best = -1.0;
    int64_t row = -1;
    for (int64_t r = 0; r < p.rows; ++r)
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
  for (size_t i = 0; i < model.size(); ++i) {
    Layer& layer = model.layer(i);
    Slot s;
    s.layer = &layer;
    s.in = layer.in_features();
    s.out = layer.out_features();
    if (auto* linear = dynamic_cast<Linear*>(&layer)) {
      s.kind = Kind::Linear;
      s.linear = linear;
    } else if (auto* nm = dynamic_cast<NmOde*>(&layer)) {
      s.kind = Kind::NmOde;
      s.nmode = nm;
      for (const ParameterRef& p : nm->parameters())
        if (p.name == "lambda") s.lambda_grad = p.grad;
    } else if (dynamic_cast<ReLU*>(&layer)) {
      s.kind = Kind::ReLU;
    } else if (dynamic_cast<Tanh*>(&layer)) {
      s.kind = Kind::Tanh;
    } else {
      throw InvalidArgument("CudaModel: layer " + std::to_string(i) + " " + layer.describe() +
                            " has no CUDA implementation (supported: Linear, NmOde, ReLU, Tanh); run this model "
                            "on the CPU");
    }
    check_int_range("layer width", std::max(s.in, s.out));
    m.max_features = std::max({m.max_features, s.in, s.out});
    m.slots.push_back(std::move(s));
  }
  int64_t solves = 0;
  for (Slot& s : m.slots)
    if (s.kind == Kind::NmOde) s.stats_index = solves++;
  for (size_t i = 0; i + 1 < m.slots.size(); ++i) {
    if (m.slots[i].kind != Kind::Linear || m.slots[i + 1].kind != Kind::NmOde) continue;
    m.slots[i].bias_in_next = true;
    m.slots[i + 1].bias_from = static_cast<int64_t>(i);
  }
  std::string reason;
  if (!cuda_available(&reason))
    throw Error("CudaModel: no usable GPU (" + reason + "); run the model on the CPU (--device cpu)");
  NMODE_CUBLAS_CHECK(cublasCreate(&m.handle));
  // Plain fp32 GEMMs (no TF32 tensor-op rounding): results stay comparable with the CPU path.
  NMODE_CUBLAS_CHECK(cublasSetMathMode(m.handle, CUBLAS_DEFAULT_MATH));
  for (Slot& s : m.slots) {
    if (s.kind != Kind::Linear) continue;
    const size_t w = size_t(s.out * s.in), b = size_t(s.out);
    s.weight = DeviceBuffer<float>(w);
    s.bias = DeviceBuffer<float>(b);
    s.weight_grad = DeviceBuffer<float>(w);
    s.bias_grad = DeviceBuffer<float>(b);
  }
  m.bind_parameters();
  m.step_stats = DeviceBuffer<unsigned long long>(size_t(solves * cuda_solve_stat_slots()));
  m.host_stats.resize(m.step_stats.size());
  upload_parameters();
}

CudaModel::~CudaModel() = default;
CudaModel::CudaModel(CudaModel&& other) noexcept = default;
CudaModel& CudaModel::operator=(CudaModel&& other) noexcept = default;

void CudaModel::upload_parameters() {
  for (Slot& s : impl_->slots) {
    if (s.kind != Kind::Linear) continue;
    s.weight.copy_from_host(s.linear->weight().data(), size_t(s.out * s.in));
    s.bias.copy_from_host(s.linear->bias().data(), size_t(s.out));
  }
}

// x: (n, in) -> logits: (n, classes), host tensors.
void CudaModel::forward(const Tensor& x, Tensor& logits, bool training) {
  Impl& m = *impl_;
  if (&x == &logits) throw InvalidArgument("CudaModel::forward: x and logits must be different tensors");
  const int64_t n = m.check_input(x, "CudaModel::forward");
  resize_matrix(logits, n, m.slots.back().out);
  forward(x.data(), n, logits.data(), training);
}

// dlogits: (n, classes) -> parameter gradients into the host model, dx: (n, in).
void CudaModel::backward(const Tensor& dlogits, Tensor* dx) { impl_->backward(dlogits, dx, Grads::ToHost); }

void CudaModel::backward_input(const Tensor& dlogits, Tensor& dx) { impl_->backward(dlogits, &dx, Grads::None); }

void CudaModel::forward(const float* x, int64_t n, float* logits, bool training) {
  Impl& m = *impl_;
  if (n < 0) throw InvalidArgument("CudaModel::forward: batch size must be >= 0, got " + std::to_string(n));
  check_int_range("batch size", n);
  m.forward_rows(x, n, training);
  if (n == 0) return;
  m.read_back(logits, m.acts.back().data(), size_t(n * m.slots.back().out) * sizeof(float));
  m.check_solves();
}

void CudaModel::backward_input(const float* dlogits, float* dx) {
  Impl& m = *impl_;
  if (m.trained_batch < 0)
    throw InvalidArgument("CudaModel::backward_input needs the latest forward to have training = true");
  const int64_t n = m.trained_batch;
  if (n == 0) return;
  m.grad_a.copy_from_host(dlogits, size_t(n * m.slots.back().out));
  const float* d_dx = m.backward_chain(n, true, Grads::None);
  NMODE_CUDA_CHECK(
      cudaMemcpy(dx, d_dx, size_t(n * m.slots.front().in) * sizeof(float), cudaMemcpyDeviceToHost));
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
  return m.backward_chain(m.trained_batch, true, Grads::None);
}

SolveStats CudaModel::synchronize(const std::vector<HostCopy>& copies) {
  Impl& m = *impl_;
  for (const HostCopy& c : copies)
    if (c.bytes > 0) NMODE_CUDA_CHECK(cudaMemcpyAsync(c.host, c.device, c.bytes, cudaMemcpyDeviceToHost));
  m.read_back(nullptr, nullptr, 0);
  return m.check_solves();
}

int64_t CudaModel::input_dim() const { return impl_->slots.front().in; }
int64_t CudaModel::num_classes() const { return impl_->slots.back().out; }

CudaModel::TrainStep CudaModel::train_step(const Tensor& x, const std::vector<int32_t>& labels, Adam& adam) {
  Impl& m = *impl_;
  const int64_t classes = m.slots.back().out;
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
  m.backward_chain(n, false, Grads::OnDevice);

  const std::vector<detail::AdamConstants>& constants =
      adam.next_step(m.model->parameters(), [&](size_t k) { return m.penalty_row(k); });
  std::vector<cuda_training::AdamSegment>& segments = m.segments;  // kept: steady-state steps allocate nothing
  segments.clear();
  for (size_t k = 0; k < m.params.size(); ++k) {
    Parameter& p = m.params[k];
    if (p.on_device()) {
      if (p.m.size() == 0) m.upload_moments(adam);  // first needed now
      segments.push_back({p.value, p.grad, p.m.data(), p.v.data(), p.count(), constants[k]});
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
    NMODE_CUDA_CHECK(cudaMemcpy(p.host.value->data(), p.value, count * sizeof(float), cudaMemcpyDeviceToHost));
    if (bound && p.m.size() == count) {
      p.m.copy_to_host(adam.first_moment(k).data(), count);
      p.v.copy_to_host(adam.second_moment(k).data(), count);
    }
  }
}

}  // namespace nmode
