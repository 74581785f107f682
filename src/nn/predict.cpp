// Batched inference (see nmode/predict.hpp).
#include "nmode/predict.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "nmode/attack_ops.hpp"
#include "nmode/error.hpp"

namespace nmode {

void softmax_rows(const Tensor& logits, Tensor& out) {
  if (logits.rank() != 2) throw InvalidArgument("softmax_rows: logits must be (n, k), got " + logits.shape_string());
  const int64_t n = logits.dim(0), k = logits.dim(1);
  out.resize({n, k});
  for (int64_t i = 0; i < n; ++i) {
    const float* z = logits.data() + i * k;
    float* p = out.data() + i * k;
    const double top = *std::max_element(z, z + k);
    double sum = 0;
    for (int64_t j = 0; j < k; ++j) sum += std::exp(double(z[j]) - top);
    for (int64_t j = 0; j < k; ++j) p[j] = static_cast<float>(std::exp(double(z[j]) - top) / sum);
  }
}

Predictions predict(Classifier& model, const Tensor& inputs, int64_t batch) {
  if (batch < 1) throw InvalidArgument("batch must be >= 1, got " + std::to_string(batch));
  const int64_t d = model.input_dim(), k = model.num_classes();
  if (inputs.rank() != 2 || inputs.dim(1) != d)
    throw InvalidArgument("the model expects inputs of shape (n, " + std::to_string(d) + "), got " +
                          inputs.shape_string());
  const int64_t n = inputs.dim(0);
  Predictions p;
  p.logits.resize({n, k});
  p.classes.assign(static_cast<size_t>(n), -1);
  for (int64_t first = 0; first < n; first += batch) {  // rows are contiguous: no staging copy
    const int64_t b = std::min(batch, n - first);
    model.forward(inputs.data() + first * d, b, p.logits.data() + first * k, false);
  }
  softmax_rows(p.logits, p.probabilities);
  for (int64_t i = 0; i < n; ++i) {
    const float* z_i = p.logits.data() + i * k;
    if (all_finite(z_i, k)) {
      p.classes[size_t(i)] = static_cast<int32_t>(predict_class(z_i, k));
    } else {
      std::fill_n(p.probabilities.data() + i * k, k, std::nanf(""));
    }
  }
  return p;
}

}  // namespace nmode
