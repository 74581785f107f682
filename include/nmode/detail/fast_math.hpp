// Branch-free elementary functions for the per-element solver, shared by the CPU
// (where they vectorise inside `omp simd` loops, unlike libm calls) and CUDA.
// Accuracy: sincos a few ulp on the ranges the solver uses; x^(-1/5), which only
// sets step sizes, 1e-3 relative.
#pragma once

#include <cstdint>
#include <cstring>

#include "nmode/detail/hd.hpp"

namespace nmode::detail {

// Reinterprets the bits of one trivially copyable value as another type.
template <class To, class From>
NMODE_HD inline To bit_cast_of(const From& from) {
  static_assert(sizeof(To) == sizeof(From), "bit_cast_of needs types of equal size");
  To to;
  memcpy(&to, &from, sizeof(To));
  return to;
}

template <class T> NMODE_HD inline T abs_of(T x) { return x < T(0) ? -x : x; }
template <class T> NMODE_HD inline T min_of(T a, T b) { return b < a ? b : a; }
template <class T> NMODE_HD inline T max_of(T a, T b) { return a < b ? b : a; }
// False for NaN and +-Inf (x - x is NaN for both); no libm call, so it vectorises.
template <class T> NMODE_HD inline bool is_finite(T x) { return (x - x) == T(0); }

// Adding and subtracting 1.5 * 2^(mantissa bits) rounds to the nearest integer
// for |x| < 2^(mantissa bits - 1) without a libm call.
NMODE_HD inline float round_nearest(float x) { return (x + 12582912.0f) - 12582912.0f; }
NMODE_HD inline double round_nearest(double x) { return (x + 6755399441055744.0) - 6755399441055744.0; }

// Polynomial cores on [-pi/4, pi/4]: Cephes sinf/cosf (float) and sin/cos (double)
// minimax coefficients (S. L. Moshier, Cephes Math Library).
NMODE_HD inline void sincos_core(float r, float& s, float& c) {
  const float z = r * r;
  s = r + r * z * ((-1.9515295891e-4f * z + 8.3321608736e-3f) * z - 1.6666654611e-1f);
  c = 1.0f - 0.5f * z + z * z * ((2.443315711809948e-5f * z - 1.388731625493765e-3f) * z + 4.166664568298827e-2f);
}
NMODE_HD inline void sincos_core(double r, double& s, double& c) {
  const double z = r * r;
  const double ps = ((((1.58962301576546568060e-10 * z - 2.50507477628578072866e-8) * z +
                       2.75573136213857245213e-6) * z - 1.98412698295895385996e-4) * z +
                     8.33333333332211858878e-3) * z - 1.66666666666666307295e-1;
  const double pc = ((((-1.13585365213876817300e-11 * z + 2.08757008419747316778e-9) * z -
                       2.75573141792967388112e-7) * z + 2.48015872888517045348e-5) * z -
                     1.38888888888730564116e-3) * z + 4.16666666666665929218e-2;
  s = r + r * z * ps;
  c = 1.0 - 0.5 * z + z * z * pc;
}

// pi/2 split for Cody-Waite reduction: k * part1 is exact for the k we meet.
template <class T> struct HalfPiParts;
template <> struct HalfPiParts<float> {
  static constexpr float p1 = 1.5703125f, p2 = 4.837512969970703125e-4f, p3 = 7.54978995489188216e-8f;
};
template <> struct HalfPiParts<double> {  // fdlibm's pio2_1, pio2_2, pio2_2t
  static constexpr double p1 = 1.57079632673412561417e+00, p2 = 6.07710050630396597660e-11,
                          p3 = 2.02226624879595063154e-21;
};

// sin(x) and cos(x), accurate while |x| stays moderate (the solver calls it with
// |x| <~ 2*pi after reducing gamma modulo pi). For huge |x| (the unstable +lambda
// variant in float) the reduced argument is clamped, so results stay in [-1, 1].
template <class T>
NMODE_HD inline void sincos_poly(T x, T& s, T& c) {
  x = is_finite(x) ? x : T(0);  // the caller rejects non-finite states anyway
  const T k = round_nearest(x * T(0.63661977236758134308));  // 2/pi
  T r = ((x - k * HalfPiParts<T>::p1) - k * HalfPiParts<T>::p2) - k * HalfPiParts<T>::p3;
  r = min_of(max_of(r, T(-0.785398163397448)), T(0.785398163397448));
  T sr, cr;
  sincos_core(r, sr, cr);
  // Quadrant q = k mod 4 from the integer value of k. int32 (clamped) rather than
  // int64: a float-to-int64 conversion doubles the vector work on the CPU.
  const int32_t q = static_cast<int32_t>(min_of(max_of(k, T(-1e9)), T(1e9))) & 3;
  const T sq = (q & 1) ? cr : sr;
  const T cq = (q & 1) ? sr : cr;
  s = (q & 2) ? -sq : sq;
  c = ((q + 1) & 2) ? -cq : cq;
}

// sin(x), cos(x) for the solver: the polynomial on the CPU, the SFU intrinsic on
// the GPU. For lambda > 0 the argument 2(y + gamma) stays within about [-pi, pi + 2/lambda]
// (gamma reduced modulo pi, 0 <= y <= 1/lambda); where y grows (lambda <= 0) the GPU's
// __sincosf loses accuracy as |x| grows, like the float variant itself.
template <class T>
NMODE_HD inline void solver_sincos(T x, T& s, T& c) {
#if defined(__CUDA_ARCH__)
  if constexpr (sizeof(T) == sizeof(float)) {
    __sincosf(x, &s, &c);
  } else {
    sincos(x, &s, &c);
  }
#else
  sincos_poly(x, s, c);
#endif
}

// The bit pattern of x as a float, and back, for x within a normal float's range.
// For double it is built from the bits (the mantissa truncated) rather than by a
// double-to-float conversion: GCC counts that conversion as possibly trapping and
// will not if-convert, so not vectorise, a lane loop that runs it conditionally.
// The difference of the exponent biases, placed at float's exponent bits.
constexpr uint64_t kFloatToDoubleBias = uint64_t(1023 - 127) << 23;
NMODE_HD inline uint32_t float_bits_of(float x) { return bit_cast_of<uint32_t>(x); }
NMODE_HD inline uint32_t float_bits_of(double x) {
  return static_cast<uint32_t>((bit_cast_of<uint64_t>(x) >> 29) - kFloatToDoubleBias);
}
template <class T> NMODE_HD inline T from_float_bits(uint32_t bits);
template <> NMODE_HD inline float from_float_bits<float>(uint32_t bits) { return bit_cast_of<float>(bits); }
template <> NMODE_HD inline double from_float_bits<double>(uint32_t bits) {
  return bit_cast_of<double>((uint64_t(bits) + kFloatToDoubleBias) << 29);
}

// x^(-1/5) for positive finite x, the power in the step-size controller
// (0.9 * err^(-1/5)): a bit-level first guess (Blinn's trick) refined by Newton
// steps on x^(-5) = a, i.e. g <- g * (6 - a * g^5) / 5, which need no division.
template <class T>
NMODE_HD inline T inv_fifth_root(T a) {
  const T am = min_of(max_of(a, T(1e-30)), T(1e30));
  // log2 of the result is -log2(a)/5 and a float's bit pattern is a scaled,
  // shifted log2; 1278423860 = 1.2 * bits(1.0f) maps a = 1 to 1.
  const uint32_t bits = 1278423860u - float_bits_of(am) / 5u;
  T g = from_float_bits<T>(bits);
  // The first guess is within 7.3 %; each Newton step about squares the relative
  // error (times ~3): 1.8 %, then 9.2e-4 (tests/test_fast_math.cpp), ample for
  // step-size factors, which are heuristics clamped to [0.2, 10] anyway. Written
  // out (not a loop) so the vectoriser sees straight-line code.
  g = g * (T(6) - am * (g * g) * (g * g) * g) * T(0.2);
  g = g * (T(6) - am * (g * g) * (g * g) * g) * T(0.2);
  return g;
}

}  // namespace nmode::detail
