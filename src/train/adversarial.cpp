#include "train/adversarial.hpp"

#include <algorithm>

#include "nmode/attack.hpp"
#include "nmode/attack_ops.hpp"
#include "nmode/loss.hpp"
#include "nmode/random.hpp"

namespace nmode {

void AdversarialInputs::pgd(Sequential& model, const Tensor& x, const std::vector<int32_t>& y,
                            const AdversarialBudget& budget, Tensor& x_adv) {
  const int64_t n = x.dim(0);
  AttackConfig cfg;
  cfg.kind = AttackKind::PGD;
  cfg.norm = Norm::Linf;
  cfg.eps = budget.eps;
  cfg.steps = budget.steps;
  cfg.seed = budget.seed;
  cfg.batch = n;
  const AttackResult r = run_attack(model, x.data(), y.data(), n, cfg);
  x_adv.resize({n, x.dim(1)});
  std::copy(r.x_adv.begin(), r.x_adv.end(), x_adv.data());
}

void AdversarialInputs::trades(Sequential& model, const Tensor& x, const AdversarialBudget& budget, Tensor& x_adv) {
  const int64_t n = x.dim(0), d = x.dim(1), k = model.num_classes();
  const double alpha = 2.5 * budget.eps / budget.steps;
  clean_logits_.resize({n, k});
  model.forward(x.data(), n, clean_logits_.data(), false);
  x_adv.resize({n, d});
  SplitMix64 rng(budget.seed);
  for (int64_t j = 0; j < n * d; ++j) x_adv[j] = clip01(float(double(x[j]) + 0.001 * rng.next_normal()));
  logits_.resize({n, k});
  dlogits_.resize({n, k});
  dx_.resize({n, d});
  for (int step = 0; step < budget.steps; ++step) {
    model.forward(x_adv.data(), n, logits_.data(), true);
    dlogits_.fill(0.0f);
    kl_divergence(clean_logits_, logits_, 1.0, nullptr, &dlogits_);
    model.backward_input(dlogits_.data(), dx_.data());
    for (int64_t j = 0; j < n * d; ++j) x_adv[j] = float(double(x_adv[j]) + alpha * sign0(dx_[j]));
    project_linf(x.data(), float(budget.eps), x_adv.data(), n * d);
  }
}

}  // namespace nmode
