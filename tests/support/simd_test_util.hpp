// Runs a test suite once per SIMD target this CPU supports (scalar included), the
// target set through the same mechanism as NMODE_SIMD; the previous target is
// restored afterwards. Use TEST_P on a suite declared with NMODE_PER_SIMD_TARGET.
#pragma once

#include <gtest/gtest.h>

#include <ostream>
#include <string>

#include "nmode/simd.hpp"

namespace nmode::test {

class PerSimdTarget : public ::testing::TestWithParam<SimdTarget> {
 protected:
  void SetUp() override {
    previous_ = active_simd_target();
    set_simd_target(GetParam());
  }
  void TearDown() override { set_simd_target(previous_); }

 private:
  SimdTarget previous_ = SimdTarget::Scalar;
};

inline std::string simd_target_name(const ::testing::TestParamInfo<SimdTarget>& info) {
  return to_string(info.param);
}

}  // namespace nmode::test

// Declares the fixture `suite` and instantiates it for every supported target.
#define NMODE_PER_SIMD_TARGET(suite)                                                        \
  class suite : public ::nmode::test::PerSimdTarget {};                                     \
  INSTANTIATE_TEST_SUITE_P(Simd, suite, ::testing::ValuesIn(::nmode::supported_simd_targets()), \
                           ::nmode::test::simd_target_name)

namespace nmode {
// Names the target in gtest messages instead of its bytes.
inline void PrintTo(SimdTarget target, std::ostream* os) { *os << to_string(target); }
}  // namespace nmode
