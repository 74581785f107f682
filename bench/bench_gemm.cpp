// GFLOP/s of nmode::sgemm at the reference model's shapes (784-2048-10 MLP, batch
// 256), at 1 and 2 threads, each next to OpenBLAS's cblas_sgemm on the same
// product when NMODE_BENCH_OPENBLAS is defined. Names read
// <shape>/threads:<n>/<impl>, so the two implementations sit on adjacent lines.
// nmode runs the SIMD target this CPU does best; NMODE_SIMD=avx2 (avx512, sse4,
// scalar) forces one, and the context lines name the target and its kernel.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "nmode/error.hpp"
#include "nmode/gemm.hpp"
#include "bench_context.hpp"
#include "nmode/simd.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif
#ifdef NMODE_BENCH_OPENBLAS
#include <cblas.h>
#endif

namespace {

struct Shape {
  const char* name;
  nmode::Trans trans_a;
  nmode::Trans trans_b;
  int64_t M, N, K;
};

// The products one training step of the 784-2048-10 model performs at batch 256.
const Shape kShapes[] = {
    // Hidden forward X * W^T: X (256, 784), W stored (2048, 784).
    {"fwd_hidden_256x2048x784", nmode::Trans::No, nmode::Trans::Yes, 256, 2048, 784},
    // Hidden input gradient dX = dY * W: dY (256, 2048), W (2048, 784).
    {"bwd_dx_256x784x2048", nmode::Trans::No, nmode::Trans::No, 256, 784, 2048},
    // Hidden weight gradient dW = dY^T * X: dY stored (256, 2048), X (256, 784).
    {"bwd_dw_2048x784x256", nmode::Trans::Yes, nmode::Trans::No, 2048, 784, 256},
    // Output forward H * W^T: H (256, 2048), W stored (10, 2048).
    {"fwd_out_256x10x2048", nmode::Trans::No, nmode::Trans::Yes, 256, 10, 2048},
};

struct Operands {
  std::vector<float> a, b, c;
  int64_t lda, ldb, ldc;
};

Operands make_operands(const Shape& s) {
  Operands o;
  const int64_t a_rows = s.trans_a == nmode::Trans::No ? s.M : s.K;
  o.lda = s.trans_a == nmode::Trans::No ? s.K : s.M;
  const int64_t b_rows = s.trans_b == nmode::Trans::No ? s.K : s.N;
  o.ldb = s.trans_b == nmode::Trans::No ? s.N : s.K;
  o.ldc = s.N;
  o.a.resize(static_cast<size_t>(a_rows * o.lda));
  o.b.resize(static_cast<size_t>(b_rows * o.ldb));
  o.c.assign(static_cast<size_t>(s.M * s.N), 0.0f);
  // Cheap deterministic values in [-1, 1); the data does not affect the timing.
  uint32_t state = 12345u;
  auto next = [&state] {
    state = state * 1664525u + 1013904223u;
    return static_cast<float>(state >> 8) / 8388608.0f - 1.0f;
  };
  for (float& v : o.a) v = next();
  for (float& v : o.b) v = next();
  return o;
}

// Both OpenMP's and OpenBLAS's idle worker threads keep spinning for a while after
// a parallel call (libgomp about 3 ms, OpenBLAS up to about 0.1 s); on a 2-core
// machine such a spinner steals a core from whichever runtime is timed next.
// Pausing before each timed loop lets them go to sleep first.
void settle() { std::this_thread::sleep_for(std::chrono::milliseconds(150)); }

void set_rate(benchmark::State& state, const Shape& s) {
  const double flops = 2.0 * static_cast<double>(s.M) * static_cast<double>(s.N) * static_cast<double>(s.K);
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * 1e-9 * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void bm_nmode(benchmark::State& state, Shape s, int threads) {
#ifdef _OPENMP
  omp_set_num_threads(threads);
#else
  if (threads != 1) {
    state.SkipWithError("built without OpenMP");
    return;
  }
#endif
  Operands o = make_operands(s);
  settle();
  for (auto _ : state) {
    nmode::sgemm(s.trans_a, s.trans_b, s.M, s.N, s.K, 1.0f, o.a.data(), o.lda, o.b.data(), o.ldb, 0.0f,
                 o.c.data(), o.ldc);
    benchmark::DoNotOptimize(o.c.data());
    benchmark::ClobberMemory();
  }
  set_rate(state, s);
}

#ifdef NMODE_BENCH_OPENBLAS
CBLAS_TRANSPOSE cblas_trans(nmode::Trans t) { return t == nmode::Trans::No ? CblasNoTrans : CblasTrans; }

void bm_openblas(benchmark::State& state, Shape s, int threads) {
  openblas_set_num_threads(threads);
  Operands o = make_operands(s);
  settle();
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, cblas_trans(s.trans_a), cblas_trans(s.trans_b), static_cast<int>(s.M),
                static_cast<int>(s.N), static_cast<int>(s.K), 1.0f, o.a.data(), static_cast<int>(o.lda),
                o.b.data(), static_cast<int>(o.ldb), 0.0f, o.c.data(), static_cast<int>(o.ldc));
    benchmark::DoNotOptimize(o.c.data());
    benchmark::ClobberMemory();
  }
  set_rate(state, s);
}
#endif

void add_openblas_context() {
#ifdef NMODE_BENCH_OPENBLAS
  benchmark::AddCustomContext("openblas_core", openblas_get_corename());
  benchmark::AddCustomContext("openblas_config", openblas_get_config());
#endif
}

void register_all() {
  for (const Shape& s : kShapes) {
    for (int threads : {1, 2}) {
      const std::string base = std::string("sgemm/") + s.name + "/threads:" + std::to_string(threads);
      benchmark::RegisterBenchmark((base + "/nmode").c_str(), bm_nmode, s, threads)
          ->Unit(benchmark::kMicrosecond)
          ->UseRealTime();
#ifdef NMODE_BENCH_OPENBLAS
      benchmark::RegisterBenchmark((base + "/openblas").c_str(), bm_openblas, s, threads)
          ->Unit(benchmark::kMicrosecond)
          ->UseRealTime();
#endif
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  // Here rather than at static initialisation, so that an NMODE_SIMD this CPU
  // cannot run is reported instead of terminating the program.
  if (!nmode::bench::add_simd_context("bench_gemm")) return 2;
  add_openblas_context();
  register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
