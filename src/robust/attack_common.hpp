// Machinery shared by the attack implementations: per-example random streams,
// argument checks, and the two model oracles that gather the active examples of
// a batch, call the Classifier on them only, and scatter the results back.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "nmode/attack.hpp"
#include "nmode/random.hpp"

// Parallel loop over the examples of a batch when the elementwise work (count
// entries) pays for waking the threads. Each example's arithmetic is sequential,
// so the result does not depend on the thread count.
#define NMODE_ATTACK_PRAGMA(x) _Pragma(#x)
#if defined(_OPENMP)
#define NMODE_ATTACK_PARALLEL_FOR(count) \
  NMODE_ATTACK_PRAGMA(omp parallel for schedule(static) if((count) >= nmode::attack_impl::kParallelMinWork))
#else
#define NMODE_ATTACK_PARALLEL_FOR(count)
#endif

namespace nmode::attack_impl {

constexpr int64_t kParallelMinWork = 16384;

// Stream identifiers, so that two attacks with the same seed draw independently.
enum StreamId : uint64_t { kStreamPgd = 1, kStreamApgd = 2, kStreamSquare = 3 };

// Global example id of local example i.
inline int64_t example_id(const int64_t* ids, int64_t i) { return ids ? ids[i] : i; }

// The random stream of one example: keyed by (seed, attack, global example
// index, restart), never by batch position, so results do not depend on batching.
inline SplitMix64 example_stream(uint64_t seed, StreamId attack, int64_t id, int restart) {
  uint64_t h = derive_seed(seed, attack);
  h = derive_seed(h, static_cast<uint64_t>(id));
  h = derive_seed(h, static_cast<uint64_t>(restart));
  return SplitMix64(h);
}

// Checks config (validate()), model dimensions and inputs: x in [0,1], y in range.
void check_attack_inputs(const Classifier& model, const float* x, const int32_t* y, int64_t n,
                         const AttackConfig& config);
// The same for a model of input_dim d and num_classes k.
void check_attack_inputs(int64_t d, int64_t k, const float* x, const int32_t* y, int64_t n,
                         const AttackConfig& config);

// An attack as a class: checks the inputs, offers the run to the model's device
// (Classifier::run_attack_on_device), else Run(model, x, y, n, config,
// example_ids, extra...).run().
template <class Run, class... Extra>
AttackResult check_and_run(Classifier& model, const float* x, const int32_t* y, int64_t n,
                           const AttackConfig& config, const int64_t* example_ids, Extra... extra) {
  check_attack_inputs(model, x, y, n, config);
  AttackResult on_device;
  // A trace (APGD, Square) is recorded by the portable implementation only.
  if ((... && (extra == nullptr)) && model.run_attack_on_device(x, y, n, config, example_ids, on_device))
    return on_device;
  return Run(model, x, y, n, config, example_ids, extra...).run();
}

// An AttackResult of n examples of dimension d with x_adv = x and zeroed flags.
AttackResult make_result(const float* x, int64_t n, int64_t d);

// Examples per batch: config.batch, or fewer when there are fewer examples.
inline int64_t batch_capacity(const AttackConfig& config, int64_t n) {
  return std::min<int64_t>(config.batch, std::max<int64_t>(n, 1));
}

// The one batch loop of the attacks: attack_batch(first, count) on consecutive
// batches of at most `capacity` examples, with progress reported after each.
template <class AttackBatch>
void for_each_batch(int64_t n, int64_t capacity, const AttackConfig& config, AttackBatch&& attack_batch) {
  for (int64_t first = 0; first < n; first += capacity) {
    const int64_t count = std::min(capacity, n - first);
    attack_batch(first, count);
    if (config.progress) config.progress(first + count, n);
  }
}

// The examples [0, count) of a batch that are not fooled yet.
inline std::vector<int64_t> not_fooled(const uint8_t* fooled, int64_t count) {
  std::vector<int64_t> active;
  for (int64_t j = 0; j < count; ++j)
    if (!fooled[j]) active.push_back(j);
  return active;
}

// Row j of from: (rows, d) copied to row j of to.
inline void copy_row(const float* from, int64_t j, int64_t d, float* to) {
  std::copy(from + j * d, from + (j + 1) * d, to + j * d);
}

// True when every entry of g: (d) is exactly zero.
inline bool is_zero(const float* g, int64_t d) {
  return std::all_of(g, g + d, [](float v) { return v == 0.0f; });
}

// What an attack run was given (the arguments of the attack functions).
struct AttackInputs {
  const float* x;  // (n, d)
  const int32_t* y;  // (n)
  int64_t n, d;
  const AttackConfig& config;
  const int64_t* example_ids;  // nullable: example i is then i
};

// What an attack kept as a class (APGD, Square) holds between its batches: the
// inputs, the result, and the batch in progress from b0_.
class AttackRun {
 protected:
  explicit AttackRun(const AttackInputs& in)
      : in_(in), capacity_(batch_capacity(in.config, in.n)), res_(make_result(in.x, in.n, in.d)) {}

  const float* xb() const { return in_.x + b0_ * in_.d; }
  const int32_t* yb() const { return in_.y + b0_; }
  float* advb() { return res_.x_adv.data() + b0_ * in_.d; }
  uint8_t* fooled() { return res_.fooled.data() + b0_; }
  uint8_t* nonfinite() { return res_.numerical_failure.data() + b0_; }

  // The starting states of the streams of batch rows rows[a] (example_stream), as
  // the GPU's kernels take them.
  template <class Row>
  std::vector<uint64_t> stream_states(StreamId attack, const std::vector<Row>& rows, int restart) const {
    std::vector<uint64_t> states(rows.size());
    for (size_t a = 0; a < rows.size(); ++a)
      states[a] =
          example_stream(in_.config.seed, attack, example_id(in_.example_ids, b0_ + int64_t(rows[a])), restart).state;
    return states;
  }

  // Calls batch(count) for each batch of the inputs, with b0_ at its first
  // example, then hands the result over.
  template <class Batch>
  AttackResult run_batches(Batch&& batch) {
    for_each_batch(in_.n, capacity_, in_.config, [&](int64_t first, int64_t count) {
      b0_ = first;
      batch(count);
    });
    return std::move(res_);
  }

  const AttackInputs in_;
  const int64_t capacity_;
  AttackResult res_;
  int64_t b0_ = 0;
};

// The Square Attack's image, channels c × height h × width w, from the config
// (a square image when height is 0), checked against the input dimension d.
void square_image_shape(const AttackConfig& config, int64_t d, int& c, int& h, int& w);

// Logits-only evaluation of the active examples (no gradient kept).
class LogitOracle {
 public:
  LogitOracle(Classifier& model, int64_t capacity);

  // For each j in active: margin[j] (may be null) and correct[j] at pts row j;
  // nonfinite[j] = 1 and margin NaN when a logit is not finite.
  void evaluate(const float* pts, const int32_t* y, const std::vector<int64_t>& active, double* margin,
                uint8_t* correct, uint8_t* nonfinite);

 private:
  Classifier& model_;
  int64_t d_, k_;
  std::vector<float> xs_, logits_;
  std::vector<double> zd_;
};

// Loss value and input gradient of the active examples of a batch, taken from
// the attacked model or, when gradient_model is given (AttackConfig::gradient_model),
// from that one, while correctness is still judged on the attacked model.
class GradientOracle {
 public:
  GradientOracle(Classifier& model, AttackLoss loss, int64_t capacity, Classifier* gradient_model = nullptr);

  // For each j in active: evaluates the gradient model at pts row j (pts: (nb, d))
  // and writes loss[j] and grad row j (grad: (nb, d)); with correct non-null also
  // correct[j], the attacked model's verdict (from the same call without a gradient
  // model, from one more logits-only call of the attacked model with one).
  // Non-finite logits or gradient entries are replaced by zero and set
  // nonfinite[j] = 1; the loss is then NaN. Rows not in active are left untouched.
  void evaluate(const float* pts, const int32_t* y, const std::vector<int64_t>& active, double* loss,
                float* grad, uint8_t* correct, uint8_t* nonfinite);

  // Whether evaluate (with correct wanted or not) calls the attacked model, i.e.
  // counts as a query of it (AttackResult::queries).
  bool queries_attacked_model(bool want_correct) const { return !judge_ || want_correct; }

 private:
  Classifier& model_;  // the gradients' source: the attacked model or the gradient model
  AttackLoss loss_;
  int64_t d_, k_;
  std::vector<float> xs_, logits_, dlogits_, dx_;
  std::vector<double> zd_, dzd_;
  std::unique_ptr<LogitOracle> judge_;  // the attacked model, when the gradients come from another
};

}  // namespace nmode::attack_impl
