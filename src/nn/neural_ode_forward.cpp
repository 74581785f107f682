// The neural-ODE layer's forward: Dormand-Prince 5(4) on a batch of coupled
// systems, each sample with its own step size (or one shared by the batch). Every
// round, each active sample makes one attempt; the stages of all of them are one
// GEMM each. Finished samples leave the compacted working set.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "nmode/detail/dopri5.hpp"
#include "nmode/gemm.hpp"
#include "nn/neural_ode_steps.hpp"

namespace nmode {
namespace {

using C = detail::Dopri5<float>;

// Where a sample stands between rounds.
enum class Phase : uint8_t { Running, Done, MaxSteps, NonFinite, StepTooSmall };

// A step below this fraction of t_end cannot move t (float states, double times):
// the sample counts as failed rather than looping until max_steps.
constexpr double kSmallestStep = 1e-12;

class Integrator {
 public:
  Integrator(const NeuralOdeRhs& f, const NeuralOdeOptions& o, int64_t n)
      : f_(f), o_(o), d_(f.d), k_(f.kernels), m_(n) {
    const size_t rows = static_cast<size_t>(n), cells = rows * static_cast<size_t>(d_);
    y_.resize(cells);
    y_new_.resize(cells);
    z_.resize(cells);
    e_.resize(cells);
    for (auto& k : stage_) k.resize(cells);
    t_.assign(rows, 0.0);
    h_.resize(rows);
    hf_.resize(rows);
    ones_.assign(rows, 1.0f);
    sq_.resize(rows);
    attempts_.assign(rows, 0);
    accepted_.assign(rows, 0);
    rejected_last_.assign(rows, 0);
    phase_.assign(rows, Phase::Running);
    id_.resize(rows);
    for (int64_t r = 0; r < n; ++r) id_[static_cast<size_t>(r)] = r;
  }

  SolveStats run(const float* x, float* out, NeuralOdeTape* tape) {
    SolveStats stats;
    stats.elements = m_;
    std::memcpy(y_.data(), x, sizeof(float) * y_.size());
    mark_non_finite_inputs();
    f_(y_.data(), m_, stage_[0].data());  // k1 = f(y0)
    initial_steps();
    while (m_ > 0) {
      attempt();
      decide(tape, stats);
      retire(out, stats);
    }
    return stats;
  }

 private:
  float* k(int i) { return stage_[static_cast<size_t>(i)].data(); }

  // stage_[into] = f(y + h * sum_j coef[j] * stage_[j]) for j < terms.
  void stage(int into, const float* coef, int terms) {
    const float* ks[kMaxStageTerms];
    for (int j = 0; j < terms; ++j) ks[j] = k(j);
    combine_rows(y_.data(), ks, coef, terms, hf_.data(), z_.data());
    f_(z_.data(), m_, k(into));
  }

  void combine_rows(const float* y, const float* const* ks, const float* coef, int terms, const float* h, float* z) {
    for_row_chunks(m_, d_, [&](int64_t r0, int64_t r1) {
      const float* shifted[kMaxStageTerms];
      for (int j = 0; j < terms; ++j) shifted[j] = ks[j] + r0 * d_;
      k_->combine(y + r0 * d_, shifted, coef, terms, h + r0, r1 - r0, d_, z + r0 * d_);
    });
  }

  void error_squares(const float* e, const float* y, const float* y_new) {
    for_row_chunks(m_, d_, [&](int64_t r0, int64_t r1) {
      k_->scaled_error_squares(e + r0 * d_, y + r0 * d_, y_new + r0 * d_, static_cast<float>(o_.rtol),
                               static_cast<float>(o_.atol), r1 - r0, d_, sq_.data() + r0);
    });
  }

  // The RMS over each sample's components (or over the whole batch) of sq_.
  void rms_norms(std::vector<double>& out) {
    out.resize(static_cast<size_t>(m_));
    if (o_.steps == StepControl::BatchShared) {
      // Over the running samples only: one failed sample must not stop the rest.
      double total = 0.0;
      int64_t running = 0;
      for (int64_t r = 0; r < m_; ++r)
        if (phase_[static_cast<size_t>(r)] == Phase::Running) {
          total += sq_[static_cast<size_t>(r)];
          ++running;
        }
      std::fill(out.begin(), out.end(), std::sqrt(total / double(std::max<int64_t>(running, 1) * d_)));
    } else {
      for (int64_t r = 0; r < m_; ++r) out[static_cast<size_t>(r)] = std::sqrt(sq_[static_cast<size_t>(r)] / double(d_));
    }
  }

  void mark_non_finite_inputs() {
    for (int64_t r = 0; r < m_; ++r)
      for (int64_t i = 0; i < d_; ++i)
        if (!std::isfinite(y_[static_cast<size_t>(r * d_ + i)])) phase_[static_cast<size_t>(r)] = Phase::NonFinite;
  }

  // Hairer, Norsett & Wanner's initial step (II.4), with RMS norms as the step
  // control uses: d0 = ||y0/sc||, d1 = ||f0/sc||, one Euler step of h0, d2 = ||f1 - f0||/(sc h0).
  void initial_steps() {
    std::vector<double> d0, d1, d2;
    error_squares(y_.data(), y_.data(), y_.data());
    rms_norms(d0);
    error_squares(k(0), y_.data(), y_.data());
    rms_norms(d1);
    for (int64_t r = 0; r < m_; ++r) {
      const size_t i = static_cast<size_t>(r);
      const double h0 = (d0[i] < 1e-5 || d1[i] < 1e-5) ? 1e-6 : 0.01 * d0[i] / d1[i];
      h_[i] = h0;
      hf_[i] = static_cast<float>(h0);
    }
    const float one = 1.0f;
    stage(1, &one, 1);  // stage_[1] = f(y0 + h0 f0)
    const float* diff[2] = {k(1), k(0)};
    const float coef[2] = {1.0f, -1.0f};
    for_row_chunks(m_, d_, [&](int64_t r0, int64_t r1) {
      const float* shifted[2] = {diff[0] + r0 * d_, diff[1] + r0 * d_};
      k_->error_estimate(shifted, coef, 2, ones_.data() + r0, r1 - r0, d_, e_.data() + r0 * d_);
    });
    error_squares(e_.data(), y_.data(), y_.data());
    rms_norms(d2);
    for (int64_t r = 0; r < m_; ++r) {
      const size_t i = static_cast<size_t>(r);
      const double h0 = h_[i], dmax = std::max(d1[i], d2[i] / h0);
      const double h1 = dmax <= 1e-15 ? std::max(1e-6, h0 * 1e-3) : std::pow(100.0 * dmax, -0.2);
      h_[i] = std::min({100.0 * h0, h1, o_.t_end});
    }
  }

  // One DP5(4) attempt of every active sample: y_new_, stage_[6] = f(y_new), sq_.
  void attempt() {
    for (int64_t r = 0; r < m_; ++r) hf_[static_cast<size_t>(r)] = static_cast<float>(h_[static_cast<size_t>(r)]);
    const float a2[] = {C::a21}, a3[] = {C::a31, C::a32}, a4[] = {C::a41, C::a42, C::a43},
                a5[] = {C::a51, C::a52, C::a53, C::a54}, a6[] = {C::a61, C::a62, C::a63, C::a64, C::a65};
    stage(1, a2, 1);
    stage(2, a3, 2);
    stage(3, a4, 3);
    stage(4, a5, 4);
    stage(5, a6, 5);
    const float b[] = {C::b1, 0.0f, C::b3, C::b4, C::b5, C::b6};
    const float* ks[7] = {k(0), k(1), k(2), k(3), k(4), k(5), k(6)};
    combine_rows(y_.data(), ks, b, 6, hf_.data(), y_new_.data());
    f_(y_new_.data(), m_, k(6));
    const float e[] = {C::e1, 0.0f, C::e3, C::e4, C::e5, C::e6, C::e7};
    for_row_chunks(m_, d_, [&](int64_t r0, int64_t r1) {
      const float* shifted[7];
      for (int j = 0; j < 7; ++j) shifted[j] = ks[j] + r0 * d_;
      k_->error_estimate(shifted, e, 7, hf_.data() + r0, r1 - r0, d_, e_.data() + r0 * d_);
    });
    error_squares(e_.data(), y_.data(), y_new_.data());
  }

  // Accepts or rejects each sample's attempt and sets its next step.
  void decide(NeuralOdeTape* tape, SolveStats& stats) {
    std::vector<double>& err = norms_;
    rms_norms(err);
    for (int64_t r = 0; r < m_; ++r) {
      const size_t i = static_cast<size_t>(r);
      if (phase_[i] != Phase::Running) continue;
      ++attempts_[i];
      const bool accept = err[i] <= 1.0;  // false for NaN
      if (accept) {
        if (tape) {
          tape->states.insert(tape->states.end(), y_.begin() + r * d_, y_.begin() + (r + 1) * d_);
          tape->h.push_back(hf_[i]);
          tape->sample.push_back(id_[i]);
        }
        std::copy(y_new_.begin() + r * d_, y_new_.begin() + (r + 1) * d_, y_.begin() + r * d_);
        std::copy(stage_[6].begin() + r * d_, stage_[6].begin() + (r + 1) * d_, stage_[0].begin() + r * d_);
        ++accepted_[i];
        // The last step was sized to land on t_end exactly.
        t_[i] = (h_[i] >= o_.t_end - t_[i]) ? o_.t_end : t_[i] + h_[i];
      } else {
        ++stats.rejected_steps;
      }
      const double factor = detail::step_factor<double>(err[i], rejected_last_[i] != 0);
      rejected_last_[i] = accept ? 0 : 1;
      // Judged before the clamp to the time left, which may be tiny by rounding.
      const double proposed = h_[i] * factor;
      h_[i] = std::min(proposed, o_.t_end - t_[i]);
      if (t_[i] >= o_.t_end) phase_[i] = Phase::Done;
      else if (attempts_[i] >= o_.max_steps) phase_[i] = Phase::MaxSteps;
      else if (proposed < kSmallestStep * o_.t_end) phase_[i] = Phase::StepTooSmall;
    }
  }

  // Samples no longer running write their state to `out` and leave; the rest
  // move up so the working set stays contiguous.
  void retire(float* out, SolveStats& stats) {
    int64_t w = 0;
    for (int64_t r = 0; r < m_; ++r) {
      const size_t i = static_cast<size_t>(r);
      if (phase_[i] != Phase::Running) {
        std::copy(y_.begin() + r * d_, y_.begin() + (r + 1) * d_, out + id_[i] * d_);
        stats.accepted_steps += accepted_[i];
        stats.max_accepted = std::max(stats.max_accepted, accepted_[i]);
        stats.max_attempts = std::max(stats.max_attempts, attempts_[i]);
        stats.converged += phase_[i] == Phase::Done;
        stats.hit_max_steps += phase_[i] == Phase::MaxSteps;
        stats.non_finite += phase_[i] == Phase::NonFinite;
        stats.step_too_small += phase_[i] == Phase::StepTooSmall;
        continue;
      }
      if (w != r) move_row(r, w);
      ++w;
    }
    m_ = w;
  }

  void move_row(int64_t from, int64_t to) {
    const size_t a = static_cast<size_t>(from), b = static_cast<size_t>(to);
    std::copy(y_.begin() + from * d_, y_.begin() + (from + 1) * d_, y_.begin() + to * d_);
    std::copy(stage_[0].begin() + from * d_, stage_[0].begin() + (from + 1) * d_, stage_[0].begin() + to * d_);
    t_[b] = t_[a];
    h_[b] = h_[a];
    attempts_[b] = attempts_[a];
    accepted_[b] = accepted_[a];
    rejected_last_[b] = rejected_last_[a];
    phase_[b] = phase_[a];
    id_[b] = id_[a];
  }

  const NeuralOdeRhs& f_;
  const NeuralOdeOptions& o_;
  const int64_t d_;
  const NeuralOdeKernels* k_;
  int64_t m_;  // samples still running, rows [0, m_) of every buffer
  // (n, d): state, attempt's solution, stage input, error estimate, stages k1..k7.
  std::vector<float> y_, y_new_, z_, e_;
  std::vector<float> stage_[7];
  std::vector<double> t_, h_, sq_, norms_;
  std::vector<float> hf_, ones_;
  std::vector<int64_t> attempts_, accepted_, id_;
  std::vector<uint8_t> rejected_last_;
  std::vector<Phase> phase_;
};

}  // namespace

void gemm_rows(Trans w_trans, int64_t m, int64_t d, const float* a, const float* w, float beta, float* c) {
  const int64_t rows = sgemm_row_independent_rows(d, d);
  if (m >= rows) {
    sgemm(Trans::No, w_trans, m, d, d, 1.0f, a, d, w, d, beta, c, d);
    return;
  }
  thread_local std::vector<float> padded_a, padded_c;
  padded_a.assign(static_cast<size_t>(rows * d), 0.0f);
  padded_c.assign(static_cast<size_t>(rows * d), 0.0f);
  std::copy(a, a + m * d, padded_a.begin());
  std::copy(c, c + m * d, padded_c.begin());
  sgemm(Trans::No, w_trans, rows, d, d, 1.0f, padded_a.data(), d, w, d, beta, padded_c.data(), d);
  std::copy(padded_c.begin(), padded_c.begin() + m * d, c);
}

void NeuralOdeRhs::operator()(const float* z, int64_t m, float* k) const {
  for_row_chunks(m, d, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) std::copy(bias, bias + d, k + r * d);
  });
  gemm_rows(Trans::Yes, m, d, z, weight, 1.0f, k);
  for_row_chunks(m, d, [&](int64_t r0, int64_t r1) { kernels->tanh_in_place(k + r0 * d, r1 - r0, d); });
}

SolveStats integrate_neural_ode(const NeuralOdeRhs& f, const NeuralOdeOptions& options, const float* x, int64_t n,
                                float* y, NeuralOdeTape* tape) {
  if (tape) tape->clear();
  if (n == 0) return SolveStats{};
  Integrator integrator(f, options, n);
  return integrator.run(x, y, tape);
}

}  // namespace nmode
