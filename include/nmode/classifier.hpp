// Classifier: what attacks and evaluations need from a model, and nothing more.
// A Sequential model implements it; tests implement it with closed-form models.
#pragma once

#include <cstdint>

namespace nmode {

struct AttackConfig;  // nmode/attack.hpp
struct AttackResult;

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

  // An attack run by the model's own device, when it has one for `config`: the
  // attacks (nmode/attack.hpp) offer every run here first, after checking its
  // inputs, and run their portable implementation over forward/backward_input
  // when this returns false (the default). The result must be the one the
  // portable implementation would give, up to rounding. CudaModel runs every
  // attack without a gradient model on the GPU this way (nmode/cuda_attack.hpp).
  virtual bool run_attack_on_device(const float* /*x*/, const int32_t* /*y*/, int64_t /*n*/,
                                    const AttackConfig& /*config*/, const int64_t* /*example_ids*/,
                                    AttackResult& /*result*/) {
    return false;
  }
};

}  // namespace nmode
