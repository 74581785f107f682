// The CUDA solver in a build without the CUDA backend: the entry points exist so
// that callers compile everywhere, and calling them says how to get the GPU path.
// The real implementation is kernels/solver/cuda_solver.cu.
#include "nmode/cuda_solver.hpp"
#include "nmode/error.hpp"

namespace nmode {

#if !defined(NMODE_HAS_CUDA)
SolveStats solve_cuda(const SolverOptions&, int64_t, const float*, const float*, const SolveOutputs<float>&,
                      const CudaSolveOptions&) {
  throw Error("nmode was built without the CUDA backend; rebuild with nvcc present and NMODE_CUDA=AUTO or ON");
}
int cuda_solve_stat_slots() { return 0; }  // no solve can be deferred without the backend
SolveStats cuda_solve_stats(const unsigned long long*) { return SolveStats{}; }
SolveStats solve_cuda_from_host(const SolverOptions& o, int64_t n, const float* g, const float* y0,
                                const SolveOutputs<float>& out) {
  return solve_cuda(o, n, g, y0, out);
}
CudaSolveTiming time_solve_cuda(const SolverOptions& o, int64_t n, const float* g, bool, int, CudaOrder) {
  solve_cuda(o, n, g, nullptr, SolveOutputs<float>{});
  return {};
}
#endif

}  // namespace nmode
