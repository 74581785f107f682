#include "nmode/cuda_classifier.hpp"

#include <string>

#include "nmode/cuda_attack.hpp"
#include "nmode/error.hpp"

namespace nmode {

CudaClassifier::CudaClassifier(Sequential& model)
    : gpu_(model), input_dim_(model.input_dim()), num_classes_(model.num_classes()) {}

void CudaClassifier::forward(const float* x, int64_t n, float* logits, bool need_input_grad) {
  if (n < 0) throw InvalidArgument("CudaClassifier::forward: batch size must be >= 0, got " + std::to_string(n));
  has_input_grad_ = false;  // an inference forward discards the state backward needs (CudaModel)
  gpu_.forward(x, n, logits, need_input_grad);
  has_input_grad_ = need_input_grad;
}

void CudaClassifier::backward_input(const float* dlogits, float* dx) {
  if (!has_input_grad_)
    throw InvalidArgument("CudaClassifier::backward_input needs a forward with need_input_grad = true before it");
  gpu_.backward_input(dlogits, dx);
}

bool CudaClassifier::run_attack_on_device(const float* x, const int32_t* y, int64_t n, const AttackConfig& config,
                                          const int64_t* example_ids, AttackResult& result) {
  if (!attacks_on_device_ || !cuda_attack_supports(config)) return false;
  has_input_grad_ = false;  // the attack's forwards replace the latest one
  result = cuda_attack(gpu_, x, y, n, config, example_ids);
  return true;
}

}  // namespace nmode
