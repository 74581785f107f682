#include "nmode/cuda_classifier.hpp"

#include <algorithm>
#include <string>

#include "nmode/error.hpp"

namespace nmode {

CudaClassifier::CudaClassifier(Sequential& model)
    : gpu_(model), input_dim_(model.input_dim()), num_classes_(model.num_classes()) {}

void CudaClassifier::forward(const float* x, int64_t n, float* logits, bool need_input_grad) {
  if (n < 0) throw InvalidArgument("CudaClassifier::forward: batch size must be >= 0, got " + std::to_string(n));
  resize_matrix(input_, n, input_dim_);
  std::copy(x, x + input_.size(), input_.data());
  grad_batch_ = -1;  // an inference forward discards the state backward needs (CudaModel)
  gpu_.forward(input_, logits_, need_input_grad);
  if (need_input_grad) grad_batch_ = n;
  std::copy(logits_.data(), logits_.data() + logits_.size(), logits);
}

void CudaClassifier::backward_input(const float* dlogits, float* dx) {
  if (grad_batch_ < 0)
    throw InvalidArgument("CudaClassifier::backward_input needs a forward with need_input_grad = true before it");
  resize_matrix(dlogits_, grad_batch_, num_classes_);
  std::copy(dlogits, dlogits + dlogits_.size(), dlogits_.data());
  gpu_.backward_input(dlogits_, dinput_);
  std::copy(dinput_.data(), dinput_.data() + dinput_.size(), dx);
}

}  // namespace nmode
