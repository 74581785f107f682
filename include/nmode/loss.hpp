// Softmax cross-entropy, the KL divergence between two softmax outputs (TRADES)
// and accuracy counting for classification logits.
#pragma once

#include <cstdint>

#include "nmode/tensor.hpp"

namespace nmode {

// Mean over the batch of -log softmax(logits_i)[labels_i]. logits: (n, k),
// labels: (n) in [0, k). Numerically stable (max-subtracted log-sum-exp, sums in
// double), so logits of 1e4 neither overflow nor underflow to a wrong answer.
// With dlogits non-null it receives (softmax - onehot) / n: (n, k), resized
// (dlogits may be &logits). Labels out of range throw InvalidArgument before
// anything is written. A row with NaN/Inf logits makes the loss NaN. n = 0
// gives 0.
double softmax_cross_entropy(const Tensor& logits, const int32_t* labels, Tensor* dlogits);

// Examples whose largest logit is at the label (ties go to the smallest index);
// rows with any NaN/Inf logit count as wrong. logits: (n, k), labels: (n).
int64_t count_correct(const Tensor& logits, const int32_t* labels);

// TRADES' term: the sum over rows i of KL(p_i || q_i) with p_i = softmax(p_logits_i)
// and q_i = softmax(q_logits_i), in double. p_logits, q_logits: (n, k). Adds
// scale * dKL/dq_logits = scale * (q - p) to *add_dq and
// scale * dKL/dp_logits = scale * p_c (log p_c - log q_c - KL_i) to *add_dp, where
// not null (each (n, k), already sized).
double kl_divergence(const Tensor& p_logits, const Tensor& q_logits, double scale, Tensor* add_dp, Tensor* add_dq);

}  // namespace nmode
