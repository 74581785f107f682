// NMODE_HD marks per-element math compiled for both host and device: it is
// __host__ __device__ under nvcc and nothing for a host-only compiler.
#pragma once

#if defined(__CUDACC__)
#define NMODE_HD __host__ __device__
#else
#define NMODE_HD
#endif
