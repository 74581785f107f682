// Classifier: what attacks and evaluations need from a model, and nothing more.
// A Sequential model implements it; tests implement it with closed-form models.
#pragma once

#include <cstdint>

namespace nmode {

class Classifier {
 public:
  virtual ~Classifier() = default;
  virtual int64_t input_dim() const = 0;
  virtual int64_t num_classes() const = 0;

  // x: (n, input_dim) -> logits: (n, num_classes). The result for one example
  // must not depend on the other examples of the batch. With need_input_grad
  // the model keeps what backward_input needs.
  virtual void forward(const float* x, int64_t n, float* logits, bool need_input_grad) = 0;

  // Vector-Jacobian product for the last forward(..., need_input_grad = true):
  // dlogits: (n, num_classes) -> dx: (n, input_dim).
  virtual void backward_input(const float* dlogits, float* dx) = 0;
};

}  // namespace nmode
