// The SIMD target registry: names, what is compiled and supported, forcing a
// target. That each target's kernels do their job is shown by the solver and GEMM
// suites, which run once per supported target.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "nmode/error.hpp"
#include "nmode/simd.hpp"

namespace nmode {
namespace {

TEST(SimdTargets, NamesParseCaseInsensitively) {
  for (SimdTarget t : compiled_simd_targets()) {
    const std::string name = to_string(t);
    std::string upper = name;
    std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return std::toupper(c); });
    EXPECT_EQ(parse_simd_target(name), t);
    EXPECT_EQ(parse_simd_target(upper), t);
  }
}

TEST(SimdTargets, UnknownNameIsAnErrorListingTheKnownOnes) {
  try {
    parse_simd_target("avx1024");
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("avx1024"), std::string::npos) << what;
    EXPECT_NE(what.find("scalar"), std::string::npos) << what;
  }
}

TEST(SimdTargets, ScalarIsAlwaysCompiledAndSupportedAndListedLast) {
  const auto compiled = compiled_simd_targets();
  const auto supported = supported_simd_targets();
  ASSERT_FALSE(supported.empty());
  EXPECT_EQ(compiled.back(), SimdTarget::Scalar);
  EXPECT_EQ(supported.back(), SimdTarget::Scalar);
  for (SimdTarget t : supported)
    EXPECT_NE(std::find(compiled.begin(), compiled.end(), t), compiled.end()) << to_string(t);
}

TEST(SimdTargets, DefaultIsTheBestSupportedOneUnlessForced) {
  if (std::getenv("NMODE_SIMD")) GTEST_SKIP() << "NMODE_SIMD is set: the default is not in use";
  EXPECT_EQ(active_simd_target(), supported_simd_targets().front());
}

TEST(SimdTargets, ForcingASupportedTargetMakesItActive) {
  const SimdTarget before = active_simd_target();
  for (SimdTarget t : supported_simd_targets()) {
    set_simd_target(t);
    EXPECT_EQ(active_simd_target(), t);
  }
  set_simd_target(before);
}

TEST(SimdTargets, ForcingAnUnsupportedTargetIsRefused) {
  const auto supported = supported_simd_targets();
  for (SimdTarget t : {SimdTarget::Avx512, SimdTarget::Avx2, SimdTarget::Sse4}) {
    if (std::find(supported.begin(), supported.end(), t) != supported.end()) continue;
    EXPECT_THROW(set_simd_target(t), InvalidArgument) << to_string(t);
  }
  if (supported.size() == compiled_simd_targets().size()) SUCCEED() << "this CPU supports every compiled target";
}

}  // namespace
}  // namespace nmode
