// See cuda_training.cuh. This file is compiled with -fmad=false (CMakeLists.txt):
// Adam's update is specified in unfused IEEE double operations, and the CPU runs
// them unfused.
#include <cuda_runtime.h>

#include <algorithm>

#include "cuda_check.cuh"
#include "core/numbers.hpp"
#include "nmode/detail/softmax_ce.hpp"
#include "train/cuda_training.cuh"

namespace nmode::cuda_training {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = 4096;  // grid-stride loops cover the rest
constexpr int kMaxSegments = 8;       // per launch: the kernel's parameters stay ~1 KiB

int blocks_for(int64_t count) { return static_cast<int>(std::min(ceil_div(count, kThreads), kMaxBlocks)); }

struct AdamBatch {
  AdamSegment segment[kMaxSegments];
  int64_t first[kMaxSegments + 1];  // element offsets: segment s holds [first[s], first[s + 1])
  int count;
};

__global__ void adam_kernel(AdamBatch batch) {
  const int64_t total = batch.first[batch.count], stride = int64_t(blockDim.x) * gridDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    int s = 0;
    while (i >= batch.first[s + 1]) ++s;
    const AdamSegment& p = batch.segment[s];
    detail::adam_update_element(p.c, i - batch.first[s], p.w, p.g, p.m, p.v);
  }
}

// One thread per row: the rows are few (a batch) and short (the classes).
__global__ void softmax_ce_kernel(int64_t n, int64_t k, const float* __restrict__ logits,
                                  const int32_t* __restrict__ labels, double scale, float* __restrict__ dlogits,
                                  double* __restrict__ row_loss, int32_t* __restrict__ row_correct) {
  const int64_t stride = int64_t(blockDim.x) * gridDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const float* z = logits + i * k;
    row_correct[i] = detail::row_is_correct(z, k, labels[i]) ? 1 : 0;
    row_loss[i] = detail::softmax_ce_row(z, k, labels[i], scale, dlogits + i * k);
  }
}

__global__ void row_l1_kernel(int64_t rows, int64_t cols, const float* __restrict__ w, double* __restrict__ sums) {
  const int64_t stride = int64_t(blockDim.x) * gridDim.x;
  for (int64_t r = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; r < rows; r += stride) {
    sums[r] = detail::row_l1_sum(w + r * cols, cols);
  }
}

}  // namespace

void adam_update(const std::vector<AdamSegment>& segments) {
  for (size_t begin = 0; begin < segments.size(); begin += kMaxSegments) {
    AdamBatch batch{};
    batch.count = static_cast<int>(std::min(segments.size() - begin, size_t(kMaxSegments)));
    for (int s = 0; s < batch.count; ++s) {
      batch.segment[s] = segments[begin + size_t(s)];
      batch.first[s + 1] = batch.first[s] + batch.segment[s].count;
    }
    const int64_t total = batch.first[batch.count];
    if (total == 0) continue;
    adam_kernel<<<blocks_for(total), kThreads>>>(batch);
    NMODE_CUDA_CHECK(cudaGetLastError());
  }
}

void softmax_cross_entropy(int64_t n, int64_t k, const float* logits, const int32_t* labels, double scale,
                           float* dlogits, double* row_loss, int32_t* row_correct) {
  if (n == 0) return;
  softmax_ce_kernel<<<blocks_for(n), kThreads>>>(n, k, logits, labels, scale, dlogits, row_loss, row_correct);
  NMODE_CUDA_CHECK(cudaGetLastError());
}

void row_l1_sums(int64_t rows, int64_t cols, const float* w, double* sums) {
  if (rows == 0) return;
  row_l1_kernel<<<blocks_for(rows), kThreads>>>(rows, cols, w, sums);
  NMODE_CUDA_CHECK(cudaGetLastError());
}

}  // namespace nmode::cuda_training
