// Helpers for the solver tests: a thin wrapper that solves a vector of gammas, and
// the golden reference file loader.
#pragma once

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "nmode/ode.hpp"

namespace nmode::test {

template <class T>
struct Solved {
  std::vector<T> y, dy_dgamma, dy_dlambda, dy_dy0;
  std::vector<ElementStatus> status;
  std::vector<int32_t> accepted_steps;
  SolveStats stats;
};

// Keeps T deduced from gamma alone, so y0 may be passed as nullptr.
template <class T>
struct NoDeduce {
  using type = T;
};

template <class T>
Solved<T> solve_vector(const SolverOptions& o, const std::vector<T>& gamma, bool sensitivities,
                       const typename NoDeduce<std::vector<T>>::type* y0 = nullptr, Device device = Device::Cpu) {
  Solved<T> r;
  const size_t n = gamma.size();
  r.y.assign(n, T(-7));
  r.status.assign(n, ElementStatus::Converged);
  r.accepted_steps.assign(n, -1);
  SolveOutputs<T> out;
  out.y = r.y.data();
  out.status = r.status.data();
  out.accepted_steps = r.accepted_steps.data();
  if (sensitivities) {
    r.dy_dgamma.assign(n, T(-7));
    r.dy_dlambda.assign(n, T(-7));
    r.dy_dy0.assign(n, T(-7));
    out.dy_dgamma = r.dy_dgamma.data();
    out.dy_dlambda = r.dy_dlambda.data();
    out.dy_dy0 = r.dy_dy0.data();
  }
  r.stats = solve(o, static_cast<int64_t>(n), gamma.data(), y0 ? y0->data() : nullptr, out, device);
  return r;
}

inline nlohmann::json load_golden() {
  std::ifstream in(std::string(NMODE_TEST_DATA_DIR) + "/golden-ode.json");
  return nlohmann::json::parse(in);
}

}  // namespace nmode::test
