// Checks nmode::sgemm against a naive double-precision triple loop over all four
// transpose combinations, awkward and model-sized shapes, alpha/beta variants,
// strided operands, thread-count independence and argument validation, once for
// every SIMD target this CPU supports; and that the targets agree with each other.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "nmode/error.hpp"
#include "nmode/gemm.hpp"
#include "nmode/simd.hpp"
#include "support/simd_test_util.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace {

using nmode::Trans;

// A matrix as stored: (rows, cols) with row stride ld >= cols.
struct Stored {
  int64_t rows = 0, cols = 0, ld = 0;
  std::vector<float> data;
  float at(int64_t r, int64_t c) const { return data[static_cast<size_t>(r * ld + c)]; }
};

Stored random_stored(int64_t rows, int64_t cols, int64_t pad, std::mt19937& rng) {
  Stored s;
  s.rows = rows;
  s.cols = cols;
  s.ld = cols + pad;
  // Padding holds NaN so that reading past a row shows up in the result.
  s.data.assign(static_cast<size_t>(std::max<int64_t>(rows * s.ld, 1)),
                std::numeric_limits<float>::quiet_NaN());
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) s.data[static_cast<size_t>(r * s.ld + c)] = dist(rng);
  return s;
}

// op(X) as a dense (rows, cols) double matrix.
std::vector<double> op_dense(const Stored& x, Trans t) {
  const int64_t rows = t == Trans::No ? x.rows : x.cols;
  const int64_t cols = t == Trans::No ? x.cols : x.rows;
  std::vector<double> d(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      d[static_cast<size_t>(r * cols + c)] = t == Trans::No ? x.at(r, c) : x.at(c, r);
  return d;
}

// Fills C's padding columns, which sgemm must leave alone.
constexpr float kSentinel = 12345.0f;

struct Case {
  Trans ta, tb;
  int64_t M, N, K;
  float alpha, beta;
  int64_t pad = 0;     // extra columns in every stored row (lda, ldb, ldc > row length)
  bool nan_c = false;  // fill C with NaN first (only meaningful with beta == 0)
};

std::string describe(const Case& c) {
  return "trans_a=" + std::string(c.ta == Trans::No ? "N" : "T") +
         " trans_b=" + std::string(c.tb == Trans::No ? "N" : "T") + " M=" + std::to_string(c.M) +
         " N=" + std::to_string(c.N) + " K=" + std::to_string(c.K) + " alpha=" + std::to_string(c.alpha) +
         " beta=" + std::to_string(c.beta) + " pad=" + std::to_string(c.pad);
}

// Random operands for a case, and C as it was before the call.
struct Problem {
  Case c;
  Stored a, b, c0;
};

Problem make_problem(const Case& c, std::mt19937& rng) {
  Problem p;
  p.c = c;
  p.a = c.ta == Trans::No ? random_stored(c.M, c.K, c.pad, rng) : random_stored(c.K, c.M, c.pad, rng);
  p.b = c.tb == Trans::No ? random_stored(c.K, c.N, c.pad, rng) : random_stored(c.N, c.K, c.pad, rng);
  Stored out = random_stored(c.M, c.N, c.pad, rng);
  if (c.nan_c)
    for (int64_t i = 0; i < c.M; ++i)
      for (int64_t j = 0; j < c.N; ++j)
        out.data[static_cast<size_t>(i * out.ld + j)] = std::numeric_limits<float>::quiet_NaN();
  for (int64_t i = 0; i < c.M; ++i)
    for (int64_t j = c.N; j < out.ld; ++j) out.data[static_cast<size_t>(i * out.ld + j)] = kSentinel;
  p.c0 = out;
  return p;
}

// C after sgemm with the active SIMD target.
Stored run(const Problem& p) {
  const Case& c = p.c;
  Stored out = p.c0;
  nmode::sgemm(c.ta, c.tb, c.M, c.N, c.K, c.alpha, p.a.data.data(), p.a.ld, p.b.data.data(), p.b.ld, c.beta,
               out.data.data(), out.ld);
  return out;
}

// The double-precision result and the tolerance of every element, (M, N) dense.
struct Reference {
  std::vector<double> value, tol;
};

Reference reference(const Problem& p) {
  const Case& c = p.c;
  const std::vector<double> opa = op_dense(p.a, c.ta);  // (M, K)
  const std::vector<double> opb = op_dense(p.b, c.tb);  // (K, N)
  Reference r;
  r.value.resize(static_cast<size_t>(c.M * c.N));
  r.tol.resize(r.value.size());
  std::vector<double> dot(static_cast<size_t>(c.N)), absdot(static_cast<size_t>(c.N));
  // A float dot product of K terms, summed in any order with or without FMA, is
  // within K*u*sum|a||b| (u = eps/2, Higham 3.1); alpha, beta, the K-block
  // accumulation and the final add add a few more roundings: (K + 8) * eps covers them.
  const double eps = std::numeric_limits<float>::epsilon();
  for (int64_t i = 0; i < c.M; ++i) {
    std::fill(dot.begin(), dot.end(), 0.0);
    std::fill(absdot.begin(), absdot.end(), 0.0);
    for (int64_t k = 0; k < c.K; ++k) {
      const double av = opa[static_cast<size_t>(i * c.K + k)];
      const double* brow = opb.data() + k * c.N;
      for (int64_t j = 0; j < c.N; ++j) {
        dot[static_cast<size_t>(j)] += av * brow[j];
        absdot[static_cast<size_t>(j)] += std::abs(av * brow[j]);
      }
    }
    for (int64_t j = 0; j < c.N; ++j) {
      const double prior = c.beta == 0.0f ? 0.0 : static_cast<double>(c.beta) * p.c0.at(i, j);
      const double bound =
          std::abs(static_cast<double>(c.alpha)) * absdot[static_cast<size_t>(j)] + std::abs(prior);
      r.value[static_cast<size_t>(i * c.N + j)] = static_cast<double>(c.alpha) * dot[static_cast<size_t>(j)] + prior;
      r.tol[static_cast<size_t>(i * c.N + j)] = static_cast<double>(c.K + 8) * eps * bound;
    }
  }
  return r;
}

// Runs sgemm on random operands and compares every element with the double
// reference; also checks that C's padding columns are untouched.
void check_case(const Case& c, std::mt19937& rng) {
  SCOPED_TRACE(describe(c));
  const Problem p = make_problem(c, rng);
  const Stored out = run(p);
  const Reference r = reference(p);
  int failures = 0;
  for (int64_t i = 0; i < c.M; ++i) {
    for (int64_t j = 0; j < c.N; ++j) {
      const double ref = r.value[static_cast<size_t>(i * c.N + j)];
      const double tol = r.tol[static_cast<size_t>(i * c.N + j)];
      const double got = out.at(i, j);
      if (!(std::abs(got - ref) <= tol) && failures++ < 5)
        ADD_FAILURE() << "C(" << i << ", " << j << ") = " << got << ", reference " << ref << ", tolerance "
                      << tol;
    }
    for (int64_t j = c.N; j < out.ld; ++j)
      if (out.at(i, j) != kSentinel && failures++ < 5)
        ADD_FAILURE() << "padding C(" << i << ", " << j << ") was written";
  }
  EXPECT_EQ(failures, 0);
}

// Runs each test once per SIMD target this CPU supports, named after it
// (Simd/SgemmOnTarget.ModelProducts/avx2), and leaves the active target as it was.
NMODE_PER_SIMD_TARGET(SgemmOnTarget);

const Trans kTrans[] = {Trans::No, Trans::Yes};

TEST_P(SgemmOnTarget, AwkwardShapesAllTransposes) {
  std::mt19937 rng(1);
  const int64_t sizes[] = {0, 1, 7, 33, 257};
  for (Trans ta : kTrans)
    for (Trans tb : kTrans)
      for (int64_t m : sizes)
        for (int64_t n : sizes)
          for (int64_t k : sizes) check_case({ta, tb, m, n, k, 1.0f, 0.0f}, rng);
}

TEST_P(SgemmOnTarget, ShapesWithModelDimensions) {
  std::mt19937 rng(2);
  // One dimension at a model size (784, 2048) beside small and tile-straddling ones.
  const int64_t shapes[][3] = {{1, 784, 2048}, {7, 2048, 33}, {33, 1, 784},  {2048, 7, 1},
                               {784, 33, 7},   {1, 1, 2048},  {257, 10, 784}};
  for (Trans ta : kTrans)
    for (Trans tb : kTrans)
      for (const auto& s : shapes) check_case({ta, tb, s[0], s[1], s[2], 0.5f, 2.0f}, rng);
}

TEST_P(SgemmOnTarget, ModelProducts) {
  std::mt19937 rng(3);
  // Forward X * W^T, backward dY * W and dY^T * X, output layer H * W^T (batch 256).
  check_case({Trans::No, Trans::Yes, 256, 2048, 784, 1.0f, 0.0f}, rng);
  check_case({Trans::No, Trans::No, 256, 784, 2048, 1.0f, 0.0f}, rng);
  check_case({Trans::Yes, Trans::No, 2048, 784, 256, 1.0f, 1.0f}, rng);
  check_case({Trans::No, Trans::Yes, 256, 10, 2048, 1.0f, 0.0f}, rng);
}

// K = 8192 bounds the packed blocks to fewer rows and columns than M and N, so
// C is computed in several row and column blocks, each over 8 slices of K.
TEST_P(SgemmOnTarget, LongK) {
  std::mt19937 rng(9);
  check_case({Trans::No, Trans::Yes, 130, 260, 8192, 0.5f, 2.0f}, rng);
  check_case({Trans::Yes, Trans::No, 130, 100, 8192, 1.0f, 0.0f}, rng);
}

TEST_P(SgemmOnTarget, AlphaBetaVariants) {
  std::mt19937 rng(4);
  const float ab[][2] = {{1.0f, 0.0f},   {0.5f, 2.0f}, {1.0f, 1.0f},
                         {-1.5f, 0.25f}, {0.0f, 3.0f}, {0.0f, 0.0f}};
  for (Trans ta : kTrans)
    for (Trans tb : kTrans)
      for (const auto& p : ab)
        for (int64_t k : {0, 5, 400}) check_case({ta, tb, 37, 45, k, p[0], p[1]}, rng);
}

TEST_P(SgemmOnTarget, BetaZeroIgnoresNaNInC) {
  std::mt19937 rng(5);
  for (Trans ta : kTrans)
    for (Trans tb : kTrans)
      for (int64_t k : {0, 1, 33, 784}) {
        check_case({ta, tb, 33, 70, k, 1.0f, 0.0f, 0, true}, rng);
        check_case({ta, tb, 40, 10, k, 1.0f, 0.0f, 0, true}, rng);
        check_case({ta, tb, 3, 5, k, 2.0f, 0.0f, 0, true}, rng);
      }
}

TEST_P(SgemmOnTarget, StridedOperands) {
  std::mt19937 rng(6);
  for (Trans ta : kTrans)
    for (Trans tb : kTrans) {
      check_case({ta, tb, 50, 77, 390, 0.5f, 2.0f, 5}, rng);
      check_case({ta, tb, 3, 4, 5, 1.0f, 0.0f, 1}, rng);
    }
}

#ifdef _OPENMP
// Every element sums over K in the same order whatever the team size, so 1 and 2
// threads must agree bit for bit. The shapes take the wide tile, the narrow tile,
// the dot-product path, and a B packed once for the team (few column panels).
TEST_P(SgemmOnTarget, ThreadCountDoesNotChangeBits) {
  std::mt19937 rng(7);
  const int saved = omp_get_max_threads();
  struct Shape {
    Trans ta, tb;
    int64_t M, N, K;
  };
  std::vector<Shape> shapes;
  for (Trans ta : kTrans)
    for (Trans tb : kTrans) shapes.push_back({ta, tb, 301, 517, 800});
  shapes.push_back({Trans::Yes, Trans::No, 1100, 10, 1600});
  shapes.push_back({Trans::No, Trans::Yes, 1100, 10, 1600});
  shapes.push_back({Trans::No, Trans::No, 700, 100, 300});
  for (const Shape& s : shapes) {
    SCOPED_TRACE("M=" + std::to_string(s.M) + " N=" + std::to_string(s.N) + " K=" + std::to_string(s.K));
    const Stored a = s.ta == Trans::No ? random_stored(s.M, s.K, 0, rng) : random_stored(s.K, s.M, 0, rng);
    const Stored b = s.tb == Trans::No ? random_stored(s.K, s.N, 0, rng) : random_stored(s.N, s.K, 0, rng);
    std::vector<float> c1(static_cast<size_t>(s.M * s.N), 1.0f), c2 = c1;
    omp_set_num_threads(1);
    nmode::sgemm(s.ta, s.tb, s.M, s.N, s.K, 0.5f, a.data.data(), a.ld, b.data.data(), b.ld, 2.0f, c1.data(),
                 s.N);
    omp_set_num_threads(2);
    nmode::sgemm(s.ta, s.tb, s.M, s.N, s.K, 0.5f, a.data.data(), a.ld, b.data.data(), b.ld, 2.0f, c2.data(),
                 s.N);
    EXPECT_EQ(0, std::memcmp(c1.data(), c2.data(), c1.size() * sizeof(float)));
  }
  omp_set_num_threads(saved);
}

// From sgemm_row_independent_rows(N, K) rows on, a row of C is the same bits in
// every M (the per-sample neural-ODE solver relies on it): a batch of M rows
// against the first rows computed alone in a batch of exactly that minimum.
TEST_P(SgemmOnTarget, RowsAreIndependentOfMFromTheStatedMinimum) {
  std::mt19937 rng(11);
  for (Trans tb : kTrans)
    for (int64_t nk : {5, 33, 64, 256}) {
      const int64_t rows = nmode::sgemm_row_independent_rows(nk, nk);
      SCOPED_TRACE("N=K=" + std::to_string(nk) + " minimum rows " + std::to_string(rows));
      for (int64_t M : {rows, rows + 1, rows + 37, 4 * rows + 300}) {
        const Stored a = random_stored(M, nk, 0, rng), b = random_stored(nk, nk, 0, rng);
        std::vector<float> c_all(static_cast<size_t>(M * nk), 0.0f), c_min(static_cast<size_t>(rows * nk), 0.0f);
        nmode::sgemm(Trans::No, tb, M, nk, nk, 1.0f, a.data.data(), a.ld, b.data.data(), b.ld, 0.0f, c_all.data(), nk);
        nmode::sgemm(Trans::No, tb, rows, nk, nk, 1.0f, a.data.data(), a.ld, b.data.data(), b.ld, 0.0f, c_min.data(), nk);
        EXPECT_EQ(0, std::memcmp(c_all.data(), c_min.data(), c_min.size() * sizeof(float))) << "M=" << M;
      }
    }
}

// Called from inside a parallel region, each caller gets the serial result.
TEST_P(SgemmOnTarget, InsideParallelRegion) {
  std::mt19937 rng(8);
  const int64_t M = 200, N = 300, K = 150;
  const Stored a = random_stored(M, K, 0, rng);
  const Stored b = random_stored(K, N, 0, rng);
  std::vector<float> expected(static_cast<size_t>(M * N));
  nmode::sgemm(Trans::No, Trans::No, M, N, K, 1.0f, a.data.data(), K, b.data.data(), N, 0.0f, expected.data(),
               N);
  std::vector<std::vector<float>> results(2, std::vector<float>(static_cast<size_t>(M * N)));
#pragma omp parallel for num_threads(2)
  for (int t = 0; t < 2; ++t)
    nmode::sgemm(Trans::No, Trans::No, M, N, K, 1.0f, a.data.data(), K, b.data.data(), N, 0.0f,
                 results[static_cast<size_t>(t)].data(), N);
  for (const auto& r : results)
    EXPECT_EQ(0, std::memcmp(expected.data(), r.data(), r.size() * sizeof(float)));
}
#endif

// Expects InvalidArgument whose message mentions every fragment.
template <typename F>
void expect_invalid(F call, std::vector<std::string> fragments) {
  try {
    call();
    ADD_FAILURE() << "no exception";
  } catch (const nmode::InvalidArgument& e) {
    for (const auto& f : fragments) EXPECT_NE(std::string(e.what()).find(f), std::string::npos) << e.what();
  }
}

TEST(Sgemm, RejectsInvalidArguments) {
  std::vector<float> a(100, 1.0f), b(100, 1.0f), c(100, 0.0f);
  const float* A = a.data();
  const float* B = b.data();
  float* C = c.data();
  expect_invalid([&] { nmode::sgemm(Trans::No, Trans::No, -1, 2, 2, 1.0f, A, 2, B, 2, 0.0f, C, 2); },
                 {"M = -1"});
  expect_invalid([&] { nmode::sgemm(Trans::No, Trans::No, 2, 2, -3, 1.0f, A, 2, B, 2, 0.0f, C, 2); },
                 {"K = -3"});
  expect_invalid([&] { nmode::sgemm(Trans::No, Trans::No, 2, 3, 4, 1.0f, A, 3, B, 3, 0.0f, C, 3); },
                 {"lda", "4", "3"});
  expect_invalid([&] { nmode::sgemm(Trans::Yes, Trans::No, 5, 3, 4, 1.0f, A, 4, B, 3, 0.0f, C, 3); },
                 {"lda", "5", "4"});
  expect_invalid([&] { nmode::sgemm(Trans::No, Trans::Yes, 2, 3, 4, 1.0f, A, 4, B, 3, 0.0f, C, 3); },
                 {"ldb", "4", "3"});
  expect_invalid([&] { nmode::sgemm(Trans::No, Trans::No, 2, 3, 4, 1.0f, A, 4, B, 3, 0.0f, C, 2); },
                 {"ldc", "3", "2"});
  expect_invalid([&] { nmode::sgemm(Trans::No, Trans::No, 2, 3, 4, 1.0f, nullptr, 4, B, 3, 0.0f, C, 3); },
                 {"A", "(2, 4)"});
  expect_invalid([&] { nmode::sgemm(Trans::No, Trans::No, 2, 3, 4, 1.0f, A, 4, nullptr, 3, 0.0f, C, 3); },
                 {"B", "(4, 3)"});
  expect_invalid([&] { nmode::sgemm(Trans::No, Trans::No, 2, 3, 4, 1.0f, A, 4, B, 3, 0.0f, nullptr, 3); },
                 {"C", "(2, 3)"});
  // Empty operands may be null.
  EXPECT_NO_THROW(
      nmode::sgemm(Trans::No, Trans::No, 0, 0, 0, 1.0f, nullptr, 0, nullptr, 0, 0.0f, nullptr, 0));
  EXPECT_NO_THROW(nmode::sgemm(Trans::No, Trans::No, 2, 3, 0, 1.0f, nullptr, 0, nullptr, 3, 0.0f, C, 3));
}

TEST(Sgemm, KernelNameIsReported) { EXPECT_NE(std::string(nmode::sgemm_kernel_name()), ""); }

// The kernel in use follows the active target, so the dispatch reaches each one.
TEST_P(SgemmOnTarget, KernelNameNamesTheTarget) {
  const std::string name = nmode::sgemm_kernel_name();
  const std::string target = nmode::to_string(GetParam());
  EXPECT_EQ(name.compare(0, target.size(), target), 0) << name;
}

// Every target's result is within the reference tolerance of the best target's,
// on shapes that take each path: the unpacked small product, the dot products,
// the narrow and the wide tiles (which of the two depends on the vector width).
TEST(Sgemm, TargetsAgree) {
  const std::vector<nmode::SimdTarget> targets = nmode::supported_simd_targets();
  const nmode::SimdTarget saved = nmode::active_simd_target();
  std::mt19937 rng(10);
  std::vector<Case> cases;
  for (Trans ta : kTrans)
    for (Trans tb : kTrans) {
      cases.push_back({ta, tb, 20, 25, 30, 0.5f, 2.0f});
      cases.push_back({ta, tb, 301, 10, 800, 1.0f, 0.0f});
      cases.push_back({ta, tb, 130, 4, 700, 0.5f, 2.0f, 3});
      cases.push_back({ta, tb, 257, 517, 300, 1.0f, 1.0f});
    }
  for (const Case& c : cases) {
    SCOPED_TRACE(describe(c));
    const Problem p = make_problem(c, rng);
    const Reference r = reference(p);
    nmode::set_simd_target(targets.front());
    const Stored best = run(p);
    for (size_t t = 1; t < targets.size(); ++t) {
      SCOPED_TRACE(std::string(nmode::to_string(targets.front())) + " vs " + nmode::to_string(targets[t]));
      nmode::set_simd_target(targets[t]);
      const Stored out = run(p);
      int failures = 0;
      for (int64_t i = 0; i < c.M; ++i)
        for (int64_t j = 0; j < c.N; ++j) {
          const double tol = r.tol[static_cast<size_t>(i * c.N + j)];
          if (!(std::abs(static_cast<double>(out.at(i, j)) - best.at(i, j)) <= tol) && failures++ < 5)
            ADD_FAILURE() << "C(" << i << ", " << j << ") = " << out.at(i, j) << ", " << best.at(i, j)
                          << " with the first target, tolerance " << tol;
        }
      EXPECT_EQ(failures, 0);
    }
  }
  nmode::set_simd_target(saved);
}

}  // namespace
