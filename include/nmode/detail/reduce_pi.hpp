// Payne–Hanek reduction of a large gamma modulo pi, for lanes.hpp's reduce_mod_pi:
// r = gamma - k*pi, k = round(gamma/pi), for any finite double, to within half an
// ulp of r plus 2^-120 |r| + 2^-138 (in practice correctly rounded), all in integer
// arithmetic, so that the CPU and a GPU thread compute the same bits.
//
// gamma = m * 2^e with m a 53-bit integer. Write 1/pi = sum_i b_i 2^-i; a bit b_i
// with i <= e contributes the integer m * 2^(e-i) to gamma/pi, which changes k but
// not r. So frac(gamma/pi) is m times a 256-bit window of 1/pi that starts at most
// 63 bits above bit e, modulo 1: a 53 x 256-bit integer product, of which the low
// 256 - (e mod 64) >= 193 bits are the fraction; the bits of 1/pi past the window
// move it by less than 2^(53+63-256) = 2^-140. The fraction is centred to
// [-1/2, 1/2], normalised, and multiplied by pi as 128 x 128-bit fixed point; one
// rounding to double ends it.
//
// Used for |gamma| > 16 only (see reduce_mod_pi), so it is rare: not inlined.
#pragma once

#include <cstdint>
#include <cstring>

#include "nmode/detail/hd.hpp"

// __host__ __device__ but not forced inline, unlike NMODE_HD: the rare path stays
// out of the solver's loops and out of the kernel's register allocation.
#if defined(__CUDACC__)
#define NMODE_HD_COLD __host__ __device__ __noinline__
#elif defined(__GNUC__)
#define NMODE_HD_COLD __attribute__((noinline))
#else
#define NMODE_HD_COLD
#endif

namespace nmode::detail {
namespace reduce_pi {

// hi:lo = a * b, from 32-bit halves: no __int128 (-Wpedantic rejects it, and it
// must compile as device code too).
NMODE_HD inline void mul_64x64(uint64_t a, uint64_t b, uint64_t& hi, uint64_t& lo) {
  const uint64_t a0 = a & 0xFFFFFFFFu, a1 = a >> 32, b0 = b & 0xFFFFFFFFu, b1 = b >> 32;
  const uint64_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
  const uint64_t mid = (p00 >> 32) + (p01 & 0xFFFFFFFFu) + (p10 & 0xFFFFFFFFu);  // < 3 * 2^32
  lo = (mid << 32) | (p00 & 0xFFFFFFFFu);
  hi = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
}

// Word j of 1/pi = 0x0.517CC1B727220A94FE13..., 64 fraction bits per word, most
// significant first: word j holds bits 64(j-1)+1 .. 64j, so word 0 (bits -63..0,
// the integer part) is 0; bits 1..1216 are exactly what the largest exponent,
// e = 971, needs (its window, words 16..19, ends at bit 64 * 15 + 256). Generated
// with Python integers: pi * 2^1400 from Machin's formula 16 atan(1/5) -
// 4 atan(1/239) with 64 guard bits, then floor(2^(1400+1216) / that) cut into
// words. tests/solver/test_reduce_pi.cpp checks the words against 1/pi from
// another formula. A local static, not a namespace-scope array: device code
// cannot read the latter.
NMODE_HD inline uint64_t inv_pi_word(int j) {
  static constexpr uint64_t kInvPi[20] = {
      0x0000000000000000u, 0x517CC1B727220A94u, 0xFE13ABE8FA9A6EE0u, 0x6DB14ACC9E21C820u,
      0xFF28B1D5EF5DE2B0u, 0xDB92371D2126E970u, 0x0324977504E8C90Eu, 0x7F0EF58E5894D39Fu,
      0x74411AFA975DA242u, 0x74CE38135A2FBF20u, 0x9CC8EB1CC1A99CFAu, 0x4E422FC5DEFC941Du,
      0x8FFC4BFFEF02CC07u, 0xF79788C5AD05368Fu, 0xB69B3F6793E584DBu, 0xA7A31FB34F2FF516u,
      0xBA93DD63F5F2F8BDu, 0x9E839CFBC5294975u, 0x35FDAFD88FC6AE84u, 0x2B0198237E3DB5D5u};
  return kInvPi[j];
}
// pi * 2^126 rounded to an integer, in two words (same generator, same check).
constexpr uint64_t kPiHi = 0xC90FDAA22168C234u, kPiLo = 0xC4C6628B80DC1CD1u;

// The number of leading zero bits of x != 0.
NMODE_HD inline int leading_zeros(uint64_t x) {
  int n = 0;
  for (int s = 32; s > 0; s >>= 1) {
    if ((x >> (64 - s)) == 0) {
      x <<= s;
      n += s;
    }
  }
  return n;
}

}  // namespace reduce_pi

// gamma - pi * round(gamma / pi) for |gamma| > 16 from reduce_mod_pi, though any
// finite gamma works (the window below starts at word 0 for e >= -64); NaN for
// Inf and NaN.
NMODE_HD_COLD inline double reduce_mod_pi_large(double gamma) {
  using reduce_pi::kPiHi;
  using reduce_pi::kPiLo;
  uint64_t bits;
  memcpy(&bits, &gamma, sizeof bits);
  const int biased = static_cast<int>((bits >> 52) & 0x7FF);
  if (biased == 0x7FF) return gamma - gamma;  // Inf or NaN
  const int e = biased - 1075;
  if (e < -64) return gamma;  // |gamma| < 2^-11 (zeros and subnormals too): r = gamma
  const bool negative_gamma = (bits >> 63) != 0;
  const uint64_t m = (bits & ((uint64_t(1) << 52) - 1)) | (uint64_t(1) << 52);  // |gamma| = m * 2^e

  // The window of words w .. w+3 starts at bit 64(w-1)+1 <= e+1 and has the value
  // C * 2^-(64(w-1)+256); m * 2^e * C * 2^-(64(w-1)+256) = m * C * 2^(shift-256).
  const int w = (e + 64) >> 6, shift = (e + 64) & 63;
  // P = m * C mod 2^256 (the bits above are integers), least significant word first.
  uint64_t p[4];
  uint64_t carry = 0;
  for (int i = 0; i < 4; ++i) {
    uint64_t hi, lo;
    reduce_pi::mul_64x64(m, reduce_pi::inv_pi_word(w + 3 - i), hi, lo);
    p[i] = lo + carry;
    carry = hi + (p[i] < lo ? 1u : 0u);  // hi < 2^53: no overflow
  }
  // F = P * 2^shift mod 2^256: frac(gamma/pi) = F / 2^256.
  uint64_t f[4];
  for (int i = 3; i >= 0; --i) {
    const uint64_t below = i > 0 ? p[i - 1] : 0;
    f[i] = shift == 0 ? p[i] : (p[i] << shift) | (below >> (64 - shift));
  }
  // Centre: a fraction >= 1/2 is frac - 1 < 0, whose magnitude is 2^256 - F.
  const bool negative_frac = (f[3] >> 63) != 0;
  if (negative_frac) {
    uint64_t c = 1;
    for (int i = 0; i < 4; ++i) {
      f[i] = ~f[i] + c;
      c = (c != 0 && f[i] == 0) ? 1u : 0u;
    }
  }
  // Normalise: A = the 128 bits from the leading one, |frac| = A * 2^-(128+lz)
  // (the dropped bits are below 2^-127 relative).
  int top = 3;
  while (top > 0 && f[top] == 0) --top;
  if (f[top] == 0) return negative_gamma ? -0.0 : 0.0;  // gamma an exact multiple of pi: impossible
  const int z = reduce_pi::leading_zeros(f[top]);
  const uint64_t x1 = top >= 1 ? f[top - 1] : 0, x0 = top >= 2 ? f[top - 2] : 0;
  const uint64_t a1 = z == 0 ? f[top] : (f[top] << z) | (x1 >> (64 - z));
  const uint64_t a0 = z == 0 ? x1 : (x1 << z) | (x0 >> (64 - z));
  const int lz = 64 * (3 - top) + z;

  // T = top 128 bits of A * (pi * 2^126), in [2^126, 2^128); the dropped partial
  // products are < 3 * 2^128 of A * pi * 2^126 >= 2^254, i.e. below 2^-125 relative.
  uint64_t h11, l11, h10, l10, h01, l01;
  reduce_pi::mul_64x64(a1, kPiHi, h11, l11);
  reduce_pi::mul_64x64(a1, kPiLo, h10, l10);
  reduce_pi::mul_64x64(a0, kPiHi, h01, l01);
  uint64_t t0 = l11 + h10;
  uint64_t t1 = h11 + (t0 < h10 ? 1u : 0u);
  t0 += h01;
  t1 += t0 < h01 ? 1u : 0u;
  // |r| = T * 2^-(126+lz) = t1 * 2^-(62+lz) + below; t1 >= 2^62 has 11+ bits below
  // a double's 53, so a sticky bit for t0 makes the conversion round T correctly.
  const double magnitude = static_cast<double>(t1 | (t0 != 0 ? 1u : 0u));
  const uint64_t scale_bits = static_cast<uint64_t>(1023 - 62 - lz) << 52;  // lz <= 255: a normal 2^-(62+lz)
  double scale;
  memcpy(&scale, &scale_bits, sizeof scale);
  const double r = magnitude * scale;  // exact: a power of two, no underflow
  return negative_gamma != negative_frac ? -r : r;
}

}  // namespace nmode::detail
