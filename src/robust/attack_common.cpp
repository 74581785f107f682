// Argument checks and the gather / call / scatter model oracles shared by the
// attacks. Only the active examples of a batch reach the Classifier.
#include "robust/attack_common.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "nmode/attack_ops.hpp"
#include "nmode/error.hpp"

namespace nmode::attack_impl {
namespace {

// Rows `active` of pts: (rows, d) side by side in xs, with room for their logits
// (k each) in logits; both grow as needed and never shrink.
void gather_rows(const float* pts, const std::vector<int64_t>& active, int64_t d, int64_t k, std::vector<float>& xs,
                 std::vector<float>& logits) {
  const int64_t na = static_cast<int64_t>(active.size());
  if (static_cast<int64_t>(xs.size()) < na * d) xs.resize(static_cast<size_t>(na * d));
  if (static_cast<int64_t>(logits.size()) < na * k) logits.resize(static_cast<size_t>(na * k));
  for (int64_t a = 0; a < na; ++a) {
    const float* src = pts + active[a] * d;
    std::copy(src, src + d, xs.data() + a * d);
  }
}

}  // namespace

void check_attack_inputs(const Classifier& model, const float* x, const int32_t* y, int64_t n,
                         const AttackConfig& config) {
  check_attack_inputs(model.input_dim(), model.num_classes(), x, y, n, config);
}

void check_attack_inputs(int64_t d, int64_t k, const float* x, const int32_t* y, int64_t n,
                         const AttackConfig& config) {
  config.validate();
  if (n < 0) throw InvalidArgument("attack: number of examples must be >= 0, got " + std::to_string(n));
  if (d < 1 || k < 2)
    throw InvalidArgument("attack: the model needs input_dim >= 1 and num_classes >= 2, got " +
                          std::to_string(d) + " and " + std::to_string(k));
  if (config.loss == AttackLoss::DLR && k < 3)
    throw InvalidArgument("attack: the DLR loss needs at least 3 classes, the model has " + std::to_string(k) +
                          "; use loss CE");
  if (config.gradient_model) {
    const int64_t gd = config.gradient_model->input_dim(), gk = config.gradient_model->num_classes();
    if (gd != d || gk != k)
      throw InvalidArgument("attack: the gradient model" +
                            (config.gradient_name.empty() ? std::string() : " " + config.gradient_name) + " has " +
                            std::to_string(gd) + " inputs and " + std::to_string(gk) +
                            " classes, the attacked model " + std::to_string(d) + " and " + std::to_string(k) +
                            "; build it from the attacked model (make_surrogate_model)");
  }
  if (n > 0 && (!x || !y)) throw InvalidArgument("attack: x and y must not be null when n > 0");
  for (int64_t i = 0; i < n; ++i) {
    if (y[i] < 0 || y[i] >= k)
      throw InvalidArgument("attack: label of example " + std::to_string(i) + " is " + std::to_string(y[i]) +
                            ", expected 0.." + std::to_string(k - 1));
    const float* xi = x + i * d;
    for (int64_t j = 0; j < d; ++j)
      if (!config.box.contains(xi[j]))
        throw InvalidArgument("attack: inputs must be finite and in the box [" + std::to_string(config.box.lo) + ", " +
                              std::to_string(config.box.hi) + "]; example " + std::to_string(i) + " has " +
                              std::to_string(xi[j]) +
                              " at index " + std::to_string(j) + " (give the data's own box: AttackConfig::box, --box)");
  }
}

AttackResult make_result(const float* x, int64_t n, int64_t d) {
  AttackResult r;
  r.x_adv.assign(x, x + n * d);
  r.fooled.assign(static_cast<size_t>(n), 0);
  r.queries.assign(static_cast<size_t>(n), 0);
  r.zero_grad_start.assign(static_cast<size_t>(n), 0);
  r.numerical_failure.assign(static_cast<size_t>(n), 0);
  return r;
}

GradientOracle::GradientOracle(Classifier& model, AttackLoss loss, int64_t capacity, Classifier* gradient_model)
    : model_(gradient_model ? *gradient_model : model), loss_(loss), d_(model.input_dim()), k_(model.num_classes()) {
  if (gradient_model) judge_ = std::make_unique<LogitOracle>(model, capacity);
  xs_.resize(static_cast<size_t>(capacity * d_));
  dx_.resize(static_cast<size_t>(capacity * d_));
  logits_.resize(static_cast<size_t>(capacity * k_));
  dlogits_.resize(static_cast<size_t>(capacity * k_));
  zd_.resize(static_cast<size_t>(k_));
  dzd_.resize(static_cast<size_t>(k_));
}

void GradientOracle::evaluate(const float* pts, const int32_t* y, const std::vector<int64_t>& active,
                              double* loss, float* grad, uint8_t* correct, uint8_t* nonfinite) {
  const int64_t na = static_cast<int64_t>(active.size());
  if (na == 0) return;
  if (static_cast<int64_t>(dx_.size()) < na * d_) {
    dx_.resize(static_cast<size_t>(na * d_));
    dlogits_.resize(static_cast<size_t>(na * k_));
  }
  gather_rows(pts, active, d_, k_, xs_, logits_);
  model_.forward(xs_.data(), na, logits_.data(), true);
  for (int64_t a = 0; a < na; ++a) {
    const int64_t j = active[a];
    const float* z = logits_.data() + a * k_;
    float* dz = dlogits_.data() + a * k_;
    if (correct && !judge_) correct[j] = is_correct(z, k_, y[j]) ? 1 : 0;
    if (!all_finite(z, k_)) {
      nonfinite[j] = 1;
      loss[j] = std::numeric_limits<double>::quiet_NaN();
      for (int64_t c = 0; c < k_; ++c) dz[c] = 0.0f;
      continue;
    }
    for (int64_t c = 0; c < k_; ++c) zd_[c] = z[c];
    loss[j] = loss_ == AttackLoss::CE ? ce_loss(zd_.data(), k_, y[j], dzd_.data())
                                      : dlr_loss(zd_.data(), k_, y[j], dzd_.data());
    for (int64_t c = 0; c < k_; ++c) dz[c] = static_cast<float>(dzd_[c]);
  }
  model_.backward_input(dlogits_.data(), dx_.data());
  for (int64_t a = 0; a < na; ++a) {
    const int64_t j = active[a];
    const float* g = dx_.data() + a * d_;
    float* out = grad + j * d_;
    for (int64_t i = 0; i < d_; ++i) {
      if (std::isfinite(g[i])) {
        out[i] = g[i];
      } else {  // never let NaN reach an iterate
        out[i] = 0.0f;
        nonfinite[j] = 1;
      }
    }
  }
  // The gradient model's logits never judge a point: the attacked model does.
  if (correct && judge_) judge_->evaluate(pts, y, active, nullptr, correct, nonfinite);
}

void square_image_shape(const AttackConfig& config, int64_t d, int& c, int& h, int& w) {
  c = config.image_channels;
  h = config.image_height;
  w = config.image_width;
  if (h == 0) {
    const int64_t hw = d / c;
    const int side = static_cast<int>(std::lround(std::sqrt(static_cast<double>(hw))));
    if (hw * c != d || static_cast<int64_t>(side) * side != hw)
      throw InvalidArgument("attack square: input_dim " + std::to_string(d) + " with " + std::to_string(c) +
                            " channel(s) is not a square image; set image_height and image_width");
    h = w = side;
  }
  if (static_cast<int64_t>(c) * h * w != d)
    throw InvalidArgument("attack square: image " + std::to_string(c) + "x" + std::to_string(h) + "x" +
                          std::to_string(w) + " does not match input_dim " + std::to_string(d));
}

LogitOracle::LogitOracle(Classifier& model, int64_t capacity)
    : model_(model), d_(model.input_dim()), k_(model.num_classes()) {
  xs_.resize(static_cast<size_t>(capacity * d_));
  logits_.resize(static_cast<size_t>(capacity * k_));
  zd_.resize(static_cast<size_t>(k_));
}

void LogitOracle::evaluate(const float* pts, const int32_t* y, const std::vector<int64_t>& active,
                           double* margin, uint8_t* correct, uint8_t* nonfinite) {
  const int64_t na = static_cast<int64_t>(active.size());
  if (na == 0) return;
  gather_rows(pts, active, d_, k_, xs_, logits_);
  model_.forward(xs_.data(), na, logits_.data(), false);
  for (int64_t a = 0; a < na; ++a) {
    const int64_t j = active[a];
    const float* z = logits_.data() + a * k_;
    const bool finite = all_finite(z, k_);
    if (!finite) nonfinite[j] = 1;
    correct[j] = is_correct(z, k_, y[j]) ? 1 : 0;
    if (margin) {
      for (int64_t c = 0; c < k_; ++c) zd_[c] = z[c];
      margin[j] = finite ? margin_loss(zd_.data(), k_, y[j]) : std::numeric_limits<double>::quiet_NaN();
    }
  }
}

}  // namespace nmode::attack_impl
