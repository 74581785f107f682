// AttackConfig checks, defaults and one-line description; AttackResult counters;
// run_attack's dispatch on the attack kind.
#include <cmath>
#include <cstdio>
#include <string>

#include "core/names.hpp"
#include "nmode/error.hpp"
#include "robust/attack_common.hpp"

namespace nmode {

namespace {

constexpr Named<AttackKind> kAttackKinds[] = {
    {AttackKind::FGSM, "fgsm"}, {AttackKind::PGD, "pgd"}, {AttackKind::APGD, "apgd"}, {AttackKind::Square, "square"}};
constexpr Named<AttackLoss> kAttackLosses[] = {{AttackLoss::CE, "ce"}, {AttackLoss::DLR, "dlr"}};
constexpr Named<L2Start> kL2Starts[] = {
    {L2Start::UniformRadius, "uniform-radius"}, {L2Start::Sphere, "sphere"}, {L2Start::UniformVolume, "uniform-volume"}};

}  // namespace

const char* to_string(AttackKind kind) { return name_in(kAttackKinds, kind); }
const char* to_string(AttackLoss loss) { return name_in(kAttackLosses, loss); }
const char* to_string(L2Start start) { return name_in(kL2Starts, start); }

AttackKind parse_attack_kind(const std::string& name) { return parse_name_in(kAttackKinds, name, "attack"); }
AttackLoss parse_attack_loss(const std::string& name) { return parse_name_in(kAttackLosses, name, "attack loss"); }
L2Start parse_l2_start(const std::string& name) { return parse_name_in(kL2Starts, name, "L2 start"); }

static std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

void AttackConfig::validate() const {
  const std::string who = std::string("attack ") + to_string(kind) + ": ";
  if (!(std::isfinite(box.lo) && std::isfinite(box.hi) && box.lo < box.hi))
    throw InvalidArgument(who + "the box must be finite with lo < hi, got [" + num(box.lo) + ", " + num(box.hi) + "]");
  if (!(std::isfinite(eps) && eps >= 0.0))
    throw InvalidArgument(who + "eps must be a finite number >= 0, got " + num(eps) +
                          " (MNIST budgets: 0.1-0.3 for linf, 1.0-2.0 for l2)");
  if (kind == AttackKind::FGSM && norm != Norm::Linf)
    throw InvalidArgument(who + "FGSM is defined for norm linf only, got " + to_string(norm) +
                          "; use pgd with norm l2, steps 1 and no random start for one L2 step");
  if (kind == AttackKind::Square && norm != Norm::Linf)
    throw InvalidArgument(who + "the Square attack is implemented for norm linf only, got " + to_string(norm));
  if (loss == AttackLoss::DLR && (kind == AttackKind::FGSM || kind == AttackKind::Square))
    throw InvalidArgument(who + "loss dlr applies to pgd and apgd only; use loss ce");
  if (gradient_model && kind != AttackKind::FGSM && kind != AttackKind::PGD)
    throw InvalidArgument(who + "gradients from another model (gradient_model" +
                          (gradient_name.empty() ? "" : " " + gradient_name) +
                          ") are implemented for fgsm and pgd only; use pgd, or attack the model's own gradients");
  if (!gradient_model && !gradient_name.empty())
    throw InvalidArgument(who + "gradient_name is '" + gradient_name +
                          "' but gradient_model is null; set both or neither");
  if (steps && *steps < 1) throw InvalidArgument(who + "steps must be >= 1, got " + std::to_string(*steps));
  if (step_size && !(std::isfinite(*step_size) && *step_size >= 0.0))
    throw InvalidArgument(who + "step size must be a finite number >= 0, got " + num(*step_size));
  if (restarts < 1) throw InvalidArgument(who + "restarts must be >= 1, got " + std::to_string(restarts));
  if (n_queries < 1) throw InvalidArgument(who + "n_queries must be >= 1, got " + std::to_string(n_queries));
  if (!(p_init > 0.0 && p_init <= 1.0))
    throw InvalidArgument(who + "p_init must be in (0, 1], got " + num(p_init));
  if (batch < 1) throw InvalidArgument(who + "batch must be >= 1, got " + std::to_string(batch));
  if (image_channels < 1)
    throw InvalidArgument(who + "image_channels must be >= 1, got " + std::to_string(image_channels));
  if (image_height < 0 || image_width < 0 || ((image_height == 0) != (image_width == 0)))
    throw InvalidArgument(who + "image_height and image_width must both be >= 1, or both 0 for a square image; got " +
                          std::to_string(image_height) + " and " + std::to_string(image_width));
}

int AttackConfig::resolved_steps() const {
  if (steps) return *steps;
  switch (kind) {
    case AttackKind::PGD: return 40;
    case AttackKind::APGD: return 100;
    case AttackKind::Square: return n_queries;
    case AttackKind::FGSM: return 1;
  }
  return 1;
}

double AttackConfig::resolved_step_size() const {
  if (step_size) return *step_size;
  switch (kind) {
    // Path length 2.5·eps exceeds the ball's diameter: every point is reachable from any start.
    case AttackKind::PGD: return 2.5 * eps / resolved_steps();
    case AttackKind::APGD: return 2.0 * eps;
    default: return eps;
  }
}

std::string AttackConfig::describe() const {
  std::string s = to_string(kind);
  if (kind == AttackKind::PGD || kind == AttackKind::APGD) s += std::string("-") + to_string(loss);
  s += std::string(" ") + to_string(norm) + " eps=" + num(eps);
  switch (kind) {
    case AttackKind::FGSM: break;
    case AttackKind::PGD:
      s += " steps=" + std::to_string(resolved_steps()) + " step=" + num(resolved_step_size()) +
           " restarts=" + std::to_string(restarts);
      if (!random_start) s += " start=none";
      else s += std::string(" start=") + (norm == Norm::L2 ? to_string(l2_start) : "uniform");
      if (track_success) s += " track-success";
      s += " seed=" + std::to_string(seed);
      break;
    case AttackKind::APGD:
      s += " iters=" + std::to_string(resolved_steps()) + " eta0=" + num(resolved_step_size()) +
           " restarts=" + std::to_string(restarts) + " seed=" + std::to_string(seed);
      break;
    case AttackKind::Square:
      s += " queries=" + std::to_string(n_queries) + " p_init=" + num(p_init) +
           " rescale=" + (rescale_schedule ? "true" : "false") + " seed=" + std::to_string(seed);
      break;
  }
  if (gradient_model) s += " gradients=" + (gradient_name.empty() ? std::string("gradient-model") : gradient_name);
  return s;
}

static int64_t count_ones(const std::vector<uint8_t>& v) {
  int64_t c = 0;
  for (uint8_t b : v) c += b ? 1 : 0;
  return c;
}

int64_t AttackResult::count_fooled() const { return count_ones(fooled); }
int64_t AttackResult::count_zero_grad_starts() const { return count_ones(zero_grad_start); }
int64_t AttackResult::count_numerical_failures() const { return count_ones(numerical_failure); }

AttackResult run_attack(Classifier& model, const float* x, const int32_t* y, int64_t n,
                        const AttackConfig& config, const int64_t* example_ids) {
  switch (config.kind) {
    case AttackKind::FGSM: return fgsm_attack(model, x, y, n, config, example_ids);
    case AttackKind::PGD: return pgd_attack(model, x, y, n, config, example_ids);
    case AttackKind::APGD: return apgd_attack(model, x, y, n, config, example_ids);
    case AttackKind::Square: return square_attack(model, x, y, n, config, example_ids);
  }
  throw InvalidArgument("attack: unknown attack kind");
}

}  // namespace nmode
