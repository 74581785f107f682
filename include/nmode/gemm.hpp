// Single-precision matrix multiply on the CPU: C = alpha * op(A) * op(B) + beta * C,
// row-major, with op(X) = X or X^T. A hand-written blocked kernel (packed panels,
// cache blocking, a micro-kernel per SIMD target chosen at run time, OpenMP over
// tiles of C).
#pragma once

#include <cstdint>

namespace nmode {

enum class Trans { No, Yes };

// op(A): (M, K), op(B): (K, N), C: (M, N). lda/ldb/ldc are the row strides of
// the matrices as stored (before op). beta == 0 ignores C's prior contents
// (NaN in C does not propagate). M, N or K may be 0. Runs the kernels of
// active_simd_target(), so it throws InvalidArgument for an invalid NMODE_SIMD
// as well as for invalid arguments.
void sgemm(Trans trans_a, Trans trans_b, int64_t M, int64_t N, int64_t K, float alpha,
           const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
           int64_t ldc);

// The smallest M from which every row of C is computed as it would be in any
// other M (bitwise, for the same transposes, N, K and SIMD target): tiny products
// take a direct path that sums in another order. Callers that need a row's result
// to be independent of its batch (per-sample solvers) pad M up to this.
int64_t sgemm_row_independent_rows(int64_t N, int64_t K);

// The micro-kernel of the active SIMD target (nmode/simd.hpp), e.g.
// "avx512-12x32 (24x16 for N <= 16)": the target's name, then the register tile
// as rows x columns of C, so benchmarks can report what they measured. Throws
// InvalidArgument as active_simd_target() does when NMODE_SIMD is invalid.
const char* sgemm_kernel_name();

}  // namespace nmode
