// CudaClassifier: a Sequential seen through the Classifier interface with its
// forward and input gradient computed on the GPU (CudaModel), so the attacks and
// the robustness evaluation run unchanged on either device; FGSM, PGD, APGD and
// Square run whole on the GPU (nmode/cuda_attack.hpp).
#pragma once

#include <cstdint>

#include "nmode/classifier.hpp"
#include "nmode/cuda_model.hpp"
#include "nmode/model.hpp"

namespace nmode {

class CudaClassifier final : public Classifier {
 public:
  // Copies the model's parameters to the GPU; `model` must outlive this object and
  // must not change while it is used. Throws as CudaModel's constructor does (no
  // usable GPU, no CUDA backend, a layer without a CUDA implementation).
  explicit CudaClassifier(Sequential& model);

  int64_t input_dim() const override { return input_dim_; }
  int64_t num_classes() const override { return num_classes_; }
  void forward(const float* x, int64_t n, float* logits, bool need_input_grad) override;
  // Parameter gradients are neither computed nor touched, as on the CPU.
  void backward_input(const float* dlogits, float* dx) override;
  // Every attack on the GPU's attack kernels (cuda_attack_supports), except those
  // with a gradient model, which run their portable loop over forward and backward_input.
  bool run_attack_on_device(const float* x, const int32_t* y, int64_t n, const AttackConfig& config,
                            const int64_t* example_ids, AttackResult& result) override;
  // Off: every attack takes the portable loop (to compare the two; on by default).
  void set_attacks_on_device(bool on) { attacks_on_device_ = on; }

 private:
  CudaModel gpu_;
  int64_t input_dim_, num_classes_;
  bool has_input_grad_ = false;  // the last forward had need_input_grad
  bool attacks_on_device_ = true;
};

}  // namespace nmode
