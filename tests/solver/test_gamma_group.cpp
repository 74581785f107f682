// The grouping key by gamma mod pi that orders work on the CPU (work items) and
// the GPU (tiles): always a valid group, the same group for gamma and gamma + k pi,
// and the float form (the GPU's) agreeing with the double form (the CPU's) except
// at group edges.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "nmode/detail/gamma_group.hpp"

namespace nmode {
namespace {

using detail::gamma_group;
using detail::kGammaGroups;

TEST(GammaGroup, EveryInputGetsAValidGroup) {
  const double inf = std::numeric_limits<double>::infinity(), nan = std::nan("");
  for (double g : {0.0, -0.0, 1e-300, -1e-300, M_PI / 2, -M_PI / 2, 1e15, -1e15, 1e300, -1e300, inf, -inf, nan,
                   std::numeric_limits<double>::max(), std::numeric_limits<double>::denorm_min()}) {
    const int d = gamma_group(g), f = gamma_group(static_cast<float>(g));
    EXPECT_TRUE(d >= 0 && d < kGammaGroups) << g << " -> " << d;
    EXPECT_TRUE(f >= 0 && f < kGammaGroups) << g << " -> " << f << " (float)";
  }
}

TEST(GammaGroup, IsTheRemainderModuloPiInEqualSlices) {
  // r in [-pi/2, pi/2) lands in slice floor((r/pi + 1/2) * kGammaGroups), for r and r + k pi.
  for (int slice = 0; slice < kGammaGroups; ++slice) {
    const double r = (double(slice) + 0.5) / kGammaGroups * M_PI - M_PI / 2;  // the slice's centre
    for (int k : {-20, -3, -1, 0, 1, 2, 7, 100}) {
      EXPECT_EQ(gamma_group(r + k * M_PI), slice) << "r " << r << " k " << k;
      EXPECT_EQ(gamma_group(static_cast<float>(r + k * M_PI)), slice) << "r " << r << " k " << k << " (float)";
    }
  }
}

TEST(GammaGroup, FloatAgreesWithDoubleAwayFromSliceEdges) {
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 4.0f);
  int differ = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    const float g = normal(rng);
    const int f = gamma_group(g), d = gamma_group(static_cast<double>(g));
    if (f != d) {
      ++differ;
      const int gap = std::abs(f - d);  // neighbours, or the two ends of the range (r = -pi/2 = pi/2 mod pi)
      EXPECT_TRUE(gap == 1 || gap == kGammaGroups - 1) << g << ": float " << f << ", double " << d;
    }
  }
  EXPECT_LT(differ, n / 1000) << "float and double should differ only next to slice edges";
}

}  // namespace
}  // namespace nmode
