// Natural perturbations of grayscale image batches (noise, resize, blur,
// brightness). Each image is processed independently, so OpenMP over images
// cannot change any result.
#include "nmode/perturb.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "core/numbers.hpp"
#include "nmode/error.hpp"

namespace nmode {
namespace {

// x must be (n, rows*cols) with rows, cols ≥ 1.
void check_images(const Tensor& x, int64_t rows, int64_t cols, const char* fn) {
  if (rows < 1 || cols < 1)
    throw InvalidArgument(std::string(fn) + ": rows and cols must be >= 1, got rows = " + std::to_string(rows) +
                          ", cols = " + std::to_string(cols));
  if (x.rank() != 2 || x.dim(1) != rows * cols)
    throw InvalidArgument(std::string(fn) + ": x must have shape (n, rows*cols) = (n, " +
                          std::to_string(rows * cols) + "), got " + x.shape_string());
}

float clamp01(double v) { return static_cast<float>(std::min(1.0, std::max(0.0, v))); }

// SplitMix64 (Steele, Lea, Flood 2014): the output for counter c of a stream
// with state s is mix(s + (c+1)·γ); used here as a stateless hash.
uint64_t splitmix64(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Uniform in (0, 1]: never 0, so log(u) in Box–Muller is finite.
double uniform_open0(uint64_t bits) { return static_cast<double>((bits >> 11) + 1) * 0x1.0p-53; }

// Bilinear taps for one axis (half-pixel centres, torch's align_corners=false).
struct Tap {
  int64_t i0, i1;
  double w1;  // weight of i1; i0 gets 1 − w1
};

std::vector<Tap> linear_taps(int64_t in, int64_t out) {
  std::vector<Tap> taps(static_cast<size_t>(out));
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  for (int64_t d = 0; d < out; ++d) {
    const double s = std::max(0.0, (static_cast<double>(d) + 0.5) * scale - 0.5);
    const int64_t i0 = std::min(static_cast<int64_t>(s), in - 1);
    const int64_t i1 = std::min(i0 + 1, in - 1);
    taps[static_cast<size_t>(d)] = {i0, i1, s - static_cast<double>(i0)};
  }
  return taps;
}

// src: (in_r, in_c) -> dst: (out_r, out_c), separable bilinear.
void bilinear(const double* src, int64_t in_r, int64_t in_c, double* dst, int64_t out_r, int64_t out_c) {
  const std::vector<Tap> tr = linear_taps(in_r, out_r), tc = linear_taps(in_c, out_c);
  for (int64_t r = 0; r < out_r; ++r) {
    const Tap& a = tr[static_cast<size_t>(r)];
    const double* row0 = src + a.i0 * in_c;
    const double* row1 = src + a.i1 * in_c;
    for (int64_t c = 0; c < out_c; ++c) {
      const Tap& b = tc[static_cast<size_t>(c)];
      const double top = (1.0 - b.w1) * row0[b.i0] + b.w1 * row0[b.i1];
      const double bot = (1.0 - b.w1) * row1[b.i0] + b.w1 * row1[b.i1];
      dst[r * out_c + c] = (1.0 - a.w1) * top + a.w1 * bot;
    }
  }
}

// 'reflect' index for any integer i into [0, n): mirror about 0 and n − 1.
int64_t reflect(int64_t i, int64_t n) {
  if (n == 1) return 0;
  const int64_t period = 2 * (n - 1);
  int64_t m = i % period;
  if (m < 0) m += period;
  return m < n ? m : period - m;
}

}  // namespace

Tensor gaussian_noise(const Tensor& x, int64_t rows, int64_t cols, double sigma, uint64_t seed,
                      int64_t first_index) {
  check_images(x, rows, cols, "gaussian_noise");
  if (!(sigma >= 0.0) || !std::isfinite(sigma))
    throw InvalidArgument("gaussian_noise: sigma must be finite and >= 0, got " + exact_decimal(sigma));
  if (first_index < 0)
    throw InvalidArgument("gaussian_noise: first_index must be >= 0, got " + std::to_string(first_index));
  const int64_t n = x.dim(0), pixels = rows * cols;
  Tensor out(x.shape());
  const double two_pi = 6.283185307179586476925286766559;
  const uint64_t seed_key = splitmix64(seed);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t key = splitmix64(seed_key ^ static_cast<uint64_t>(first_index + i));
    const float* xi = x.data() + i * pixels;
    float* oi = out.data() + i * pixels;
    // Box–Muller turns uniforms (2q, 2q+1) into the normals of pixels 2q and 2q+1.
    for (int64_t p = 0; p < pixels; p += 2) {
      const double u1 = uniform_open0(splitmix64(key + static_cast<uint64_t>(p)));
      const double u2 = uniform_open0(splitmix64(key + static_cast<uint64_t>(p + 1)));
      const double rad = std::sqrt(-2.0 * std::log(u1));
      oi[p] = clamp01(static_cast<double>(xi[p]) + sigma * rad * std::cos(two_pi * u2));
      if (p + 1 < pixels) oi[p + 1] = clamp01(static_cast<double>(xi[p + 1]) + sigma * rad * std::sin(two_pi * u2));
    }
  }
  return out;
}

Tensor resize_down_up(const Tensor& x, int64_t rows, int64_t cols, int64_t l) {
  check_images(x, rows, cols, "resize_down_up");
  if (l < 1) throw InvalidArgument("resize_down_up: l (the intermediate size) must be >= 1, got " + std::to_string(l));
  if (l == rows && l == cols) return x;
  const int64_t n = x.dim(0), pixels = rows * cols;
  Tensor out(x.shape());
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    std::vector<double> src(x.data() + i * pixels, x.data() + (i + 1) * pixels);
    std::vector<double> small(static_cast<size_t>(l * l)), back(static_cast<size_t>(pixels));
    bilinear(src.data(), rows, cols, small.data(), l, l);
    bilinear(small.data(), l, l, back.data(), rows, cols);
    for (int64_t p = 0; p < pixels; ++p) out[i * pixels + p] = clamp01(back[static_cast<size_t>(p)]);
  }
  return out;
}

Tensor gaussian_blur(const Tensor& x, int64_t rows, int64_t cols, int64_t kernel) {
  check_images(x, rows, cols, "gaussian_blur");
  if (kernel < 1 || kernel % 2 == 0)
    throw InvalidArgument("gaussian_blur: kernel must be an odd size >= 1, got " + std::to_string(kernel));
  if (kernel == 1) return x;
  const int64_t radius = kernel / 2;
  // OpenCV's getGaussianKernel rule for σ when only the size is given.
  const double sigma = 0.3 * ((static_cast<double>(kernel) - 1.0) * 0.5 - 1.0) + 0.8;
  std::vector<double> taps(static_cast<size_t>(kernel));
  double total = 0.0;
  for (int64_t j = -radius; j <= radius; ++j) {
    const double t = std::exp(-static_cast<double>(j * j) / (2.0 * sigma * sigma));
    taps[static_cast<size_t>(j + radius)] = t;
    total += t;
  }
  for (double& t : taps) t /= total;

  const int64_t n = x.dim(0), pixels = rows * cols;
  Tensor out(x.shape());
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float* xi = x.data() + i * pixels;
    std::vector<double> horiz(static_cast<size_t>(pixels));
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) {
        double s = 0.0;
        for (int64_t j = -radius; j <= radius; ++j)
          s += taps[static_cast<size_t>(j + radius)] * static_cast<double>(xi[r * cols + reflect(c + j, cols)]);
        horiz[static_cast<size_t>(r * cols + c)] = s;
      }
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) {
        double s = 0.0;
        for (int64_t j = -radius; j <= radius; ++j)
          s += taps[static_cast<size_t>(j + radius)] * horiz[static_cast<size_t>(reflect(r + j, rows) * cols + c)];
        out[i * pixels + r * cols + c] = clamp01(s);
      }
  }
  return out;
}

Tensor brightness_shift(const Tensor& x, double b) {
  if (!std::isfinite(b)) throw InvalidArgument("brightness_shift: b must be finite, got " + exact_decimal(b));
  Tensor out(x.shape());
  for (int64_t i = 0; i < x.size(); ++i) out[i] = clamp01(static_cast<double>(x[i]) + b);
  return out;
}

}  // namespace nmode
