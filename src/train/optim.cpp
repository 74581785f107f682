// Adam/AdamW update with the nmODE+ penalty subgradient and clipping, the
// optimizer state import/export for checkpoints, and the row-L1 norm tau.
#include "nmode/optim.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <string>

#include "core/numbers.hpp"
#include "io/metadata.hpp"
#include "nmode/error.hpp"
#include "nmode/simd.hpp"
#include "train/optim_kernels.hpp"

namespace nmode {
namespace {

constexpr int64_t kParallelMin = 1 << 15;

void require_range(const char* name, double v, bool ok, const char* range) {
  if (!ok) throw InvalidArgument(std::string(name) + " must be " + range + ", got " + exact_decimal(v));
}

}  // namespace

void adam_update_scalar(const AdamConstants& c, int64_t begin, int64_t end, float* w, const float* g, float* m,
                        float* v) {
  for (int64_t i = begin; i < end; ++i) detail::adam_update_element(c, i, w, g, m, v);
}

void AdamOptions::validate() const {
  require_range("lr", lr, std::isfinite(lr) && lr >= 0, "finite and >= 0");
  require_range("beta1", beta1, beta1 >= 0 && beta1 < 1, "in [0, 1)");
  require_range("beta2", beta2, beta2 >= 0 && beta2 < 1, "in [0, 1)");
  require_range("eps", eps, std::isfinite(eps) && eps >= 0, "finite and >= 0");
  require_range("weight_decay", weight_decay, std::isfinite(weight_decay) && weight_decay >= 0, "finite and >= 0");
}

void NmOdePlusOptions::validate() const {
  require_range("clip", clip, std::isfinite(clip) && clip >= 0, "finite and >= 0 (0 = off)");
  require_range("stable_penalty", stable_penalty, std::isfinite(stable_penalty) && stable_penalty >= 0,
                "finite and >= 0 (0 = off)");
  if ((clip > 0 || stable_penalty > 0) && weights.empty())
    throw InvalidArgument("nmODE+ clip/stable_penalty is set but no weight matrix is named; pass "
                          "Sequential::nmode_input_weights()");
}

Adam::Adam(AdamOptions options, NmOdePlusOptions plus) : options_(options), plus_(std::move(plus)) {
  options_.validate();
  plus_.validate();
}

void Adam::set_lr(double lr) {
  require_range("lr", lr, std::isfinite(lr) && lr >= 0, "finite and >= 0");
  options_.lr = lr;
}

void Adam::bind(const std::vector<ParameterRef>& params) {
  std::vector<Slot> slots;
  for (const ParameterRef& p : params) {
    if (!p.value || !p.grad) throw InvalidArgument("Adam: parameter \"" + p.name + "\" has a null value or grad");
    Slot s;
    s.name = p.name;
    s.m = Tensor(p.value->shape());
    s.v = Tensor(p.value->shape());
    s.plus = std::find(plus_.weights.begin(), plus_.weights.end(), p.name) != plus_.weights.end();
    if (s.plus && p.value->rank() != 2)
      throw InvalidArgument("nmODE+ weight \"" + p.name + "\" must be a matrix, got shape " + p.value->shape_string());
    slots.push_back(std::move(s));
  }
  for (const std::string& w : plus_.weights) {
    const bool found = std::any_of(slots.begin(), slots.end(), [&](const Slot& s) { return s.name == w; });
    if (!found) {
      std::string names;
      for (const Slot& s : slots) names += (names.empty() ? "" : ", ") + s.name;
      throw InvalidArgument("nmODE+ weight \"" + w + "\" is not among the parameters (" + names + ")");
    }
  }
  slots_ = std::move(slots);
}

void Adam::check_bound(const std::vector<ParameterRef>& params) const {
  if (params.size() != slots_.size())
    throw InvalidArgument("Adam::step: got " + std::to_string(params.size()) + " parameters, the first step had " +
                          std::to_string(slots_.size()));
  for (size_t k = 0; k < params.size(); ++k) {
    const ParameterRef& p = params[k];
    if (p.name != slots_[k].name)
      throw InvalidArgument("Adam::step: parameter " + std::to_string(k) + " is \"" + p.name + "\", the first step had \"" +
                            slots_[k].name + "\"");
    if (!p.value || !p.grad || p.value->shape() != slots_[k].m.shape() || p.grad->shape() != slots_[k].m.shape())
      throw InvalidArgument("Adam::step: parameter \"" + p.name + "\" (or its grad) does not have the shape " +
                            slots_[k].m.shape_string() + " of its optimizer state");
  }
}

const std::vector<AdamConstants>& Adam::next_step(const std::vector<ParameterRef>& params,
                                                  const std::function<int64_t(size_t)>& penalty_row) {
  if (slots_.empty() && !params.empty()) bind(params);
  check_bound(params);
  ++step_;
  const double lr = options_.lr, b1 = options_.beta1, b2 = options_.beta2, eps = options_.eps;
  const double t = static_cast<double>(step_);
  const double step_size = lr / (1.0 - std::pow(b1, t));
  const double sqrt_bc2 = std::sqrt(1.0 - std::pow(b2, t));
  const double l2 = options_.decay_mode == WeightDecay::L2 ? options_.weight_decay : 0.0;
  const double shrink = options_.decay_mode == WeightDecay::Decoupled ? 1.0 - lr * options_.weight_decay : 1.0;
  const double eta = plus_.stable_penalty, clip = plus_.clip;
  // Clipping off = clamping to +-infinity, so the update has no branches.
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<AdamConstants>& constants = constants_;  // kept: steady-state steps allocate nothing
  constants.clear();
  for (size_t k = 0; k < params.size(); ++k) {
    const Slot& s = slots_[k];
    // The penalty's subgradient lives on one row: [pen_begin, pen_end) of the flat array.
    int64_t pen_begin = 0, pen_end = 0;
    if (s.plus && eta > 0) {
      const int64_t row = penalty_row(k);
      const int64_t cols = params[k].value->dim(1);
      if (row >= 0) {
        pen_begin = row * cols;
        pen_end = pen_begin + cols;
      }
    }
    constants.push_back({b1, b2, eps, step_size, sqrt_bc2, l2, shrink, eta, s.plus && clip > 0 ? clip : inf,
                         pen_begin, pen_end});
  }
  return constants;
}

void Adam::step(const std::vector<ParameterRef>& params) {
  const std::vector<AdamConstants>& constants =
      next_step(params, [&](size_t k) { return row_l1_argmax(*params[k].value); });
  const AdamUpdate update = adam_update_for(active_simd_target());
  for (size_t k = 0; k < params.size(); ++k) {
    Slot& s = slots_[k];
    float* w = params[k].value->data();
    const float* g = params[k].grad->data();
    float* m = s.m.data();
    float* v = s.v.data();
    const int64_t count = params[k].value->size();
    // Chunks of whole cache lines; the update is elementwise, so the split does
    // not change a bit of the result.
    constexpr int64_t kChunk = 1 << 14;
    const int64_t chunks = ceil_div(count, kChunk);
#pragma omp parallel for schedule(static) if (count >= kParallelMin)
    for (int64_t ch = 0; ch < chunks; ++ch)
      update(constants[k], ch * kChunk, std::min(count, (ch + 1) * kChunk), w, g, m, v);
  }
}

Tensor& Adam::first_moment(size_t k) { return slot(k).m; }
Tensor& Adam::second_moment(size_t k) { return slot(k).v; }

Adam::Slot& Adam::slot(size_t k) {
  if (k >= slots_.size())
    throw InvalidArgument("Adam: parameter " + std::to_string(k) + " has no moments (" +
                          std::to_string(slots_.size()) + " bound; they are bound by the first step)");
  return slots_[k];
}

void Adam::export_state(std::map<std::string, Tensor>& tensors, std::map<std::string, std::string>& metadata) const {
  for (const Slot& s : slots_) {
    tensors["adam.m." + s.name] = s.m;
    tensors["adam.v." + s.name] = s.v;
  }
  metadata["adam.step"] = metadata_text(step_);
}

void Adam::import_state(const std::vector<ParameterRef>& params, const std::map<std::string, Tensor>& tensors,
                        const std::map<std::string, std::string>& metadata) {
  const int64_t step = MetadataReader(metadata, "optimizer state").integer_in("adam.step", 0, std::numeric_limits<int64_t>::max());
  if (step == 0) {
    slots_.clear();
    step_ = 0;
    return;
  }
  bind(params);
  for (Slot& s : slots_)
    for (Tensor* dst : {&s.m, &s.v}) {
      const std::string key = (dst == &s.m ? "adam.m." : "adam.v.") + s.name;
      const auto t = tensors.find(key);
      if (t == tensors.end()) throw IoError("optimizer state lacks the tensor \"" + key + "\"");
      if (t->second.shape() != dst->shape())
        throw IoError("optimizer state tensor \"" + key + "\" has shape " + t->second.shape_string() +
                      ", the parameter has " + dst->shape_string());
      *dst = t->second;
    }
  step_ = step;
}

namespace {

struct RowL1 {
  double value = -1.0;  // largest row L1 norm; -1 when there are no rows
  int64_t row = -1;
  bool nan = false;  // some row's norm is NaN (it never wins the comparison)
};

// W: (rows, cols). Each thread keeps its best (value, row); combining by "larger
// value, then smaller row" is order-independent, so the result is the same for
// any number of threads.
RowL1 find_row_l1_max(const Tensor& W) {
  if (W.rank() != 2) throw InvalidArgument("row_l1_max: W must be a matrix, got shape " + W.shape_string());
  const int64_t rows = W.dim(0), cols = W.dim(1);
  RowL1 best;
#pragma omp parallel if (W.size() >= kParallelMin)
  {
    RowL1 local;
#pragma omp for schedule(static) nowait
    for (int64_t r = 0; r < rows; ++r) {
      const double sum = detail::row_l1_sum(W.data() + r * cols, cols);
      if (std::isnan(sum)) local.nan = true;
      if (sum > local.value) {  // strict: a tie keeps the smaller row (rows arrive in order)
        local.value = sum;
        local.row = r;
      }
    }
#pragma omp critical(nmode_row_l1_max)
    {
      best.nan = best.nan || local.nan;
      if (local.row >= 0 && (local.value > best.value || (local.value == best.value && local.row < best.row))) {
        best.value = local.value;
        best.row = local.row;
      }
    }
  }
  return best;
}

}  // namespace

int64_t row_l1_argmax(const Tensor& W) { return find_row_l1_max(W).row; }

double row_l1_max(const Tensor& W) {
  const RowL1 r = find_row_l1_max(W);
  if (r.nan) return std::nan("");
  return r.row < 0 ? 0.0 : r.value;
}

}  // namespace nmode
