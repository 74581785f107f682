// NMODE_HD marks per-element math compiled for both host and device: it is
// __host__ __device__ under nvcc and nothing for a host-only compiler. It also
// forces inlining, because the CPU solver vectorises only when the whole step
// (six right-hand sides, sincos, controller) is inlined into its SIMD loop.
#pragma once

#if defined(__CUDACC__)
#define NMODE_HD __host__ __device__ __attribute__((always_inline))
#elif defined(__GNUC__)
#define NMODE_HD __attribute__((always_inline))
#else
#define NMODE_HD
#endif
