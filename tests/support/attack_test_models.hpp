// Small Classifier models with closed-form gradients for the attack tests: a
// linear model z = Wx + b, a 2-layer tanh MLP, and wrappers that count or record
// model calls and inject non-finite logits. Everything is computed in double.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "nmode/attack.hpp"
#include "nmode/random.hpp"

namespace nmode::test {

// z = W x + b. w: (k, d) row-major, b: (k).
class LinearModel : public Classifier {
 public:
  LinearModel(int64_t d, int64_t k, std::vector<double> w, std::vector<double> b)
      : d_(d), k_(k), w_(std::move(w)), b_(std::move(b)) {}

  int64_t input_dim() const override { return d_; }
  int64_t num_classes() const override { return k_; }

  void forward(const float* x, int64_t n, float* logits, bool need_input_grad) override {
    for (int64_t e = 0; e < n; ++e)
      for (int64_t c = 0; c < k_; ++c) logits[e * k_ + c] = static_cast<float>(logit(x + e * d_, c));
    last_n_ = need_input_grad ? n : -1;
  }

  void backward_input(const float* dlogits, float* dx) override {
    for (int64_t e = 0; e < last_n_; ++e)
      for (int64_t i = 0; i < d_; ++i) {
        double s = 0.0;
        for (int64_t c = 0; c < k_; ++c) s += static_cast<double>(dlogits[e * k_ + c]) * w_[c * d_ + i];
        dx[e * d_ + i] = static_cast<float>(s);
      }
  }

  // Logit c at x: (d), in double.
  double logit(const float* x, int64_t c) const {
    double s = b_[c];
    for (int64_t i = 0; i < d_; ++i) s += w_[c * d_ + i] * x[i];
    return s;
  }
  // Margin z_y - max_{c≠y} z_c in double.
  double margin(const float* x, int32_t y) const {
    double other = -std::numeric_limits<double>::infinity();
    for (int64_t c = 0; c < k_; ++c)
      if (c != y) other = std::max(other, logit(x, c));
    return logit(x, y) - other;
  }
  const std::vector<double>& w() const { return w_; }
  const std::vector<double>& b() const { return b_; }

 private:
  int64_t d_, k_;
  std::vector<double> w_, b_;
  int64_t last_n_ = -1;
};

// z = V tanh(W x + c) + b with hidden width h.
class TanhMlp : public Classifier {
 public:
  TanhMlp(int64_t d, int64_t h, int64_t k, uint64_t seed, double w_scale = 3.0) : d_(d), h_(h), k_(k) {
    SplitMix64 g(seed);
    w_.resize(static_cast<size_t>(h * d));
    v_.resize(static_cast<size_t>(k * h));
    c_.resize(static_cast<size_t>(h));
    b_.resize(static_cast<size_t>(k));
    for (double& a : w_) a = g.next_normal() * w_scale / std::sqrt(static_cast<double>(d));
    for (double& a : v_) a = g.next_normal() * 2.0 / std::sqrt(static_cast<double>(h));
    for (double& a : c_) a = g.next_normal() * 0.5;
    for (double& a : b_) a = g.next_normal() * 0.1;
  }

  int64_t input_dim() const override { return d_; }
  int64_t num_classes() const override { return k_; }

  void forward(const float* x, int64_t n, float* logits, bool need_input_grad) override {
    hidden_.assign(static_cast<size_t>(n * h_), 0.0);
    for (int64_t e = 0; e < n; ++e) {
      for (int64_t j = 0; j < h_; ++j) {
        double s = c_[j];
        for (int64_t i = 0; i < d_; ++i) s += w_[j * d_ + i] * x[e * d_ + i];
        hidden_[e * h_ + j] = std::tanh(s);
      }
      for (int64_t c = 0; c < k_; ++c) {
        double s = b_[c];
        for (int64_t j = 0; j < h_; ++j) s += v_[c * h_ + j] * hidden_[e * h_ + j];
        logits[e * k_ + c] = static_cast<float>(s);
      }
    }
    last_n_ = need_input_grad ? n : -1;
  }

  void backward_input(const float* dlogits, float* dx) override {
    std::vector<double> da(static_cast<size_t>(h_));
    for (int64_t e = 0; e < last_n_; ++e) {
      for (int64_t j = 0; j < h_; ++j) {
        double s = 0.0;
        for (int64_t c = 0; c < k_; ++c) s += static_cast<double>(dlogits[e * k_ + c]) * v_[c * h_ + j];
        const double t = hidden_[e * h_ + j];
        da[j] = s * (1.0 - t * t);
      }
      for (int64_t i = 0; i < d_; ++i) {
        double s = 0.0;
        for (int64_t j = 0; j < h_; ++j) s += da[j] * w_[j * d_ + i];
        dx[e * d_ + i] = static_cast<float>(s);
      }
    }
  }

 private:
  int64_t d_, h_, k_;
  std::vector<double> w_, v_, c_, b_, hidden_;
  int64_t last_n_ = -1;
};

// Forwards to another model and counts what the attacks ask of it.
class CountingModel : public Classifier {
 public:
  explicit CountingModel(Classifier& inner, bool record = false) : inner_(inner), record_(record) {}
  int64_t input_dim() const override { return inner_.input_dim(); }
  int64_t num_classes() const override { return inner_.num_classes(); }

  void forward(const float* x, int64_t n, float* logits, bool need_input_grad) override {
    ++forward_calls;
    rows += n;
    if (need_input_grad) {
      ++grad_forward_calls;
      grad_rows += n;
    }
    if (record_) seen.insert(seen.end(), x, x + n * input_dim());
    inner_.forward(x, n, logits, need_input_grad);
  }
  void backward_input(const float* dlogits, float* dx) override {
    ++backward_calls;
    inner_.backward_input(dlogits, dx);
  }

  int64_t forward_calls = 0, grad_forward_calls = 0, backward_calls = 0, rows = 0, grad_rows = 0;
  std::vector<float> seen;  // every row passed to forward, in order, when recording

 private:
  Classifier& inner_;
  bool record_;
};

// Returns NaN logits for inputs whose first coordinate is below a threshold.
class NanBelowModel : public Classifier {
 public:
  NanBelowModel(Classifier& inner, float threshold) : inner_(inner), threshold_(threshold) {}
  int64_t input_dim() const override { return inner_.input_dim(); }
  int64_t num_classes() const override { return inner_.num_classes(); }
  void forward(const float* x, int64_t n, float* logits, bool need_input_grad) override {
    inner_.forward(x, n, logits, need_input_grad);
    const int64_t d = input_dim(), k = num_classes();
    for (int64_t e = 0; e < n; ++e)
      if (x[e * d] < threshold_)
        for (int64_t c = 0; c < k; ++c) logits[e * k + c] = std::numeric_limits<float>::quiet_NaN();
  }
  void backward_input(const float* dlogits, float* dx) override { inner_.backward_input(dlogits, dx); }

 private:
  Classifier& inner_;
  float threshold_;
};

// n inputs of dimension d, uniform in [0,1), with a few coordinates exactly 0 or 1.
inline std::vector<float> random_inputs(int64_t n, int64_t d, uint64_t seed) {
  SplitMix64 g(seed);
  std::vector<float> x(static_cast<size_t>(n * d));
  for (float& v : x) {
    const double u = g.next_uniform01();
    v = u < 0.05 ? 0.0f : (u > 0.95 ? 1.0f : static_cast<float>(g.next_uniform01()));
  }
  return x;
}

// Labels = the model's own predictions (every point clean-correct).
inline std::vector<int32_t> predicted_labels(Classifier& model, const std::vector<float>& x, int64_t n) {
  const int64_t k = model.num_classes();
  std::vector<float> z(static_cast<size_t>(n * k));
  model.forward(x.data(), n, z.data(), false);
  std::vector<int32_t> y(static_cast<size_t>(n));
  for (int64_t e = 0; e < n; ++e) {
    int64_t best = 0;
    for (int64_t c = 1; c < k; ++c)
      if (z[e * k + c] > z[e * k + best]) best = c;
    y[e] = static_cast<int32_t>(best);
  }
  return y;
}

// A 2-class linear model with weights ~ N(0, scale^2) and bias b0 - b1 = bias.
inline LinearModel random_linear2(int64_t d, uint64_t seed, double scale, double bias) {
  SplitMix64 g(seed);
  std::vector<double> w(static_cast<size_t>(2 * d));
  for (double& a : w) a = g.next_normal() * scale;
  return LinearModel(d, 2, w, {bias, 0.0});
}

}  // namespace nmode::test
