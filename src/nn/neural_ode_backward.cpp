// The neural-ODE layer's backward: reverse-mode through the recorded accepted
// steps, the step sizes frozen (the gradient of the discrete map the forward
// computed). Round r takes every sample's r-th step from the end, recomputes its
// stages from the step's start state, and runs the step's reverse; each stage's
// products are GEMMs over all samples of the round.
//
// One step: z_i = y + h sum_{j<i} a_ij k_j, k_i = tanh(W z_i + b), y' = y + h sum_i b_i k_i.
// With ȳ' given: k̄_i = h b_i ȳ' + h sum_{l>i} a_li z̄_l, taken for i = 6..1;
// u_i = k̄_i (1 - k_i^2), z̄_i = u_i W, W̄ += u_i^T z_i, b̄ += sum u_i; ȳ = ȳ' + sum_i z̄_i.
#include <algorithm>
#include <vector>

#include "nmode/detail/dopri5.hpp"
#include "nmode/gemm.hpp"
#include "nn/column_sums.hpp"
#include "nn/neural_ode_steps.hpp"

namespace nmode {
namespace {

using C = detail::Dopri5<float>;
constexpr int kStages = 6;  // DP5's solution uses k1..k6 (b7 = 0)

// a_ij of the solution's stages, row i (0-based) listing j < i.
const float kA[kStages][kStages] = {{0, 0, 0, 0, 0, 0},
                                    {C::a21, 0, 0, 0, 0, 0},
                                    {C::a31, C::a32, 0, 0, 0, 0},
                                    {C::a41, C::a42, C::a43, 0, 0, 0},
                                    {C::a51, C::a52, C::a53, C::a54, 0, 0},
                                    {C::a61, C::a62, C::a63, C::a64, C::a65, 0}};
const float kB[kStages] = {C::b1, 0.0f, C::b3, C::b4, C::b5, C::b6};

}  // namespace

void backprop_neural_ode(const NeuralOdeRhs& f, const NeuralOdeTape& tape, int64_t n, float* adjoint,
                         float* weight_grad, float* bias_grad) {
  const int64_t d = f.d, steps = static_cast<int64_t>(tape.h.size());
  const NeuralOdeKernels& k = *f.kernels;
  // Each sample's steps, in time order: a counting sort of the tape by sample.
  std::vector<int64_t> count(static_cast<size_t>(n), 0), first(static_cast<size_t>(n) + 1, 0);
  for (int64_t s : tape.sample) ++count[static_cast<size_t>(s)];
  for (int64_t s = 0; s < n; ++s) first[static_cast<size_t>(s) + 1] = first[static_cast<size_t>(s)] + count[static_cast<size_t>(s)];
  std::vector<int64_t> order(static_cast<size_t>(steps)), fill(first.begin(), first.end() - 1);
  for (int64_t j = 0; j < steps; ++j) order[static_cast<size_t>(fill[static_cast<size_t>(tape.sample[static_cast<size_t>(j)])]++)] = j;
  const int64_t rounds = n ? *std::max_element(count.begin(), count.end()) : 0;

  const size_t cells = static_cast<size_t>(n * d);
  std::vector<float> y(cells), a(cells), zbar(cells), u(cells), h(static_cast<size_t>(n)), ones(static_cast<size_t>(n), 1.0f);
  std::vector<float> z[kStages], ks[kStages], kbar[kStages];
  for (int i = 0; i < kStages; ++i) {
    z[i].resize(cells);
    ks[i].resize(cells);
    kbar[i].resize(cells);
  }
  std::vector<int64_t> rows;  // the samples of this round, ascending
  std::vector<double> column_acc;
  for (int64_t r = 0; r < rounds; ++r) {
    rows.clear();
    for (int64_t s = 0; s < n; ++s)
      if (count[static_cast<size_t>(s)] > r) rows.push_back(s);
    const int64_t m = static_cast<int64_t>(rows.size());
    for (int64_t q = 0; q < m; ++q) {  // gather: the step's start state, size and ȳ'
      const int64_t s = rows[static_cast<size_t>(q)];
      const int64_t j = order[static_cast<size_t>(first[static_cast<size_t>(s)] + count[static_cast<size_t>(s)] - 1 - r)];
      std::copy(tape.states.begin() + j * d, tape.states.begin() + (j + 1) * d, y.begin() + q * d);
      h[static_cast<size_t>(q)] = tape.h[static_cast<size_t>(j)];
      std::copy(adjoint + s * d, adjoint + (s + 1) * d, a.begin() + q * d);
    }
    // Recompute the stages exactly as the forward did (same rows, same GEMM order per row).
    for (int i = 0; i < kStages; ++i) {
      if (i == 0) {
        std::copy(y.begin(), y.begin() + m * d, z[0].begin());
      } else {
        const float* prev[kMaxStageTerms];
        for (int j = 0; j < i; ++j) prev[j] = ks[j].data();
        for_row_chunks(m, d, [&](int64_t r0, int64_t r1) {
          const float* shifted[kMaxStageTerms];
          for (int j = 0; j < i; ++j) shifted[j] = prev[j] + r0 * d;
          k.combine(y.data() + r0 * d, shifted, kA[i], i, h.data() + r0, r1 - r0, d, z[i].data() + r0 * d);
        });
      }
      f(z[i].data(), m, ks[i].data());
    }
    // k̄_i = h b_i ȳ'
    for (int i = 0; i < kStages; ++i) {
      const float* src[1] = {a.data()};
      for_row_chunks(m, d, [&](int64_t r0, int64_t r1) {
        const float* shifted[1] = {src[0] + r0 * d};
        k.error_estimate(shifted, &kB[i], 1, h.data() + r0, r1 - r0, d, kbar[i].data() + r0 * d);
      });
    }
    for (int i = kStages - 1; i >= 0; --i) {
      for_row_chunks(m, d, [&](int64_t r0, int64_t r1) {
        k.tanh_backward(kbar[i].data() + r0 * d, ks[i].data() + r0 * d, r1 - r0, d, u.data() + r0 * d);
      });
      if (weight_grad) {
        sgemm(Trans::Yes, Trans::No, d, d, m, 1.0f, u.data(), d, z[i].data(), d, 1.0f, weight_grad, d);
        add_column_sums(u.data(), m, d, column_acc, bias_grad);
      }
      gemm_rows(Trans::No, m, d, u.data(), f.weight, 0.0f, zbar.data());
      // ȳ += z̄_i and k̄_j += h a_ij z̄_i for j < i.
      for_row_chunks(m, d, [&](int64_t r0, int64_t r1) {
        const float one = 1.0f;
        const float* zb[1] = {zbar.data() + r0 * d};
        k.combine(a.data() + r0 * d, zb, &one, 1, ones.data() + r0, r1 - r0, d, a.data() + r0 * d);
        for (int j = 0; j < i; ++j)
          if (kA[i][j] != 0.0f)
            k.combine(kbar[j].data() + r0 * d, zb, &kA[i][j], 1, h.data() + r0, r1 - r0, d, kbar[j].data() + r0 * d);
      });
    }
    for (int64_t q = 0; q < m; ++q) {  // scatter ȳ
      const int64_t s = rows[static_cast<size_t>(q)];
      std::copy(a.begin() + q * d, a.begin() + (q + 1) * d, adjoint + s * d);
    }
  }
}

}  // namespace nmode
