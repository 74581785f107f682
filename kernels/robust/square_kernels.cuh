// The kernels of the GPU's Square Attack (cuda_square.cu), on a batch held whole
// on the device and addressed through a list of active rows (rows, count
// entries), as attack_kernels.cuh. Each holds one part of the CPU's per-example
// Square Attack (src/robust/attack_square.cpp) with its per-element arithmetic
// (detail/attack_step.hpp) and its random streams walked in the same order.
#pragma once

#include <cstdint>

namespace nmode::cuda_attack_kernels {

struct SquareParams {
  int channels, height, width;  // the image: d = channels · height · width
  float eps, lo, hi;            // the box
};

// best row j = x row j with one sign per (channel, column) for every row j < rows_in_batch:
// draw channel · width + column of streams[j] (next_below(2), which never rejects).
void square_stripes(int64_t rows_in_batch, const SquareParams& p, const float* x, const uint64_t* streams,
                    float* best);

// The margins at the compact logits (count, k): margin[rows[a]] (NaN and nonfinite
// set where a logit is not finite) and correct[rows[a]], as LogitOracle::evaluate.
void square_margins(const int32_t* rows, int64_t count, int64_t k, const float* logits, const int32_t* y,
                    double* scratch, double* margin, uint8_t* correct, uint8_t* nonfinite);

// Compact proposal row a (proposal and model_input, (count, d)): best row rows[a]
// with one random side × side square at x ± eps per channel, drawn from and
// advancing streams[rows[a]] as the CPU draws them (row, column, then the signs).
// signs: (capacity, channels) scratch.
void square_propose(const int32_t* rows, int64_t count, const SquareParams& p, int side, const float* x,
                    const float* best, uint64_t* streams, float* signs, float* proposal, float* model_input);

// Keeps compact proposal row a as best row rows[a] where its margin is smaller or
// not positive, with its margin and verdict.
void square_accept(const int32_t* rows, int64_t count, int64_t d, const float* proposal, const double* margin_new,
                   const uint8_t* correct_new, double* margin_best, uint8_t* correct_best, float* best);

}  // namespace nmode::cuda_attack_kernels
