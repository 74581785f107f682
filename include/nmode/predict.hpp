// Inference on many inputs: a model's logits, class probabilities and predicted
// classes, batch by batch through the same forward as evaluate().
#pragma once

#include <cstdint>
#include <vector>

#include "nmode/model.hpp"
#include "nmode/tensor.hpp"

namespace nmode {

struct Predictions {
  Tensor logits;                 // (n, classes)
  Tensor probabilities;          // (n, classes): softmax of each row of logits
  std::vector<int32_t> classes;  // (n): argmax of each row, ties to the smaller class
};

// inputs: (n, model.input_dim()). Throws InvalidArgument for another width or
// batch < 1; a row of non-finite logits (the solver failed) gets NaN
// probabilities and class -1, so it never counts as a confident answer.
Predictions predict(Classifier& model, const Tensor& inputs, int64_t batch = 256);

// Row-wise softmax of (n, k) logits, computed in double (max subtracted first,
// so no overflow), into `out` (resized).
void softmax_rows(const Tensor& logits, Tensor& out);

}  // namespace nmode
