// The kernels of the GPU's FGSM and PGD (cuda_attack.cu). Rows are addressed
// through a list of active rows (`rows`, count entries) of a batch held whole on
// the device, as the CPU attacks address their active examples; the model's
// input and output are compact (row a of them is batch row rows[a]). Flags are
// one byte per batch row. All launches go to the default stream.
#pragma once

#include <cstdint>

namespace nmode::cuda_attack_kernels {

// The model input: to[a] = from[rows[a]], rows of d floats.
void gather_rows(const int32_t* rows, int64_t count, int64_t d, const float* from, float* to);
// to[rows[a]] = from[rows[a]], rows of d floats (an iterate kept as the answer).
void copy_listed_rows(const int32_t* rows, int64_t count, int64_t d, const float* from, float* to);

enum class StartKind { None, Linf, L2 };
struct StartParams {
  StartKind kind;
  double eps;
  bool sphere, uniform_volume;  // L2Start
  float lo, hi;                 // the box
};
// cur[rows[a]] = PGD's start from x[rows[a]] with the stream streams[a].
void random_start(const int32_t* rows, int64_t count, int64_t d, const float* x, const uint64_t* streams,
                  const StartParams& p, float* cur);

// Loss gradients at the compact logits (count, k): dlogits row a from the CE or
// DLR loss of logits row a with label y[rows[a]], zero where a logit is not finite
// (nonfinite set); correct[rows[a]] the verdict (detail::row_is_correct); loss
// (nullable) [rows[a]] the loss, NaN where a logit is not finite.
void loss_gradients(const int32_t* rows, int64_t count, int64_t k, const float* logits, const int32_t* y,
                    bool dlr, double* scratch, float* dlogits, uint8_t* correct, uint8_t* nonfinite,
                    double* loss = nullptr);

enum class StepKind { Fgsm, Linf, L2 };
struct StepParams {
  StepKind kind;
  float alpha, eps;
  double eps_l2;
  float lo, hi;
  bool first;          // the first gradient of the first start: records zero_grad
  bool track_success;  // a misclassified iterate is kept (into adv, fooled set) and not stepped
};
// For each listed row: non-finite entries of its compact gradient g (count, d)
// are zeroed (nonfinite set), then the step moves cur[rows[a]] around x[rows[a]].
void step(const int32_t* rows, int64_t count, int64_t d, const float* x, float* g, const StepParams& p,
          const uint8_t* correct, float* cur, float* adv, uint8_t* fooled, uint8_t* nonfinite, uint8_t* zero_grad);

// The final check at the compact logits (count, k): nonfinite where a logit is
// not finite, fooled where the verdict is wrong.
void final_verdicts(const int32_t* rows, int64_t count, int64_t k, const float* logits, const int32_t* y,
                    uint8_t* fooled, uint8_t* nonfinite);

}  // namespace nmode::cuda_attack_kernels
