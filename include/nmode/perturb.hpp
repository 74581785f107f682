// Natural (non-adversarial) perturbations of a batch of grayscale images:
// Gaussian noise, resize down and back up, Gaussian blur and a brightness shift.
// Images are rows of x: (n, rows*cols), row-major, values in [0, 1]; every
// output is clamped to [0, 1].
#pragma once

#include <cstdint>

#include "nmode/tensor.hpp"

namespace nmode {

// Adds N(0, σ²) to every pixel. The noise of pixel p of image i is a pure
// function of (seed, first_index + i, p): a counter-based SplitMix64 stream per
// image feeds Box–Muller, so the result does not depend on how a data set is
// split into batches (pass each batch's offset as first_index) or on threads.
Tensor gaussian_noise(const Tensor& x, int64_t rows, int64_t cols, double sigma, uint64_t seed,
                      int64_t first_index = 0);

// Bilinear resize to l×l and back to rows×cols. Convention: half-pixel centres
// (align_corners = false, no antialiasing), as torch.nn.functional.interpolate
// with mode='bilinear': source coordinate s = (d + 0.5)·in/out − 0.5, clamped
// below at 0, and the upper neighbour clamped at in − 1. Going 4 → 2 is 2×2
// average pooling. l ≥ 1; l == rows == cols returns the input exactly.
Tensor resize_down_up(const Tensor& x, int64_t rows, int64_t cols, int64_t l);

// Separable Gaussian blur with an odd kernel size k ≥ 1 (k = 1 is the identity)
// and OpenCV's σ for a given size (getGaussianKernel with sigma ≤ 0):
// σ = 0.3·((k − 1)·0.5 − 1) + 0.8. Taps exp(−j²/2σ²), j = −k/2..k/2, normalised
// to sum 1. Borders use 'reflect' padding (mirror without repeating the edge
// pixel: −1 → 1), as torchvision's gaussian_blur; a kernel wider than the
// image keeps reflecting back and forth.
Tensor gaussian_blur(const Tensor& x, int64_t rows, int64_t cols, int64_t kernel);

// Adds b to every pixel; x may have any shape.
Tensor brightness_shift(const Tensor& x, double b);

}  // namespace nmode
