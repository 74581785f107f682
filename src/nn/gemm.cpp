// Blocked SGEMM in the GotoBLAS/BLIS style: packed A and B panels (packing absorbs
// the transposes), one register-blocked micro-kernel for every tile of C, and an
// unpacked dot-product path for X * W^T with few columns. OpenMP splits tiles of C,
// never K, so results are bitwise independent of the thread count.
//
// Highway compiles the kernels and drivers once per SIMD target (foreach_target.h
// includes this file again for each); sgemm() runs the ones of the active target
// (nmode/simd.hpp), so one build is fast on AVX-512, AVX2 and SSE4 machines alike.
#include "nmode/gemm.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#ifdef _OPENMP
#include <omp.h>
#endif

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "nn/gemm.cpp"  // src/ is on the nmode target's include path
#include <hwy/foreach_target.h>  // must come before highway.h
#include <hwy/highway.h>

#if HWY_ARCH_X86
// The AVX transpose in the packing; GCC declares every intrinsic whatever the
// compile flags, and the AVX2 and AVX-512 passes enable them.
#include <immintrin.h>
#endif

#include "core/numbers.hpp"
#include "nn/gemm_buffers.hpp"
#include "nmode/error.hpp"
#include "nmode/simd.hpp"

HWY_BEFORE_NAMESPACE();
namespace nmode {
namespace HWY_NAMESPACE {

// Kernels only for the targets sgemm() dispatches to: x86's and the portable
// baseline (EMU128, or HWY_SCALAR where Highway deems EMU128 broken). Other
// architectures' SIMD targets (NEON, SVE) would need tiles of their own, and
// SVE's sizeless vectors cannot form the accumulator arrays below.
#if HWY_ARCH_X86 || HWY_TARGET == HWY_EMU128 || HWY_TARGET == HWY_SCALAR

// Internal linkage: other sources may compile per-target namespaces of their own
// with helpers of the same names.
namespace {

using gemm_detail::t_pack_a;
using gemm_detail::t_pack_b;
using gemm_detail::t_pack_b_task;
using gemm_detail::WorkCounter;

// ---- One SIMD vector of floats, for the target of this pass ----
// The kernels are written once against these few operations. load_n/store_n
// touch only the first n lanes, which is how edge tiles stay inside C.
#if HWY_TARGET == HWY_EMU128 || HWY_TARGET == HWY_SCALAR
// Portable: a 4-lane struct the compiler may map onto whatever SIMD the baseline
// has. Plain C++ rather than Highway's ops, because Highway 1.0.3 with GCC before
// 12.3 replaces its 4-lane EMU128 by the 1-lane HWY_SCALAR; this way the
// portable kernel is the same whichever of the two the build has.
constexpr int kLanes = 4;
struct Vec {
  float v[4];
};
inline Vec vzero() { return {{0.0f, 0.0f, 0.0f, 0.0f}}; }
inline Vec vset1(float x) { return {{x, x, x, x}}; }
inline Vec vload(const float* p) { return {{p[0], p[1], p[2], p[3]}}; }
inline Vec vloadu(const float* p) { return vload(p); }
inline float vsum(Vec v) { return (v.v[0] + v.v[1]) + (v.v[2] + v.v[3]); }
inline Vec vfma(Vec a, Vec b, Vec c) {
  for (int i = 0; i < 4; ++i) c.v[i] += a.v[i] * b.v[i];
  return c;
}
inline Vec vmul(Vec a, Vec b) {
  for (int i = 0; i < 4; ++i) a.v[i] *= b.v[i];
  return a;
}
inline Vec vadd(Vec a, Vec b) {
  for (int i = 0; i < 4; ++i) a.v[i] += b.v[i];
  return a;
}
inline Vec vload_n(const float* p, int n) {
  Vec r = vzero();
  for (int i = 0; i < std::min(n, 4); ++i) r.v[i] = p[i];
  return r;
}
inline void vstore_n(float* p, Vec v, int n) {
  for (int i = 0; i < std::min(n, 4); ++i) p[i] = v.v[i];
}
#else
namespace hn = hwy::HWY_NAMESPACE;
using D = hn::ScalableTag<float>;
using Vec = hn::Vec<D>;
// x86 vectors have a fixed width, so MaxLanes is the exact count.
constexpr int kLanes = static_cast<int>(hn::MaxLanes(D()));

HWY_INLINE Vec vzero() { return hn::Zero(D()); }
HWY_INLINE Vec vset1(float x) { return hn::Set(D(), x); }
HWY_INLINE Vec vload(const float* p) { return hn::Load(D(), p); }  // p: vector-aligned
HWY_INLINE Vec vloadu(const float* p) { return hn::LoadU(D(), p); }
HWY_INLINE float vsum(Vec v) { return hn::GetLane(hn::SumOfLanes(D(), v)); }
HWY_INLINE Vec vfma(Vec a, Vec b, Vec c) { return hn::MulAdd(a, b, c); }
HWY_INLINE Vec vmul(Vec a, Vec b) { return hn::Mul(a, b); }
HWY_INLINE Vec vadd(Vec a, Vec b) { return hn::Add(a, b); }
HWY_INLINE Vec vload_n(const float* p, int n) {
  if (n >= kLanes) return vloadu(p);
#if HWY_TARGET <= HWY_AVX2
  // vmaskmovps and AVX-512's masked loads leave the masked-off lanes unread.
  return hn::MaskedLoad(hn::FirstN(D(), static_cast<size_t>(n)), D(), p);
#else
  // Highway 1.0.3's MaskedLoad reads the whole vector on SSE4 (as an aligned
  // load), and the lanes past n may lie beyond the end of the array.
  HWY_ALIGN float t[kLanes] = {};
  for (int i = 0; i < n; ++i) t[i] = p[i];
  return hn::Load(D(), t);
#endif
}
HWY_INLINE void vstore_n(float* p, Vec v, int n) {
  if (n >= kLanes)
    hn::StoreU(v, D(), p);
  else  // writes only the first n lanes on every x86 target
    hn::BlendedStore(v, hn::FirstN(D(), static_cast<size_t>(n)), D(), p);
}
#endif

// ---- Register tiles ----
// A tile is MR rows x NV vectors of C, vectorised along C's contiguous rows; each
// k step loads NV vectors of packed B and broadcasts MR elements of packed A.
// "Wide" serves general shapes; "narrow" (one vector wide, twice the rows) wastes
// less of each vector when N fits in one, e.g. the 10 outputs of the last layer.
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
// 12 x 2 zmm = 24 accumulators + 2 B vectors + 1 broadcast of the 32 registers;
// 24 independent FMA chains cover Zen 4's 4-cycle latency at 1 zmm FMA per cycle.
constexpr int kWideMR = 12, kWideNV = 2;
constexpr int kNarrowMR = 24, kNarrowNV = 1;
constexpr char kKernelName[] = "avx512-12x32 (24x16 for N <= 16)";
#elif HWY_ARCH_X86 && HWY_TARGET == HWY_AVX2
// The classic Haswell 6 x 16 tile: 12 accumulators of the 16 ymm registers.
constexpr int kWideMR = 6, kWideNV = 2;
constexpr int kNarrowMR = 12, kNarrowNV = 1;
constexpr char kKernelName[] = "avx2-6x16 (12x8 for N <= 8)";
#elif HWY_ARCH_X86 && HWY_TARGET == HWY_SSE4
// 12 accumulators as for AVX2, but SSE has no FMA: each multiply-add goes
// through a temporary, which takes the 16th xmm register.
constexpr int kWideMR = 6, kWideNV = 2;
constexpr int kNarrowMR = 12, kNarrowNV = 1;
constexpr char kKernelName[] = "sse4-6x8 (12x4 for N <= 4)";
#else
constexpr int kWideMR = 4, kWideNV = 2;
constexpr int kNarrowMR = 8, kNarrowNV = 1;
constexpr char kKernelName[] = "scalar-4x8 (8x4 for N <= 4)";
#endif

// ---- Threads ----
// Below this many multiply-adds the calling thread works alone: about 0.3 ms on
// one core at this target's vector width (256^3 for AVX-512's 16 lanes on a
// Zen 4). A second thread would save at most half of that, but every parallel
// call must wait for its whole team, and when another process holds a core that
// wait is a scheduler time slice (milliseconds). Narrower vectors take longer
// for the same product, so they go parallel sooner: the output layer (5.2 M)
// stays serial on AVX-512 and is shared on SSE4, where one core needs 0.26 ms.
constexpr double kSerialProduct = 256.0 * 256.0 * 256.0 * kLanes / 16.0;

// ---- Cache blocking ----
// The kernel stays FMA-bound even with its operands streamed from L2 (about
// 7 bytes per cycle for the 12x32 tile), so KC only trades the passes over C
// against the size of a KC x NR micro-panel of B (128 KB, L2-resident while it
// sweeps the A panels); KC from 512 to 2048 measured within 2% on Zen 4. The
// team packs op(A) for all of K up front (a single team-wide wait per call for
// the model's shapes, instead of two per KC slice), so the packed blocks are
// bounded instead: A to 4 MB and a shared B to 8 MB. Each column task sweeps
// all of one KC slice of packed A per B micro-panel, so that slice is also kept
// to 1.5 MB, where it can stay in a 2 MB L2 instead of coming from L3 for every
// micro-panel: it splits dW = dY^T X (K = 256, A 2 MB) into two row blocks,
// about 10% faster at 2 threads on a 2 MB-L2 Xeon, and leaves the other model
// shapes as they were.
constexpr int64_t kKC = 1024;
constexpr int64_t kAPackFloats = 1024 * 1024;
constexpr int64_t kBPackFloats = 2 * 1024 * 1024;
constexpr int64_t kASliceFloats = 384 * 1024;


// Splits n into ceil(n / max_block) nearly equal blocks, rounded up to a
// multiple of `multiple`, so no block is a sliver.
inline int64_t balanced_block(int64_t n, int64_t max_block, int64_t multiple) {
  const int64_t blocks = ceil_div(n, max_block);
  return std::min(n, ceil_div(ceil_div(n, blocks), multiple) * multiple);
}

// ---- Packing ----
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
// dst[c * ldd + r] = src[r * lds + c] for r, c < 8.
inline void transpose_8x8(const float* src, int64_t lds, float* dst, int64_t ldd) {
  __m256 r0 = _mm256_loadu_ps(src + 0 * lds), r1 = _mm256_loadu_ps(src + 1 * lds);
  __m256 r2 = _mm256_loadu_ps(src + 2 * lds), r3 = _mm256_loadu_ps(src + 3 * lds);
  __m256 r4 = _mm256_loadu_ps(src + 4 * lds), r5 = _mm256_loadu_ps(src + 5 * lds);
  __m256 r6 = _mm256_loadu_ps(src + 6 * lds), r7 = _mm256_loadu_ps(src + 7 * lds);
  const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
  const __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
  const __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
  const __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
  r0 = _mm256_shuffle_ps(t0, t2, 0x44);
  r1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  r2 = _mm256_shuffle_ps(t1, t3, 0x44);
  r3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  r4 = _mm256_shuffle_ps(t4, t6, 0x44);
  r5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  r6 = _mm256_shuffle_ps(t5, t7, 0x44);
  r7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  _mm256_storeu_ps(dst + 0 * ldd, _mm256_permute2f128_ps(r0, r4, 0x20));
  _mm256_storeu_ps(dst + 1 * ldd, _mm256_permute2f128_ps(r1, r5, 0x20));
  _mm256_storeu_ps(dst + 2 * ldd, _mm256_permute2f128_ps(r2, r6, 0x20));
  _mm256_storeu_ps(dst + 3 * ldd, _mm256_permute2f128_ps(r3, r7, 0x20));
  _mm256_storeu_ps(dst + 4 * ldd, _mm256_permute2f128_ps(r0, r4, 0x31));
  _mm256_storeu_ps(dst + 5 * ldd, _mm256_permute2f128_ps(r1, r5, 0x31));
  _mm256_storeu_ps(dst + 6 * ldd, _mm256_permute2f128_ps(r2, r6, 0x31));
  _mm256_storeu_ps(dst + 7 * ldd, _mm256_permute2f128_ps(r3, r7, 0x31));
}
#endif

// Transposing pack: dst[k * W + r] = src[r * lds + k] for r < rows, k < kc, and
// zero for rows <= r < W. src: (rows, kc) with row stride lds; dst: (kc, W).
template <int W>
void pack_transposed(const float* src, int64_t lds, int rows, int64_t kc, float* dst) {
  int64_t k = 0;
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
  if (rows >= 8) {
    // 8x8 blocks, eight source rows at a time so the hardware prefetcher follows
    // eight sequential streams; a last group overlapping the previous one
    // covers rows % 8.
    const int64_t k_end = kc / 8 * 8;
    for (int r0 = 0; r0 < rows; r0 += 8) {
      const int r = std::min(r0, rows - 8);
      for (int64_t kk = 0; kk < k_end; kk += 8) transpose_8x8(src + r * lds + kk, lds, dst + kk * W + r, W);
    }
    k = k_end;
  }
#endif
  for (int r = 0; r < rows; ++r)
    for (int64_t kk = k; kk < kc; ++kk) dst[kk * W + r] = src[r * lds + kk];
  if (rows < W)
    for (int64_t kk = 0; kk < kc; ++kk)
      for (int r = rows; r < W; ++r) dst[kk * W + r] = 0.0f;
}

// Copying pack: dst[k * W + c] = src[k * lds + c] for c < cols, zero for
// cols <= c < W. src: (kc, cols) with row stride lds; dst: (kc, W).
template <int W>
void pack_direct(const float* src, int64_t lds, int cols, int64_t kc, float* dst) {
  if (cols == W) {
    for (int64_t k = 0; k < kc; ++k)
      for (int c = 0; c < W; ++c) dst[k * W + c] = src[k * lds + c];
    return;
  }
  for (int64_t k = 0; k < kc; ++k) {
    for (int c = 0; c < cols; ++c) dst[k * W + c] = src[k * lds + c];
    for (int c = cols; c < W; ++c) dst[k * W + c] = 0.0f;
  }
}

// Ap: (kc, MR) = rows i0..i0+mr, columns p0..p0+kc of op(A), zero-padded to MR rows.
template <int MR>
void pack_a_panel(Trans trans_a, const float* A, int64_t lda, int64_t i0, int mr, int64_t p0, int64_t kc,
                  float* Ap) {
  if (trans_a == Trans::No)  // A stored (M, K)
    pack_transposed<MR>(A + i0 * lda + p0, lda, mr, kc, Ap);
  else  // A stored (K, M)
    pack_direct<MR>(A + p0 * lda + i0, lda, mr, kc, Ap);
}

// Bp: (kc, NR) = rows p0..p0+kc, columns j0..j0+nr of op(B), zero-padded to NR columns.
template <int NR>
void pack_b_panel(Trans trans_b, const float* B, int64_t ldb, int64_t p0, int64_t kc, int64_t j0, int nr,
                  float* Bp) {
  if (trans_b == Trans::No)  // B stored (K, N)
    pack_direct<NR>(B + p0 * ldb + j0, ldb, nr, kc, Bp);
  else  // B stored (N, K)
    pack_transposed<NR>(B + j0 * ldb + p0, ldb, nr, kc, Bp);
}

// ---- Micro-kernel ----
// C tile: (mr, nr) with row stride ldc, mr <= MR, nr <= NV * kLanes.
// C = alpha * Ap^T Bp + beta * C with Ap: (kc, MR), Bp: (kc, NV * kLanes) packed.
// beta == 0 never reads C, so NaN there does not propagate.
template <int MR, int NV>
void micro_kernel(int64_t kc, const float* Ap, const float* Bp, float* C, int64_t ldc, int mr, int nr,
                  float alpha, float beta) {
  constexpr int NR = NV * kLanes;
  Vec acc[MR][NV];
#pragma GCC unroll 32
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[r][v] = vzero();
  for (int64_t k = 0; k < kc; ++k) {
    Vec b[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) b[v] = vload(Bp + v * kLanes);
#pragma GCC unroll 32
    for (int r = 0; r < MR; ++r) {
      const Vec a = vset1(Ap[r]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] = vfma(a, b[v], acc[r][v]);
    }
    Ap += MR;
    Bp += NR;
  }
  const Vec va = vset1(alpha);
  const Vec vb = vset1(beta);
#pragma GCC unroll 32
  for (int r = 0; r < MR; ++r) {
    if (r >= mr) break;
    float* c = C + r * ldc;
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      const int n = std::min(nr - v * kLanes, kLanes);
      if (n <= 0) break;
      Vec x = vmul(acc[r][v], va);
      if (beta == 1.0f)
        x = vadd(x, vload_n(c + v * kLanes, n));
      else if (beta != 0.0f)
        x = vfma(vb, vload_n(c + v * kLanes, n), x);
      vstore_n(c + v * kLanes, x, n);
    }
  }
}

// ---- Drivers ----

// ---- Dot-product path ----
// For op(A) = A and op(B) = B^T with few columns (the output layer: N = 10), the
// rows of A and of B are both contiguous along K, so C(i, j) is a dot product
// that needs no packing and keeps every lane busy, where a 16-wide tile of C
// would idle 6 of 16 lanes and pay for packing A. RM rows of A x NJ rows of B
// per step; lanes hold partial sums that are reduced once at the end.
constexpr int kDotMaxCols = 8;
constexpr int64_t kDotMaxN = 16;

// A: (RM, K) row stride lda, B: (NJ, K) row stride ldb, C: (RM, NJ) row stride ldc.
template <int RM, int NJ>
void dot_block(int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb, float* C, int64_t ldc,
               float alpha, float beta) {
  Vec acc[RM][NJ];
#pragma GCC unroll 8
  for (int r = 0; r < RM; ++r)
#pragma GCC unroll 8
    for (int j = 0; j < NJ; ++j) acc[r][j] = vzero();
  int64_t k = 0;
  for (; k + kLanes <= K; k += kLanes) {
    Vec a[RM];
#pragma GCC unroll 8
    for (int r = 0; r < RM; ++r) a[r] = vloadu(A + r * lda + k);
#pragma GCC unroll 8
    for (int j = 0; j < NJ; ++j) {
      const Vec b = vloadu(B + j * ldb + k);
#pragma GCC unroll 8
      for (int r = 0; r < RM; ++r) acc[r][j] = vfma(a[r], b, acc[r][j]);
    }
  }
  if (k < K) {
    const int n = static_cast<int>(K - k);
    Vec a[RM];
    for (int r = 0; r < RM; ++r) a[r] = vload_n(A + r * lda + k, n);
    for (int j = 0; j < NJ; ++j) {
      const Vec b = vload_n(B + j * ldb + k, n);
      for (int r = 0; r < RM; ++r) acc[r][j] = vfma(a[r], b, acc[r][j]);
    }
  }
  for (int r = 0; r < RM; ++r)
    for (int j = 0; j < NJ; ++j) {
      const float v = alpha * vsum(acc[r][j]);
      float& c = C[r * ldc + j];
      c = beta == 0.0f ? v : v + beta * c;
    }
}

// Accumulators the dot path may keep: the vector registers less one per loaded
// row of A, one for B and one spare (SSE's multiply-add needs a temporary).
// AVX-512 has 32 registers, AVX2 and SSE4 16: a 4 x 5 block there spilled and
// ran the SSE4 output layer 26 % slower than 2 x 5 on a Zen 5 core. The portable
// struct is left to the compiler, which does better with the larger block
// (1.75x on the same core).
#if HWY_ARCH_X86 && (HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_SSE4)
constexpr int kDotAccumulators = 10;
#else
constexpr int kDotAccumulators = 24;
#endif

// Rows i0..i0+rows of C, all N columns, in blocks of NJ columns of at most
// kDotMaxCols, RM rows at a time so that RM * NJ accumulators stay in registers.
template <int NJ>
void dot_rows(int64_t i0, int64_t rows, int64_t j0, int64_t K, const float* A, int64_t lda, const float* B,
              int64_t ldb, float* C, int64_t ldc, float alpha, float beta) {
  constexpr int RM = std::clamp(kDotAccumulators / NJ, 1, 4);
  int64_t i = i0;
  for (; i + RM <= i0 + rows; i += RM)
    dot_block<RM, NJ>(K, A + i * lda, lda, B + j0 * ldb, ldb, C + i * ldc + j0, ldc, alpha, beta);
  for (; i < i0 + rows; ++i)
    dot_block<1, NJ>(K, A + i * lda, lda, B + j0 * ldb, ldb, C + i * ldc + j0, ldc, alpha, beta);
}

using DotRows = void (*)(int64_t, int64_t, int64_t, int64_t, const float*, int64_t, const float*, int64_t,
                         float*, int64_t, float, float);
constexpr DotRows kDotRows[kDotMaxCols + 1] = {nullptr,     dot_rows<1>, dot_rows<2>,
                                               dot_rows<3>, dot_rows<4>, dot_rows<5>,
                                               dot_rows<6>, dot_rows<7>, dot_rows<8>};

// A: (M, K) row stride lda; B: (N, K) row stride ldb; C: (M, N) row stride ldc.
void dot_gemm(int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda, const float* B,
              int64_t ldb, float beta, float* C, int64_t ldc, [[maybe_unused]] int threads) {
  // Equal column blocks (10 = 5 + 5, not 8 + 2).
  const int64_t col_blocks = ceil_div(N, kDotMaxCols);
  const int64_t cols = ceil_div(N, col_blocks);
  constexpr int64_t kRowsPerTask = 24;
  const int64_t tasks = ceil_div(M, kRowsPerTask);
  WorkCounter computed;
#ifdef _OPENMP
#pragma omp parallel num_threads(threads) if (threads > 1)
#endif
  {
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1) nowait
#endif
    for (int64_t t = 0; t < tasks; ++t) {
      const int64_t i0 = t * kRowsPerTask;
      const int64_t rows = std::min(kRowsPerTask, M - i0);
      for (int64_t j0 = 0; j0 < N; j0 += cols) {
        const int nj = static_cast<int>(std::min(cols, N - j0));
        kDotRows[nj](i0, rows, j0, K, A, lda, B, ldb, C, ldc, alpha, beta);
      }
      computed.finished(1);
    }
    // Reach libgomp's closing barrier only when nothing is left to wait for.
    computed.wait_for(tasks);
  }
}

// C is cut into blocks of rows (ic) and columns (jc) whose packed operands fit
// the budgets above; each block is one parallel step. The team packs the block's
// A panels for every KC slice (dynamic schedule, so a thread that lost its core
// to another process does not hold the rest back), then computes tasks of one
// NR-wide column panel by a group of MR-row panels, each running through the KC
// slices in order, so every element of C sees the same sequence of operations
// whatever the team size.
template <int MR, int NV>
void blocked_gemm(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                  int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc,
                  [[maybe_unused]] int threads) {
  constexpr int NR = NV * kLanes;
  const int64_t kc_step = balanced_block(K, kKC, 8);
  const int64_t slices = ceil_div(K, kc_step);
  const int64_t a_rows = std::min(kAPackFloats / K, kASliceFloats / kc_step);
  const int64_t mb_step = balanced_block(M, std::max<int64_t>(MR, a_rows / MR * MR), MR);
  const int64_t nb_step = balanced_block(N, std::max<int64_t>(NR, kBPackFloats / K / NR * NR), NR);
  const int64_t na_max = ceil_div(mb_step, MR);
  const int64_t nb_max = ceil_div(nb_step, NR);
  // Ap: slice s, row panel p at (s * kc_step * na_max + p * kc) * MR, each (kc, MR).
  // Bp: slice s, column panel q at (s * kc_step * nb_max + q * kc) * NR, each (kc, NR).
  float* Ap = t_pack_a.get(na_max * MR * K);
  float* Bp = t_pack_b.get(nb_max * NR * K);
  // The OpenMP loops below are all `nowait`; the team synchronises through these.
  WorkCounter packed, computed;
#ifdef _OPENMP
#pragma omp parallel num_threads(threads) if (threads > 1)
#endif
  {
    int team = 1;
#ifdef _OPENMP
    team = omp_get_num_threads();
#endif
    int64_t packed_target = 0, computed_target = 0;
    float* const b_local = t_pack_b_task.get(kc_step * NR);  // (kc, NR)
    for (int64_t jc = 0; jc < N; jc += nb_step) {
      const int64_t nc = std::min(nb_step, N - jc);
      const int64_t nb = ceil_div(nc, NR);
      for (int64_t ic = 0; ic < M; ic += mb_step) {
        const int64_t mc = std::min(mb_step, M - ic);
        const int64_t na = ceil_div(mc, MR);
        // The packed buffers are about to be refilled.
        computed.wait_for(computed_target);
        // Whole-height tasks keep one B micro-panel hot across the A panels;
        // split the height only when there are too few column panels to share.
        const int64_t want_groups = nb >= 4 * team ? 1 : ceil_div(4 * team, nb);
        const int64_t per_group = ceil_div(na, std::min(na, want_groups));
        const int64_t groups = ceil_div(na, per_group);
        // With whole-height tasks each B micro-panel has one user, which packs it
        // into its own buffer just before use: it stays in L2 instead of making
        // a round trip through memory. Otherwise the team packs B up front, once
        // for all row blocks.
        const bool shared_b = groups > 1;
        const int64_t nb_pack = shared_b && ic == 0 ? nb : 0;
        const int64_t units = nb_pack + na;
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 2) nowait
#endif
        for (int64_t u = 0; u < units * slices; ++u) {
          const int64_t s = u / units;
          const int64_t panel = u % units;
          const int64_t pc = s * kc_step;
          const int64_t kc = std::min(kc_step, K - pc);
          if (panel < nb_pack) {
            const int nr = static_cast<int>(std::min<int64_t>(NR, nc - panel * NR));
            pack_b_panel<NR>(tb, B, ldb, pc, kc, jc + panel * NR, nr, Bp + (pc * nb_max + panel * kc) * NR);
          } else {
            const int64_t p = panel - nb_pack;
            const int mr = static_cast<int>(std::min<int64_t>(MR, mc - p * MR));
            pack_a_panel<MR>(ta, A, lda, ic + p * MR, mr, pc, kc, Ap + (pc * na_max + p * kc) * MR);
          }
          packed.finished(1);
        }
        packed_target += units * slices;
        packed.wait_for(packed_target);
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1) nowait
#endif
        for (int64_t t = 0; t < nb * groups; ++t) {
          const int64_t q = t / groups;
          const int64_t p_begin = t % groups * per_group;
          const int64_t p_end = std::min(na, p_begin + per_group);
          const int nr = static_cast<int>(std::min<int64_t>(NR, nc - q * NR));
          float* c_panel = C + ic * ldc + jc + q * NR;
          for (int64_t pc = 0; pc < K; pc += kc_step) {
            const int64_t kc = std::min(kc_step, K - pc);
            // Later K slices accumulate onto what the first one wrote.
            const float beta_k = pc == 0 ? beta : 1.0f;
            const float* b_panel = Bp + (pc * nb_max + q * kc) * NR;
            if (!shared_b) {
              pack_b_panel<NR>(tb, B, ldb, pc, kc, jc + q * NR, nr, b_local);
              b_panel = b_local;
            }
            for (int64_t p = p_begin; p < p_end; ++p) {
              const int mr = static_cast<int>(std::min<int64_t>(MR, mc - p * MR));
              micro_kernel<MR, NV>(kc, Ap + (pc * na_max + p * kc) * MR, b_panel, c_panel + p * MR * ldc, ldc,
                                   mr, nr, alpha, beta_k);
            }
          }
          computed.finished(1);
        }
        computed_target += nb * groups;
      }
    }
    // Reach libgomp's closing barrier only when nothing is left to wait for.
    computed.wait_for(computed_target);
  }
}

}  // namespace

// Everything past sgemm()'s argument checks and small cases. The path and tile
// depend on the shape only, never on the thread count.
void sgemm_impl(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                const float* B, int64_t ldb, float beta, float* C, int64_t ldc, int threads) {
  if (ta == Trans::No && tb == Trans::Yes && N <= kDotMaxN)
    dot_gemm(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, threads);
  else if (N <= kNarrowNV * kLanes)
    blocked_gemm<kNarrowMR, kNarrowNV>(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, threads);
  else
    blocked_gemm<kWideMR, kWideNV>(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, threads);
}

#endif  // HWY_ARCH_X86 || HWY_TARGET == HWY_EMU128 || HWY_TARGET == HWY_SCALAR

}  // namespace HWY_NAMESPACE
}  // namespace nmode
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "simd/dispatch.hpp"

namespace nmode {
namespace {

// Below this many multiply-adds, packing costs more than it saves.
constexpr double kSmallProduct = 32.0 * 32.0 * 32.0;

// C = beta * C, for alpha == 0 or K == 0 (A and B are not read, as in BLAS).
void scale_c(int64_t M, int64_t N, float beta, float* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i) {
    float* c = C + i * ldc;
    for (int64_t j = 0; j < N; ++j) c[j] = beta == 0.0f ? 0.0f : beta * c[j];
  }
}

inline float element(Trans t, const float* X, int64_t ld, int64_t row, int64_t col) {
  return t == Trans::No ? X[row * ld + col] : X[col * ld + row];
}

// Dot products straight from the unpacked operands, for tiny products.
void small_gemm(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i) {
    float* c = C + i * ldc;
    for (int64_t j = 0; j < N; ++j) {
      float s = 0.0f;
      for (int64_t k = 0; k < K; ++k) s += element(ta, A, lda, i, k) * element(tb, B, ldb, k, j);
      c[j] = beta == 0.0f ? alpha * s : alpha * s + beta * c[j];
    }
  }
}

const char* trans_name(Trans t) { return t == Trans::No ? "No" : "Yes"; }

void check_stride(const char* name, int64_t ld, int64_t row_length, Trans t, const char* stored) {
  if (ld < row_length)
    throw InvalidArgument(std::string("sgemm: ") + name + " must be at least the stored row length " +
                          std::to_string(row_length) + " (matrix stored as " + stored +
                          ", trans = " + trans_name(t) + "), got " + std::to_string(ld));
}

void check_pointer(const char* name, const void* p, int64_t rows, int64_t cols) {
  if (p == nullptr && rows > 0 && cols > 0)
    throw InvalidArgument(std::string("sgemm: ") + name + " is null but must hold (" + std::to_string(rows) +
                          ", " + std::to_string(cols) + ") elements");
}

using SgemmImpl = void (*)(Trans, Trans, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*,
                          int64_t, float, float*, int64_t, int);

struct TargetGemm {
  SgemmImpl impl;
  const char* kernel_name;
  double serial_product;  // kSerialProduct of the target
};

// SimdTarget::Scalar: the portable kernels, compiled in the pass for Highway's
// baseline target (always among HWY_TARGETS).
#if HWY_TARGETS & HWY_EMU128
namespace portable = N_EMU128;
#else
namespace portable = N_SCALAR;
#endif

TargetGemm target_gemm(SimdTarget target) {
  return {NMODE_FOR_SIMD_TARGET(target, sgemm_impl, &portable::sgemm_impl),
          NMODE_FOR_SIMD_TARGET(target, kKernelName, portable::kKernelName),
          NMODE_FOR_SIMD_TARGET(target, kSerialProduct, portable::kSerialProduct)};
}

}  // namespace

int64_t sgemm_row_independent_rows(int64_t N, int64_t K) {
  if (N <= 0 || K <= 0) return 1;
  const double per_row = static_cast<double>(N) * static_cast<double>(K);
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil(kSmallProduct / per_row)));
}

const char* sgemm_kernel_name() { return target_gemm(active_simd_target()).kernel_name; }

void sgemm(Trans trans_a, Trans trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
           int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M < 0 || N < 0 || K < 0)
    throw InvalidArgument("sgemm: M, N and K must be non-negative, got M = " + std::to_string(M) +
                          ", N = " + std::to_string(N) + ", K = " + std::to_string(K));
  check_stride("lda", lda, trans_a == Trans::No ? K : M, trans_a, trans_a == Trans::No ? "(M, K)" : "(K, M)");
  check_stride("ldb", ldb, trans_b == Trans::No ? N : K, trans_b, trans_b == Trans::No ? "(K, N)" : "(N, K)");
  check_stride("ldc", ldc, N, Trans::No, "(M, N)");
  check_pointer("A", A, M, K);
  check_pointer("B", B, K, N);
  check_pointer("C", C, M, N);
  // Once per call, before any work: an invalid NMODE_SIMD fails every call alike.
  const TargetGemm gemm = target_gemm(active_simd_target());

  if (M == 0 || N == 0) return;
  if (K == 0 || alpha == 0.0f) {
    scale_c(M, N, beta, C, ldc);
    return;
  }
  // In double: M * N * K may overflow int64 for absurd shapes.
  const double product = static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K);
  if (product < kSmallProduct) {
    small_gemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  int threads = 1;
#ifdef _OPENMP
  // Inside an enclosing parallel region the caller already owns the cores.
  if (!omp_in_parallel() && product >= gemm.serial_product) threads = omp_get_max_threads();
#endif
  gemm.impl(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, threads);
}

}  // namespace nmode
#endif  // HWY_ONCE
