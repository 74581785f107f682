// Adversarial attacks (FGSM, PGD, APGD, Square) and the robustness evaluation
// protocol, as specified in docs/attacks.md. Every attack is batched, keeps its
// state per example and draws its randomness from per-example streams, so the
// result for one example never depends on the batch size or thread count.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "nmode/attack_ops.hpp"
#include "nmode/classifier.hpp"
#include "nmode/norm.hpp"

namespace nmode {

enum class AttackKind { FGSM, PGD, APGD, Square };
// Loss maximised by the gradient attacks. Square always uses the margin loss.
enum class AttackLoss { CE, DLR };
// PGD-L2 random start: radius r·ε with r ~ U[0,1) (torchattacks, the default),
// on the sphere (r = 1, MadryLab robustness), or uniform in volume (r = U^(1/d)).
enum class L2Start { UniformRadius, Sphere, UniformVolume };

const char* to_string(AttackKind kind);  // "fgsm", "pgd", "apgd", "square"
const char* to_string(AttackLoss loss);  // "ce", "dlr"
const char* to_string(L2Start start);    // "uniform-radius", "sphere", "uniform-volume"
// The inverses of to_string; InvalidArgument naming the choices otherwise.
AttackKind parse_attack_kind(const std::string& name);
AttackLoss parse_attack_loss(const std::string& name);
L2Start parse_l2_start(const std::string& name);

struct AttackConfig {
  AttackKind kind = AttackKind::PGD;
  Norm norm = Norm::Linf;
  // Radius of the threat model; required (NaN until set).
  double eps = std::numeric_limits<double>::quiet_NaN();
  // PGD steps (default 40) or APGD iterations N (default 100). Unused by FGSM and Square.
  std::optional<int> steps;
  // PGD step α (default 2.5·eps/steps); APGD initial step η0 (default 2·eps). Unused otherwise.
  std::optional<double> step_size;
  // PGD and APGD: further runs (new random start) on the points not yet fooled.
  int restarts = 1;
  // PGD only (APGD always starts randomly, FGSM never).
  bool random_start = true;
  L2Start l2_start = L2Start::UniformRadius;
  // PGD only: return the first iterate found misclassified instead of the last one.
  bool track_success = false;
  AttackLoss loss = AttackLoss::CE;
  // Square only.
  int n_queries = 5000;
  double p_init = 0.8;
  bool rescale_schedule = false;
  // Square only: image layout of one example, C×H×W row-major. Height and width 0
  // mean a single-channel square image (input_dim must then be a perfect square).
  int image_channels = 1;
  int image_height = 0;
  int image_width = 0;
  uint64_t seed = 0;
  // Examples per model call.
  int64_t batch = 256;
  // The input domain: clean inputs must lie in it and every point stays in it.
  Box box;
  // FGSM and PGD only: take the input gradients from this model (e.g. a closed-form
  // surrogate, nmode/surrogate.hpp) instead of the attacked one: a transfer attack.
  // Every success check, the verdict and the evaluation still use the attacked
  // model. Not owned; it must outlive the run and have the attacked model's
  // input_dim and num_classes. nullptr: the attacked model's own gradients.
  Classifier* gradient_model = nullptr;
  // Its name in describe(), e.g. "surrogate-steady"; empty: "gradient-model".
  std::string gradient_name;
  // Called after each batch with (examples done, examples in this run), e.g. for
  // a progress bar; may be empty. Runs on the calling thread.
  std::function<void(int64_t, int64_t)> progress;

  // Throws InvalidArgument naming the field, its value and the fix.
  void validate() const;
  int resolved_steps() const;         // steps or the kind's default
  double resolved_step_size() const;  // step_size or the kind's default
  // One line for reports: "pgd-ce linf eps=0.3 steps=40 step=0.01875 restarts=1 start=uniform seed=0",
  // ending in " gradients=<gradient_name>" when the gradients come from gradient_model.
  std::string describe() const;
};

// Per-example output of one attack run on n examples.
struct AttackResult {
  // (n, d) the proposed point. FGSM: the step; PGD: the last iterate of the last
  // restart run (with track_success, the first misclassified iterate); APGD: the
  // last misclassified iterate, or x itself; Square: the best point found.
  std::vector<float> x_adv;
  std::vector<float> x_best;      // (n, d) APGD only: the highest-loss point over all restarts; else empty
  std::vector<double> loss_best;  // (n) APGD only: the loss at x_best; else empty
  std::vector<uint8_t> fooled;    // (n) the attack's own verdict; evaluate_robustness re-checks it
  // (n) model evaluations of the example: FGSM 2 (gradient + check), PGD at most
  // steps + 1 per restart run, APGD N + 1 gradients per restart run, Square 1 + active iterations.
  // With AttackConfig::gradient_model only the attacked model's calls count: FGSM 1,
  // PGD 1 per restart run (steps + 1 with track_success, which judges every iterate).
  std::vector<int64_t> queries;
  // (n) the input gradient (gradient_model's, when set) at the first start was exactly zero
  std::vector<uint8_t> zero_grad_start;
  std::vector<uint8_t> numerical_failure;  // (n) a non-finite logit or gradient entry was met (zeroed, never used)

  int64_t count_fooled() const;
  int64_t count_zero_grad_starts() const;
  int64_t count_numerical_failures() const;
};

// Optional record of APGD's per-example state for the first restart (restart 0).
struct ApgdTrace {
  int n_iter = 0;
  std::vector<double> loss_best;  // (n, n_iter + 1): L_best after the start and after each iteration
  std::vector<double> eta;        // (n, n_iter + 1): step size η in force after the start and each iteration
};

// Optional record of Square's per-example best margin.
struct SquareTrace {
  int n_queries = 0;
  std::vector<double> margin_best;  // (n, n_queries + 1): m_best after the start and after each iteration
};

// Runs one attack on n examples. x: (n, model.input_dim()) in [0,1]; y: (n) in
// [0, num_classes). example_ids: (n) keys of the per-example random streams,
// nullptr for 0..n-1; pass global indices when attacking a subset so the result
// matches an attack on the whole set. Attacks every example it is given (the
// caller selects the clean-correct ones). Throws InvalidArgument for bad
// configs, shapes or inputs.
AttackResult run_attack(Classifier& model, const float* x, const int32_t* y, int64_t n,
                        const AttackConfig& config, const int64_t* example_ids = nullptr);

// The individual attacks (run_attack dispatches on config.kind). Same arguments.
AttackResult fgsm_attack(Classifier& model, const float* x, const int32_t* y, int64_t n,
                         const AttackConfig& config, const int64_t* example_ids = nullptr);
AttackResult pgd_attack(Classifier& model, const float* x, const int32_t* y, int64_t n,
                        const AttackConfig& config, const int64_t* example_ids = nullptr);
AttackResult apgd_attack(Classifier& model, const float* x, const int32_t* y, int64_t n,
                         const AttackConfig& config, const int64_t* example_ids = nullptr,
                         ApgdTrace* trace = nullptr);
AttackResult square_attack(Classifier& model, const float* x, const int32_t* y, int64_t n,
                           const AttackConfig& config, const int64_t* example_ids = nullptr,
                           SquareTrace* trace = nullptr);

// APGD checkpoints: the numbers of completed iterations after which the step size
// is reconsidered (N = 100 gives 22, 41, 57, 70, 80, 87, 93, 99). n_iter >= 1.
std::vector<int> apgd_checkpoints(int n_iter);

// Square: the fraction p and side s of the square at 0-based iteration
// `iteration`, for images channels×height×width (s = round(√(p·H·W)) clamped to
// [1, min(H, W)], round half to even).
double square_fraction(double p_init, int iteration, int n_queries, bool rescale_schedule);
int square_size(double p_init, int iteration, int n_queries, bool rescale_schedule, int channels,
                int height, int width);

// Checks points against the threat model (§1 step 4): every x_adv row finite, in
// the box ([0, 1] by default), and within eps of its x row (L∞: eps + 1e-6; L2: eps·(1 + 1e-5) + 1e-6,
// norm in double). Throws nmode::Error naming `source` and the first violating
// example (its entry of example_ids, when given). x, x_adv: (n, d).
void check_perturbation(const float* x, const float* x_adv, int64_t n, int64_t d, Norm norm, double eps,
                        const std::string& source, const int64_t* example_ids = nullptr, const Box& box = {});

// Result of the evaluation protocol (docs/attacks.md §1) over n examples.
struct RobustReport {
  int64_t n_total = 0;
  int64_t n_clean_correct = 0;
  int64_t n_robust = 0;
  double clean_accuracy = 0.0;   // n_clean_correct / n_total
  double robust_accuracy = 0.0;  // n_robust / n_total (clean mistakes count as failures)
  int64_t numerical_failures = 0;  // examples with a non-finite logit or gradient at any stage
  int64_t zero_grad_starts = 0;    // attacked examples whose first input gradient was exactly zero
  int64_t queries = 0;             // model evaluations spent by the attacks, all examples
  std::vector<std::string> attacks;        // describe() of each config, in order
  std::vector<int64_t> robust_after_stage; // robust count after each attack of the ensemble
  std::vector<uint8_t> clean_correct;      // (n)
  std::vector<uint8_t> robust;             // (n)
  std::vector<uint8_t> numerical_failure;  // (n)
  std::vector<int32_t> broken_by;          // (n) index of the attack that found a counterexample, -1 if none
  // (n, d): the counterexample for broken points, the last attack's output for
  // robust points, x itself for clean mistakes.
  std::vector<float> x_adv;
};

// Clean pass, attack of the clean-correct points, feasibility re-check of every
// returned point (a violation throws nmode::Error: it is a bug), re-evaluation.
// x: (n, model.input_dim()) in [0,1]; y: (n) in [0, num_classes).
RobustReport evaluate_robustness(Classifier& model, const float* x, const int32_t* y, int64_t n,
                                 const AttackConfig& config);

// AutoAttack-style ensemble: the attacks run in sequence, each on the points every
// previous one failed on; a point is robust only if it survives all of them.
RobustReport evaluate_ensemble(Classifier& model, const float* x, const int32_t* y, int64_t n,
                               const std::vector<AttackConfig>& configs);

}  // namespace nmode
