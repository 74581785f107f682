// Solves one element with the installed library: the umbrella header and the
// static library with its dependencies (Highway, OpenMP) resolve from the package.
#include <cstdio>

#include <nmode/nmode.hpp>

int main() {
  nmode::SolverOptions options;
  const float gamma = 0.5f;
  float y = 0.0f;
  nmode::SolveOutputs<float> out;
  out.y = &y;
  const nmode::SolveStats stats = nmode::solve_cpu<float>(options, 1, &gamma, nullptr, out);
  std::printf("y(1) = %.6f, %s, %s\n", y, stats.converged == 1 ? "converged" : "failed",
              nmode::to_string(nmode::active_simd_target()));
  return stats.converged == 1 && y > 0.0f ? 0 : 1;
}
