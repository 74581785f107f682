// The GPU half of a training step beyond the layers: softmax cross-entropy with
// its gradient, Adam over all device parameters in one launch, and the row L1
// norms the nmODE+ penalty needs. Each kernel's per-element or per-row math is the
// CPU's own (nmode/detail/softmax_ce.hpp, adam_update.hpp). All launches go to the
// default stream, after the layers' kernels.
#pragma once

#include <cstdint>
#include <vector>

#include "nmode/detail/adam_update.hpp"

namespace nmode::cuda_training {

// One parameter's Adam update on the device.
struct AdamSegment {
  float* w;
  const float* g;
  float* m;
  float* v;
  int64_t count;
  detail::AdamConstants c;
};

// Applies every segment's update; one launch per kMaxSegments segments (one for
// the reference model's four Linear parameters). Bitwise the CPU's update.
void adam_update(const std::vector<AdamSegment>& segments);

// logits: (n, k), labels: (n), all device. dlogits: (n, k) receives
// scale * (softmax - onehot); row_loss: (n) each row's loss, row_correct: (n)
// 1 where the row's argmax is its label (detail::softmax_ce_row, row_is_correct).
void softmax_cross_entropy(int64_t n, int64_t k, const float* logits, const int32_t* labels, double scale,
                           float* dlogits, double* row_loss, int32_t* row_correct);

// w: (rows, cols) -> sums: (rows), each row's sum of |w_ij| in double, in column
// order (detail::row_l1_sum, as the CPU's row_l1_max: the same sums bit for bit).
void row_l1_sums(int64_t rows, int64_t cols, const float* w, double* sums);

}  // namespace nmode::cuda_training
