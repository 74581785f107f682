// Softmax cross-entropy and TRADES' KL divergence (values and gradients) and
// argmax accuracy. Serial loops:
// a batch of logits is tiny next to the layers, and a fixed summation order
// keeps the loss bitwise reproducible whatever the thread count.
#include "nmode/loss.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "nmode/detail/softmax_ce.hpp"
#include "nmode/error.hpp"
#include "nmode/layers.hpp"

namespace nmode {
namespace {

// softmax of z: (k) into p, in double.
void softmax_row(const float* z, int64_t k, std::vector<double>& p) {
  p.resize(static_cast<size_t>(k));
  double m = z[0];
  for (int64_t j = 1; j < k; ++j) m = std::max(m, double(z[j]));
  double s = 0;
  for (int64_t j = 0; j < k; ++j) s += (p[size_t(j)] = std::exp(double(z[j]) - m));
  for (auto& v : p) v /= s;
}

// logits: (n, k); labels: (n). Checks everything before any output is written.
void check_inputs(const char* what, const Tensor& logits, const int32_t* labels) {
  if (logits.rank() != 2)
    throw InvalidArgument(std::string(what) + ": logits must be (batch, classes), got shape " + logits.shape_string());
  const int64_t n = logits.dim(0), k = logits.dim(1);
  if (k == 0) throw InvalidArgument(std::string(what) + ": logits have 0 classes");
  if (n > 0 && labels == nullptr) throw InvalidArgument(std::string(what) + ": labels must not be null");
  for (int64_t i = 0; i < n; ++i)
    if (labels[i] < 0 || labels[i] >= k)
      throw InvalidArgument(std::string(what) + ": label " + std::to_string(labels[i]) + " of example " +
                            std::to_string(i) + " is outside [0, " + std::to_string(k) + ")");
}

}  // namespace

double softmax_cross_entropy(const Tensor& logits, const int32_t* labels, Tensor* dlogits) {
  check_inputs("softmax_cross_entropy", logits, labels);
  const int64_t n = logits.dim(0), k = logits.dim(1);
  if (dlogits) resize_matrix(*dlogits, n, k);
  if (n == 0) return 0.0;
  const double inv_n = 1.0 / static_cast<double>(n);
  double total = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    float* d = dlogits ? dlogits->data() + i * k : nullptr;
    total += detail::softmax_ce_row(logits.data() + i * k, k, labels[i], inv_n, d);
  }
  return total * inv_n;
}

int64_t count_correct(const Tensor& logits, const int32_t* labels) {
  check_inputs("count_correct", logits, labels);
  const int64_t n = logits.dim(0), k = logits.dim(1);
  int64_t correct = 0;
  for (int64_t i = 0; i < n; ++i) correct += detail::row_is_correct(logits.data() + i * k, k, labels[i]);
  return correct;
}

double kl_divergence(const Tensor& p_logits, const Tensor& q_logits, double scale, Tensor* add_dp, Tensor* add_dq) {
  if (p_logits.rank() != 2 || p_logits.shape() != q_logits.shape())
    throw InvalidArgument("kl_divergence: logits must be two (batch, classes) tensors of one shape, got " +
                          p_logits.shape_string() + " and " + q_logits.shape_string());
  for (const Tensor* g : {add_dp, add_dq})
    if (g && g->shape() != p_logits.shape())
      throw InvalidArgument("kl_divergence: gradient must be " + p_logits.shape_string() + ", got " +
                            g->shape_string());
  const int64_t n = p_logits.dim(0), k = p_logits.dim(1);
  std::vector<double> p, q;
  double total = 0;
  for (int64_t i = 0; i < n; ++i) {
    softmax_row(p_logits.data() + i * k, k, p);
    softmax_row(q_logits.data() + i * k, k, q);
    double kl = 0;
    for (int64_t c = 0; c < k; ++c)
      if (p[size_t(c)] > 0) kl += p[size_t(c)] * (std::log(p[size_t(c)]) - std::log(q[size_t(c)]));
    total += kl;
    for (int64_t c = 0; c < k; ++c) {
      const double pc = p[size_t(c)], qc = q[size_t(c)];
      if (add_dq) (*add_dq)[i * k + c] += float(scale * (qc - pc));
      if (add_dp) (*add_dp)[i * k + c] += float(scale * (pc > 0 ? pc * (std::log(pc) - std::log(qc) - kl) : 0.0));
    }
  }
  return total;
}

}  // namespace nmode
