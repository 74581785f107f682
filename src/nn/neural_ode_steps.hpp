// The neural-ODE layer's two halves (include/nmode/neural_ode.hpp): the batched
// adaptive DP5(4) forward, which can record a tape of accepted steps, and the
// backward through that tape. Internal to src/nn/.
#pragma once

#include <cstdint>
#include <vector>

#include "nmode/gemm.hpp"
#include "nmode/neural_ode.hpp"
#include "nmode/ode.hpp"
#include "nn/neural_ode_kernels.hpp"

namespace nmode {

// Samples integrated together by one thread (per-sample steps; see
// NeuralOde::forward_impl): large enough for efficient GEMMs, small enough to
// share a batch of 256 among the threads.
constexpr int64_t kSamplesPerGroup = 32;

// Rows per parallel chunk of the elementwise kernels; rows are independent, so
// the chunking changes no result.
constexpr int64_t kRowsPerChunk = 16;

// Runs fn(first_row, end_row) over [0, m) in chunks, in parallel when the work is
// large enough to pay for a parallel region. The threshold is high: a step runs
// dozens of these passes of a few tens of microseconds each, and every parallel
// region waits for its whole team, which costs a scheduler time slice whenever
// another process holds a core.
template <class Fn>
void for_row_chunks(int64_t m, int64_t d, const Fn& fn) {
  const int64_t chunks = (m + kRowsPerChunk - 1) / kRowsPerChunk;
#pragma omp parallel for schedule(static) if (m * d >= (int64_t(1) << 18))
  for (int64_t c = 0; c < chunks; ++c) fn(c * kRowsPerChunk, std::min(m, (c + 1) * kRowsPerChunk));
}

// c: (m, d) = a: (m, d) times W^T (Trans::Yes) or W (Trans::No), W: (d, d), plus
// beta * c; each row's result is independent of m (tiny m is padded with zero
// rows up to sgemm_row_independent_rows).
void gemm_rows(Trans w_trans, int64_t m, int64_t d, const float* a, const float* w, float beta, float* c);

// f(z) = tanh(z W^T + b) for m rows at once: one GEMM, so a row's result does not
// depend on the other rows (the GEMM sums every output in the same order).
struct NeuralOdeRhs {
  const float* weight;  // (d, d)
  const float* bias;    // (d)
  int64_t d;
  const NeuralOdeKernels* kernels;

  void operator()(const float* z, int64_t m, float* k) const;  // z, k: (m, d)
};

// x: (n, d) -> y: (n, d) = h(t_end); records the tape when `tape` is non-null.
// Failed samples (counted in the result) leave their last state in y.
SolveStats integrate_neural_ode(const NeuralOdeRhs& f, const NeuralOdeOptions& options, const float* x, int64_t n,
                                float* y, NeuralOdeTape* tape);

// adjoint: (n, d), dL/dy on entry and dL/dx on return, through the tape's frozen
// steps; with weight_grad/bias_grad non-null, dL/dW and dL/db accumulate into them.
void backprop_neural_ode(const NeuralOdeRhs& f, const NeuralOdeTape& tape, int64_t n, float* adjoint,
                         float* weight_grad, float* bias_grad);

}  // namespace nmode
