// Which SIMD target runs: what was compiled (Highway's HWY_TARGETS, the same list
// for every dispatching source file) and what the CPU supports (hwy::SupportedTargets,
// which checks the operating system saves the wider registers too).
#include "nmode/simd.hpp"

#include <hwy/targets.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdlib>
#include <mutex>

#include "core/names.hpp"
#include "nmode/error.hpp"

namespace nmode {
namespace {

constexpr SimdTarget kAllTargets[] = {SimdTarget::Avx512, SimdTarget::Avx2, SimdTarget::Sse4, SimdTarget::Scalar};
constexpr Named<SimdTarget> kTargetNames[] = {
    {SimdTarget::Avx512, "avx512"}, {SimdTarget::Avx2, "avx2"}, {SimdTarget::Sse4, "sse4"}, {SimdTarget::Scalar, "scalar"}};

// The Highway target behind each of ours; 0 for Scalar, which is plain C++.
int64_t highway_target(SimdTarget target) {
  switch (target) {
#if HWY_ARCH_X86
    case SimdTarget::Avx512: return HWY_AVX3;
    case SimdTarget::Avx2: return HWY_AVX2;
    case SimdTarget::Sse4: return HWY_SSE4;
#else
    case SimdTarget::Avx512:
    case SimdTarget::Avx2:
    case SimdTarget::Sse4: return -1;  // not this architecture
#endif
    case SimdTarget::Scalar: return 0;
  }
  return -1;
}

bool compiled(SimdTarget target) {
  const int64_t bit = highway_target(target);
  return bit == 0 || (bit > 0 && (HWY_TARGETS & bit) != 0);
}

bool supported(SimdTarget target) {
  const int64_t bit = highway_target(target);
  return compiled(target) && (bit == 0 || (hwy::SupportedTargets() & bit) != 0);
}

std::string names(const std::vector<SimdTarget>& targets) {
  std::string s;
  for (SimdTarget t : targets) s += (s.empty() ? "" : ", ") + std::string(to_string(t));
  return s;
}

std::mutex g_mutex;
bool g_chosen = false;
SimdTarget g_target = SimdTarget::Scalar;
std::string g_error;  // set when NMODE_SIMD was invalid
std::atomic<int> g_fast{-1};  // the chosen target once known, for the lock-free path

SimdTarget from_environment() {
  const char* env = std::getenv("NMODE_SIMD");
  if (env == nullptr || *env == '\0') return supported_simd_targets().front();
  const SimdTarget t = parse_simd_target(env);
  if (!supported(t))
    throw InvalidArgument("NMODE_SIMD=" + std::string(env) + ": this CPU cannot run " + to_string(t) +
                          " (supported here: " + names(supported_simd_targets()) + ")");
  return t;
}

}  // namespace

const char* to_string(SimdTarget target) { return name_in(kTargetNames, target); }

SimdTarget parse_simd_target(const std::string& name) {
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  for (SimdTarget t : kAllTargets)
    if (lower == to_string(t)) {
      if (!compiled(t))
        throw InvalidArgument("SIMD target '" + name + "' is not compiled into this build (compiled: " +
                              names(compiled_simd_targets()) + ")");
      return t;
    }
  throw InvalidArgument("unknown SIMD target '" + name + "' (known: avx512, avx2, sse4, scalar)");
}

std::vector<SimdTarget> compiled_simd_targets() {
  std::vector<SimdTarget> out;
  for (SimdTarget t : kAllTargets)
    if (compiled(t)) out.push_back(t);
  return out;
}

std::vector<SimdTarget> supported_simd_targets() {
  std::vector<SimdTarget> out;
  for (SimdTarget t : kAllTargets)
    if (supported(t)) out.push_back(t);
  return out;
}

SimdTarget active_simd_target() {
  const int fast = g_fast.load(std::memory_order_acquire);
  if (fast >= 0) return static_cast<SimdTarget>(fast);
  std::lock_guard<std::mutex> lock(g_mutex);
  if (!g_chosen) {
    g_chosen = true;
    try {
      g_target = from_environment();
    } catch (const InvalidArgument& e) {
      g_error = e.what();
    }
  }
  if (!g_error.empty()) throw InvalidArgument(g_error);
  g_fast.store(static_cast<int>(g_target), std::memory_order_release);
  return g_target;
}

void set_simd_target(SimdTarget target) {
  if (!supported(target))
    throw InvalidArgument(std::string("SIMD target ") + to_string(target) + " is not supported here (supported: " +
                          names(supported_simd_targets()) + ")");
  std::lock_guard<std::mutex> lock(g_mutex);
  g_chosen = true;
  g_error.clear();
  g_target = target;
  g_fast.store(static_cast<int>(target), std::memory_order_release);
}

}  // namespace nmode
