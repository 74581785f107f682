// Tests for the natural perturbations: hand-computed small images for blur,
// resize and brightness, and statistical checks (with standard-error
// tolerances) plus determinism checks for the Gaussian noise.
#include "nmode/perturb.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "nmode/error.hpp"

namespace {

using nmode::Tensor;

Tensor image(int64_t rows, int64_t cols, const std::vector<float>& v) {
  Tensor t({1, rows * cols});
  EXPECT_EQ(static_cast<size_t>(t.size()), v.size());
  for (size_t i = 0; i < v.size(); ++i) t[static_cast<int64_t>(i)] = v[i];
  return t;
}

void expect_same(const Tensor& a, const Tensor& b) {
  ASSERT_EQ(a.shape(), b.shape());
  for (int64_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i], b[i]) << "at " << i;
}

// Expects InvalidArgument whose message names `param`.
template <typename F>
void expect_invalid(F f, const std::string& param) {
  try {
    f();
    ADD_FAILURE() << "no exception; expected one naming " << param;
  } catch (const nmode::InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find(param), std::string::npos) << e.what();
  }
}

// --------------------------------------------------------- brightness --------

TEST(Brightness, AddsAndClamps) {
  const Tensor x = image(2, 2, {0.0f, 0.3f, 0.8f, 1.0f});
  const Tensor up = nmode::brightness_shift(x, 0.3);
  const Tensor down = nmode::brightness_shift(x, -0.5);
  // float(double(x) + b): 1 ulp of float.
  EXPECT_FLOAT_EQ(up[0], 0.3f);
  EXPECT_FLOAT_EQ(up[1], 0.6f);
  EXPECT_EQ(up[2], 1.0f);
  EXPECT_EQ(up[3], 1.0f);
  EXPECT_EQ(down[0], 0.0f);
  EXPECT_EQ(down[1], 0.0f);
  EXPECT_FLOAT_EQ(down[2], 0.3f);
  EXPECT_FLOAT_EQ(down[3], 0.5f);
  expect_same(nmode::brightness_shift(x, 0.0), x);
  expect_invalid([&] { nmode::brightness_shift(x, std::numeric_limits<double>::quiet_NaN()); }, "b");
}

// ----------------------------------------------------------------- blur ------

// The test's own 1D kernel from OpenCV's σ rule: σ = 0.3((k−1)/2 − 1) + 0.8.
std::vector<double> kernel1d(int64_t k) {
  const double sigma = 0.3 * ((static_cast<double>(k) - 1.0) * 0.5 - 1.0) + 0.8;
  std::vector<double> g;
  double s = 0.0;
  for (int64_t j = -k / 2; j <= k / 2; ++j) {
    g.push_back(std::exp(-0.5 * static_cast<double>(j * j) / (sigma * sigma)));
    s += g.back();
  }
  for (double& v : g) v /= s;
  return g;
}

TEST(Blur, SigmaRule) {
  // k = 3: σ = 0.8, side tap e^{−1/1.28} relative to the centre.
  const std::vector<double> g = kernel1d(3);
  const double side = std::exp(-1.0 / 1.28);
  EXPECT_NEAR(g[0], side / (1.0 + 2.0 * side), 1e-15);
  EXPECT_NEAR(g[1], 1.0 / (1.0 + 2.0 * side), 1e-15);
}

TEST(Blur, DeltaGivesKernelOuterProduct) {
  // 5×5 delta in the centre, k = 3: the output is g ⊗ g around the centre.
  std::vector<float> v(25, 0.0f);
  v[12] = 1.0f;
  const Tensor y = nmode::gaussian_blur(image(5, 5, v), 5, 5, 3);
  const std::vector<double> g = kernel1d(3);
  double sum = 0.0;
  for (int r = 0; r < 5; ++r)
    for (int c = 0; c < 5; ++c) {
      const bool inside = r >= 1 && r <= 3 && c >= 1 && c <= 3;
      const double want = inside ? g[static_cast<size_t>(r - 1)] * g[static_cast<size_t>(c - 1)] : 0.0;
      EXPECT_NEAR(y[r * 5 + c], want, 1e-7) << r << "," << c;  // float output: half an ulp of ≤ 1
      EXPECT_EQ(y[r * 5 + c], y[c * 5 + r]);                    // symmetric under transpose
      EXPECT_EQ(y[r * 5 + c], y[(4 - r) * 5 + (4 - c)]);        // and under a half turn
      sum += y[r * 5 + c];
    }
  EXPECT_NEAR(sum, 1.0, 1e-6);  // mass kept away from the border (25 float roundings)
}

TEST(Blur, ReflectPaddingAtTheBorder) {
  // 4×4 delta at (1,1). 'reflect' mirrors without repeating the edge: the tap
  // left of column 0 reads column 1. Along one axis the delta at index 1 gives
  // h = [g_side + g_side, g_centre, g_side, 0] (replicate padding would give
  // g_side at index 0, zero padding g_side too); the 2D output is h ⊗ h.
  std::vector<float> v(16, 0.0f);
  v[5] = 1.0f;
  const Tensor y = nmode::gaussian_blur(image(4, 4, v), 4, 4, 3);
  const std::vector<double> g = kernel1d(3);
  const std::vector<double> h = {2.0 * g[0], g[1], g[2], 0.0};
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c) EXPECT_NEAR(y[r * 4 + c], h[static_cast<size_t>(r)] * h[static_cast<size_t>(c)], 1e-7);
}

TEST(Blur, IdentityConstantsAndWideKernels) {
  const Tensor x = image(3, 5, {0.1f, 0.9f, 0.3f, 0.0f, 1.0f, 0.5f, 0.25f, 0.75f, 0.6f, 0.2f, 0.4f, 0.8f, 0.05f, 0.95f, 0.7f});
  expect_same(nmode::gaussian_blur(x, 3, 5, 1), x);
  // A constant image stays constant for any kernel, including kernels wider than the image.
  for (int64_t k : {3, 5, 7, 9, 11}) {
    const Tensor y = nmode::gaussian_blur(Tensor({2, 15}, 0.37f), 3, 5, k);
    for (int64_t i = 0; i < y.size(); ++i) EXPECT_NEAR(y[i], 0.37f, 1e-7) << "k " << k;  // rounding of Σ taps
  }
  // Non-square, batch of 2: each image is blurred on its own (second = first shifted by a constant 0).
  Tensor two({2, 15});
  for (int64_t i = 0; i < 15; ++i) two[i] = two[15 + i] = x[i];
  const Tensor y2 = nmode::gaussian_blur(two, 3, 5, 3);
  const Tensor y1 = nmode::gaussian_blur(x, 3, 5, 3);
  for (int64_t i = 0; i < 15; ++i) {
    EXPECT_EQ(y2[i], y1[i]);
    EXPECT_EQ(y2[15 + i], y1[i]);
  }
  // A naive 2D (non-separable) reflect-padded convolution written here.
  const std::vector<double> g = kernel1d(5);
  auto refl = [](int64_t i, int64_t n) {
    while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;
    return i;
  };
  const Tensor y5 = nmode::gaussian_blur(x, 3, 5, 5);
  for (int64_t r = 0; r < 3; ++r)
    for (int64_t c = 0; c < 5; ++c) {
      double s = 0.0;
      for (int64_t a = -2; a <= 2; ++a)
        for (int64_t b = -2; b <= 2; ++b)
          s += g[static_cast<size_t>(a + 2)] * g[static_cast<size_t>(b + 2)] * x[refl(r + a, 3) * 5 + refl(c + b, 5)];
      EXPECT_NEAR(y5[r * 5 + c], s, 1e-6) << r << "," << c;  // float output of a double sum
    }
}

// --------------------------------------------------------------- resize ------

TEST(Resize, FourToTwoToFourByHand) {
  // Down 4 → 2 with half-pixel centres: s = (d + 0.5)·2 − 0.5 ∈ {0.5, 2.5}, the
  // mean of each 2×2 block. Blocks: [[0, .2], [.4, .6]] → 0.3, all ones → 1,
  // zeros → 0, [[.5, .5], [.1, .1]] → 0.3; so D = [[0.3, 1], [0, 0.3]].
  // Up 2 → 4: s = (d + 0.5)/2 − 0.5 = −0.25 (clamped to 0), 0.25, 0.75, 1.25
  // (upper neighbour clamped), i.e. weights (1,0), (.75,.25), (.25,.75), (0,1).
  // Row 0 of D → [0.3, .75·.3+.25·1 = .475, .25·.3+.75·1 = .825, 1];
  // row 1 of D → [0, .075, .225, .3]. Output rows mix those two the same way:
  // row 1 = .75·R0 + .25·R1 = [.225, .375, .675, .825],
  // row 2 = .25·R0 + .75·R1 = [.075, .175, .375, .475].
  const Tensor x = image(4, 4, {0.0f, 0.2f, 1.0f, 1.0f,  //
                                0.4f, 0.6f, 1.0f, 1.0f,  //
                                0.0f, 0.0f, 0.5f, 0.5f,  //
                                0.0f, 0.0f, 0.1f, 0.1f});
  const std::vector<double> want = {0.3,   0.475, 0.825, 1.0,    //
                                    0.225, 0.375, 0.675, 0.825,  //
                                    0.075, 0.175, 0.375, 0.475,  //
                                    0.0,   0.075, 0.225, 0.3};
  const Tensor y = nmode::resize_down_up(x, 4, 4, 2);
  for (int64_t i = 0; i < 16; ++i) EXPECT_NEAR(y[i], want[static_cast<size_t>(i)], 1e-6) << i;  // inputs like 0.2f are inexact
}

TEST(Resize, DownToOnePixelReadsTheCentre) {
  // l = 1 without antialiasing: s = 0.5·4 − 0.5 = 1.5, the mean of rows/cols 1
  // and 2 only (not of the whole image); up again every pixel is that value.
  const Tensor x = image(4, 4, {9, 9, 9, 9, 9, 0.2f, 0.4f, 9, 9, 0.6f, 0.8f, 9, 9, 9, 9, 9});
  const Tensor y = nmode::resize_down_up(x, 4, 4, 1);
  for (int64_t i = 0; i < 16; ++i) EXPECT_NEAR(y[i], 0.5f, 1e-6);
}

TEST(Resize, IdentityAndConstants) {
  Tensor x({3, 36});
  for (int64_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 37) % 101) / 100.0f;
  expect_same(nmode::resize_down_up(x, 6, 6, 6), x);
  for (int64_t l : {1, 2, 3, 4, 5, 7, 12}) {
    const Tensor y = nmode::resize_down_up(Tensor({2, 36}, 0.42f), 6, 6, l);
    for (int64_t i = 0; i < y.size(); ++i) EXPECT_NEAR(y[i], 0.42f, 1e-7) << "l " << l;  // weights sum to 1
  }
  // Non-square image: 4×6 down to 2×2 and back stays in range and has the shape.
  const Tensor ns = nmode::resize_down_up(Tensor({1, 24}, 1.0f), 4, 6, 2);
  ASSERT_EQ(ns.shape(), (std::vector<int64_t>{1, 24}));
  for (int64_t i = 0; i < 24; ++i) EXPECT_NEAR(ns[i], 1.0f, 1e-7);
}

// ---------------------------------------------------------------- noise ------

TEST(Noise, MeanAndStandardDeviation) {
  // 50 images of 28×28 at 0.5 with σ = 0.05: clamping needs |z| > 10, never.
  const int64_t n = 50, px = 784;
  const double sigma = 0.05;
  const Tensor y = nmode::gaussian_noise(Tensor({n, px}, 0.5f), 28, 28, sigma, 1234);
  const double count = static_cast<double>(n * px);
  double s = 0.0, s2 = 0.0, within = 0.0, lag = 0.0;
  for (int64_t i = 0; i < y.size(); ++i) {
    const double d = static_cast<double>(y[i]) - 0.5;
    s += d;
    s2 += d * d;
    within += std::fabs(d) < sigma ? 1.0 : 0.0;
    if (i % px != px - 1) lag += d * (static_cast<double>(y[i + 1]) - 0.5);
  }
  const double mean = s / count, sd = std::sqrt(s2 / count - mean * mean);
  // 5 standard errors: σ/√N for the mean, σ/√(2N) for the std, √(p(1−p)/N)
  // for the 1σ fraction p = 0.6827, and σ²/√N for the neighbour covariance
  // (Box–Muller's cos/sin pair must be uncorrelated).
  EXPECT_NEAR(mean, 0.0, 5.0 * sigma / std::sqrt(count));
  EXPECT_NEAR(sd, sigma, 5.0 * sigma / std::sqrt(2.0 * count));
  EXPECT_NEAR(within / count, 0.682689, 5.0 * std::sqrt(0.682689 * 0.317311 / count));
  EXPECT_NEAR(lag / count, 0.0, 5.0 * sigma * sigma / std::sqrt(count));
}

TEST(Noise, ClampsToUnitInterval) {
  const Tensor y = nmode::gaussian_noise(Tensor({4, 100}, 0.9f), 10, 10, 0.5, 7);
  int ones = 0, zeros = 0;
  for (int64_t i = 0; i < y.size(); ++i) {
    ASSERT_GE(y[i], 0.0f);
    ASSERT_LE(y[i], 1.0f);
    ones += y[i] == 1.0f;
    zeros += y[i] == 0.0f;
  }
  // P(z > 0.2) ≈ 0.42 and P(z < −1.8) ≈ 0.036 over 400 pixels: both occur.
  EXPECT_GT(ones, 100);
  EXPECT_GT(zeros, 0);
  expect_same(nmode::gaussian_noise(Tensor({2, 9}, 0.3f), 3, 3, 0.0, 5), Tensor({2, 9}, 0.3f));
}

TEST(Noise, DeterministicAndIndependentOfBatching) {
  Tensor x({10, 25});
  for (int64_t i = 0; i < x.size(); ++i) x[i] = 0.5f;
  const Tensor a = nmode::gaussian_noise(x, 5, 5, 0.1, 42);
  expect_same(nmode::gaussian_noise(x, 5, 5, 0.1, 42), a);
  const Tensor other = nmode::gaussian_noise(x, 5, 5, 0.1, 43);
  int differ = 0;
  for (int64_t i = 0; i < a.size(); ++i) differ += a[i] != other[i];
  EXPECT_GT(differ, 240);  // a different seed changes (almost) every pixel

  // Images 3..6 as their own batch with first_index = 3 get the same noise.
  Tensor part({4, 25});
  for (int64_t i = 0; i < part.size(); ++i) part[i] = x[3 * 25 + i];
  const Tensor p = nmode::gaussian_noise(part, 5, 5, 0.1, 42, 3);
  for (int64_t i = 0; i < p.size(); ++i) ASSERT_EQ(p[i], a[3 * 25 + i]) << i;

  // Different images do not get the same noise, and the noise of one image
  // does not depend on what the other images hold.
  int same = 0;
  for (int64_t i = 0; i < 25; ++i) same += a[i] == a[25 + i];
  EXPECT_LT(same, 3);
  Tensor x2 = x;
  for (int64_t i = 25; i < x2.size(); ++i) x2[i] = 0.2f;
  const Tensor b = nmode::gaussian_noise(x2, 5, 5, 0.1, 42);
  for (int64_t i = 0; i < 25; ++i) ASSERT_EQ(b[i], a[i]);

#ifdef _OPENMP
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const Tensor one = nmode::gaussian_noise(x, 5, 5, 0.1, 42);
  omp_set_num_threads(3);
  const Tensor three = nmode::gaussian_noise(x, 5, 5, 0.1, 42);
  omp_set_num_threads(threads);
  expect_same(one, a);
  expect_same(three, a);
#endif
}

TEST(Noise, OddPixelCount) {
  // 3×3 = 9 pixels: the last Box–Muller pair is half used; every pixel still moves.
  const Tensor y = nmode::gaussian_noise(Tensor({1, 9}, 0.5f), 3, 3, 0.1, 9);
  for (int64_t i = 0; i < 9; ++i) EXPECT_NE(y[i], 0.5f) << i;
}

// ---------------------------------------------------------- arguments --------

TEST(Perturb, RejectsInvalidArguments) {
  const Tensor x({2, 16}, 0.5f);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  expect_invalid([&] { nmode::gaussian_noise(x, 4, 4, -0.1, 1); }, "sigma");
  expect_invalid([&] { nmode::gaussian_noise(x, 4, 4, nan, 1); }, "sigma");
  expect_invalid([&] { nmode::gaussian_noise(x, 4, 4, std::numeric_limits<double>::infinity(), 1); }, "sigma");
  expect_invalid([&] { nmode::gaussian_noise(x, 4, 4, 0.1, 1, -1); }, "first_index");
  expect_invalid([&] { nmode::gaussian_blur(x, 4, 4, 2); }, "kernel");
  expect_invalid([&] { nmode::gaussian_blur(x, 4, 4, 0); }, "kernel");
  expect_invalid([&] { nmode::gaussian_blur(x, 4, 4, -3); }, "kernel");
  expect_invalid([&] { nmode::resize_down_up(x, 4, 4, 0); }, "l ");
  // Shapes: (n, rows*cols) required, and the message shows the shape it got.
  expect_invalid([&] { nmode::gaussian_noise(Tensor({2, 15}), 4, 4, 0.1, 1); }, "(2, 15)");
  expect_invalid([&] { nmode::gaussian_blur(Tensor({16}), 4, 4, 3); }, "(16)");
  expect_invalid([&] { nmode::resize_down_up(Tensor({1, 4, 4}), 4, 4, 2); }, "(1, 4, 4)");
  expect_invalid([&] { nmode::resize_down_up(x, 0, 16, 2); }, "rows");
  expect_invalid([&] { nmode::gaussian_blur(x, 16, -1, 3); }, "cols");
  // An empty batch is fine.
  EXPECT_EQ(nmode::gaussian_blur(Tensor({0, 16}), 4, 4, 3).size(), 0);
}

}  // namespace
