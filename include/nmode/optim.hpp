// Adam / AdamW with the nmODE+ options (weight clipping and the stability
// penalty on the matrix that feeds the nmODE neurons), and state export so a
// training run resumes bitwise from a checkpoint.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "nmode/detail/adam_update.hpp"
#include "nmode/layers.hpp"
#include "nmode/tensor.hpp"

namespace nmode {

enum class WeightDecay {
  L2,         // g += wd * w before the moments (PyTorch Adam's weight_decay)
  Decoupled,  // w *= 1 - lr * wd before the update (PyTorch AdamW)
};

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  // Applies to every parameter given to step(), biases and a learnable lambda
  // included, as PyTorch does when all parameters are in one group.
  double weight_decay = 0.0;
  WeightDecay decay_mode = WeightDecay::L2;

  void validate() const;  // throws InvalidArgument naming the option and its value
};

// nmODE+ (the paper's stabilised training) on the weight matrices named in
// `weights` (Sequential::nmode_input_weights(), e.g. {"0.weight"}):
//  - stable_penalty eta > 0 adds eta * d/dW max_i sum_j |w_ij| to W's gradient
//    before the Adam update: eta * sign(w_{i*j}) on the row i* of largest L1
//    norm (ties: smallest i; sign(0) = 0). The grad tensor itself is not changed.
//  - clip c > 0 clamps W to [-c, c] after each step.
// Zero turns either off.
struct NmOdePlusOptions {
  std::vector<std::string> weights;
  double clip = 0.0;
  double stable_penalty = 0.0;

  void validate() const;
};

// Adam as in PyTorch's torch.optim.Adam/AdamW (non-amsgrad):
//   g = grad [+ eta*penalty subgradient] [+ wd*w for L2]
//   [w *= 1 - lr*wd for Decoupled]
//   m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2
//   w -= (lr / (1-b1^t)) * m / (sqrt(v) / sqrt(1-b2^t) + eps)
// computed per element in double and stored in float (w, m, v).
class Adam {
 public:
  explicit Adam(AdamOptions options = {}, NmOdePlusOptions plus = {});

  // One update of every parameter from its grad. The first call fixes the
  // parameter list (names, order, shapes); later calls must pass the same list
  // (InvalidArgument otherwise). Allocates only on the first call.
  void step(const std::vector<ParameterRef>& params);

  // The step that step() would apply next, for a caller that runs the update on
  // its own copy of the parameters and moments (the GPU): advances the step count,
  // checks and binds `params` as step() does, and returns parameter k's constants
  // at [k], for detail::adam_update_element (valid until the next call).
  // penalty_row(k) is called only for the nmODE+ weights while the stability
  // penalty is on: it must return the row of largest L1 norm of the caller's
  // current copy (as row_l1_argmax does).
  const std::vector<detail::AdamConstants>& next_step(const std::vector<ParameterRef>& params,
                                                      const std::function<int64_t(size_t)>& penalty_row);
  // The moments m and v of parameter k (same shape), for such a caller to copy in
  // and out; InvalidArgument before the first step binds them.
  Tensor& first_moment(size_t k);
  Tensor& second_moment(size_t k);
  size_t bound_parameters() const { return slots_.size(); }

  int64_t step_count() const { return step_; }
  const AdamOptions& options() const { return options_; }
  const NmOdePlusOptions& plus_options() const { return plus_; }
  // For learning-rate schedules; takes effect at the next step.
  void set_lr(double lr);

  // The state for a checkpoint: tensors "adam.m.<param>" and "adam.v.<param>"
  // (same shapes as the parameters) and metadata "adam.step" (decimal). Adds
  // to the maps, leaving other entries alone. Empty before the first step.
  void export_state(std::map<std::string, Tensor>& tensors, std::map<std::string, std::string>& metadata) const;
  // Restores what export_state wrote for exactly these parameters, so the next
  // step is bitwise the one the saved run would have taken. Throws IoError naming
  // a missing or mis-shaped entry. With "adam.step" = 0 the state is reset.
  void import_state(const std::vector<ParameterRef>& params, const std::map<std::string, Tensor>& tensors,
                    const std::map<std::string, std::string>& metadata);

 private:
  struct Slot {
    std::string name;
    Tensor m, v;
    bool plus = false;  // one of plus_.weights
  };
  void bind(const std::vector<ParameterRef>& params);
  void check_bound(const std::vector<ParameterRef>& params) const;
  Slot& slot(size_t k);

  AdamOptions options_;
  NmOdePlusOptions plus_;
  std::vector<Slot> slots_;
  std::vector<detail::AdamConstants> constants_;  // next_step's result
  int64_t step_ = 0;
};

// tau = max_i sum_j |w_ij| of W: (rows, cols), summed in double: the induced
// infinity norm that bounds how far the nmODE layer's input moves (design §4).
// 0 for a matrix without rows, NaN when a row's norm is NaN.
double row_l1_max(const Tensor& W);
// The row attaining it (ties: the smallest index; NaN rows never win); -1 when
// W has no rows.
int64_t row_l1_argmax(const Tensor& W);

}  // namespace nmode
