// Solves one element with the installed library: the umbrella header and the
// static library with its dependencies (Highway, OpenMP) resolve from the package.
// Also checks nmode/version.hpp against NMODE_EXPECTED_VERSION, which the build passes.
#include <cstdio>
#include <cstring>
#include <string>

#include <nmode/nmode.hpp>

#ifndef NMODE_EXPECTED_VERSION
#error "build the consumer with -DNMODE_EXPECTED_VERSION=\"MAJOR.MINOR.PATCH\""
#endif

static_assert(NMODE_VERSION_MAJOR >= 0 && NMODE_VERSION_MINOR >= 0 && NMODE_VERSION_PATCH >= 0,
              "the version macros are integers usable in #if");
static_assert(nmode::version_string()[0] != '\0', "version_string() is constexpr");

int main() {
  const std::string parts = std::to_string(NMODE_VERSION_MAJOR) + "." + std::to_string(NMODE_VERSION_MINOR) +
                            "." + std::to_string(NMODE_VERSION_PATCH);
  if (std::strcmp(nmode::version_string(), NMODE_VERSION_STRING) != 0 || parts != NMODE_VERSION_STRING ||
      std::strcmp(NMODE_VERSION_STRING, NMODE_EXPECTED_VERSION) != 0) {
    std::printf("version mismatch: version_string() %s, NMODE_VERSION_STRING %s, macros %s, expected %s\n",
                nmode::version_string(), NMODE_VERSION_STRING, parts.c_str(), NMODE_EXPECTED_VERSION);
    return 1;
  }
  nmode::SolverOptions options;
  const float gamma = 0.5f;
  float y = 0.0f;
  nmode::SolveOutputs<float> out;
  out.y = &y;
  const nmode::SolveStats stats = nmode::solve_cpu<float>(options, 1, &gamma, nullptr, out);
  std::printf("nmode %s: y(1) = %.6f, %s, %s\n", nmode::version_string(), y,
              stats.converged == 1 ? "converged" : "failed", nmode::to_string(nmode::active_simd_target()));
  return stats.converged == 1 && y > 0.0f ? 0 : 1;
}
