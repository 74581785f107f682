// The inputs adversarial training trains on, crafted per batch from the attack
// operations (nmode/attack_ops.hpp): PGD-AT's PGD examples (Madry et al. 2018)
// and TRADES' examples that maximise KL(f(x) || f(x')) (Zhang et al. 2019).
#pragma once

#include <cstdint>
#include <vector>

#include "nmode/model.hpp"
#include "nmode/tensor.hpp"

namespace nmode {

struct AdversarialBudget {
  double eps = 0.1;  // L-inf radius
  int steps = 10;
  uint64_t seed = 0;  // of the batch: the random start
};

class AdversarialInputs {
 public:
  // PGD with a random start on the cross-entropy (run_attack's PGD) into x_adv.
  void pgd(Sequential& model, const Tensor& x, const std::vector<int32_t>& y, const AdversarialBudget& budget,
           Tensor& x_adv);
  // PGD on KL(f(x) || f(x')) from x + 0.001 N(0, 1), step 2.5 eps / steps, into x_adv.
  void trades(Sequential& model, const Tensor& x, const AdversarialBudget& budget, Tensor& x_adv);

 private:
  // Reused across batches: no allocation in the steady state.
  Tensor clean_logits_, logits_, dlogits_, dx_;
};

}  // namespace nmode
