// The CPU's SIMD lane type for the per-element math of include/nmode/detail/:
// Lanes<T, N> is N Highway vectors of T that every operation touches together, so
// a block's independent vectors interleave and hide the latency of the long
// dependent chains of a DP5(4) step. Read once per SIMD target, inside that
// target's namespace (see include/nmode/detail/lane_namespace.hpp); include
// <hwy/highway.h> first.
#if defined(NMODE_SIMD_LANES_INL_HPP) == defined(HWY_TARGET_TOGGLE)
#ifdef NMODE_SIMD_LANES_INL_HPP
#undef NMODE_SIMD_LANES_INL_HPP
#else
#define NMODE_SIMD_LANES_INL_HPP
#endif

#include <hwy/highway.h>

#include <cstddef>

#include "nmode/detail/lane_namespace.hpp"
#include "nmode/detail/lanes.hpp"

NMODE_LANES_BEGIN

namespace hn = hwy::HWY_NAMESPACE;

// The x86 min/max instructions return their second operand for an unordered
// pair, which with swapped operands is exactly the scalar min_of/max_of of
// lanes.hpp; elsewhere an explicit compare-and-select gives the same semantics.
#undef NMODE_LANES_NATIVE_MIN_MAX
#if HWY_ARCH_X86 && HWY_TARGET != HWY_EMU128 && HWY_TARGET != HWY_SCALAR
#define NMODE_LANES_NATIVE_MIN_MAX 1
#else
#define NMODE_LANES_NATIVE_MIN_MAX 0
#endif

template <class T, int N>
struct LaneMask {
  using D = hn::ScalableTag<T>;
  hn::Mask<D> m[N];

  LaneMask() = default;
  explicit HWY_INLINE LaneMask(bool value) {
    const D d;
    const hn::Mask<D> all = hn::FirstN(d, value ? hn::Lanes(d) : 0);
    for (int i = 0; i < N; ++i) m[i] = all;
  }
  friend HWY_INLINE LaneMask operator&(const LaneMask& a, const LaneMask& b) {
    LaneMask r;
    for (int i = 0; i < N; ++i) r.m[i] = hn::And(a.m[i], b.m[i]);
    return r;
  }
  friend HWY_INLINE LaneMask operator|(const LaneMask& a, const LaneMask& b) {
    LaneMask r;
    for (int i = 0; i < N; ++i) r.m[i] = hn::Or(a.m[i], b.m[i]);
    return r;
  }
  friend HWY_INLINE LaneMask operator!(const LaneMask& a) {
    LaneMask r;
    for (int i = 0; i < N; ++i) r.m[i] = hn::Not(a.m[i]);
    return r;
  }
  friend HWY_INLINE bool all_of(const LaneMask& a) {
    bool all = true;
    for (int i = 0; i < N; ++i) all = all & hn::AllTrue(D(), a.m[i]);
    return all;
  }
};

template <class T, int N>
struct Lanes {
  using Scalar = T;
  using Mask = LaneMask<T, N>;
  using D = hn::ScalableTag<T>;
  using V = hn::Vec<D>;
  static constexpr int kVectors = N;
  V v[N];

  Lanes() = default;
  // A broadcast, and deliberately implicit: plain numbers in the generic math
  // (coefficients, tolerances) meet lanes as they do on the GPU.
  HWY_INLINE Lanes(T x) {  // NOLINT(google-explicit-constructor)
    const V s = hn::Set(D(), x);
    for (int i = 0; i < N; ++i) v[i] = s;
  }
  static HWY_INLINE size_t size() { return N * hn::Lanes(D()); }
  static HWY_INLINE Lanes load(const T* p) {
    const D d;
    Lanes r;
    for (int i = 0; i < N; ++i) r.v[i] = hn::LoadU(d, p + i * hn::Lanes(d));
    return r;
  }
  HWY_INLINE void store(T* p) const {
    const D d;
    for (int i = 0; i < N; ++i) hn::StoreU(v[i], d, p + i * hn::Lanes(d));
  }

#define NMODE_LANES_BINARY(op, fn)                                             \
  friend HWY_INLINE Lanes operator op(const Lanes& a, const Lanes& b) {        \
    Lanes r;                                                                   \
    for (int i = 0; i < N; ++i) r.v[i] = hn::fn(a.v[i], b.v[i]);               \
    return r;                                                                  \
  }
  NMODE_LANES_BINARY(+, Add)
  NMODE_LANES_BINARY(-, Sub)
  NMODE_LANES_BINARY(*, Mul)
  NMODE_LANES_BINARY(/, Div)
#undef NMODE_LANES_BINARY
#define NMODE_LANES_COMPARE(op, fn)                                            \
  friend HWY_INLINE Mask operator op(const Lanes& a, const Lanes& b) {         \
    Mask r;                                                                    \
    for (int i = 0; i < N; ++i) r.m[i] = hn::fn(a.v[i], b.v[i]);               \
    return r;                                                                  \
  }
  NMODE_LANES_COMPARE(<, Lt)
  NMODE_LANES_COMPARE(<=, Le)
  NMODE_LANES_COMPARE(>, Gt)
  NMODE_LANES_COMPARE(>=, Ge)
  NMODE_LANES_COMPARE(==, Eq)
  NMODE_LANES_COMPARE(!=, Ne)
#undef NMODE_LANES_COMPARE

  friend HWY_INLINE Lanes operator-(const Lanes& a) {
    Lanes r;
    for (int i = 0; i < N; ++i) r.v[i] = hn::Neg(a.v[i]);
    return r;
  }
  friend HWY_INLINE Lanes select(const Mask& m, const Lanes& a, const Lanes& b) {
    Lanes r;
    for (int i = 0; i < N; ++i) r.v[i] = hn::IfThenElse(m.m[i], a.v[i], b.v[i]);
    return r;
  }
  // b < a ? b : a, lane by lane (lanes.hpp).
  friend HWY_INLINE Lanes min_of(const Lanes& a, const Lanes& b) {
    Lanes r;
    for (int i = 0; i < N; ++i) {
#if NMODE_LANES_NATIVE_MIN_MAX
      r.v[i] = hn::Min(b.v[i], a.v[i]);
#else
      r.v[i] = hn::IfThenElse(hn::Lt(b.v[i], a.v[i]), b.v[i], a.v[i]);
#endif
    }
    return r;
  }
  // a < b ? b : a, lane by lane.
  friend HWY_INLINE Lanes max_of(const Lanes& a, const Lanes& b) {
    Lanes r;
    for (int i = 0; i < N; ++i) {
#if NMODE_LANES_NATIVE_MIN_MAX
      r.v[i] = hn::Max(b.v[i], a.v[i]);
#else
      r.v[i] = hn::IfThenElse(hn::Lt(a.v[i], b.v[i]), b.v[i], a.v[i]);
#endif
    }
    return r;
  }
  // The scalar guess of lanes.hpp, lane by lane: the same float operations on the
  // bit pattern, so every target starts Newton from the same value.
  friend HWY_INLINE Lanes inv_fifth_root_guess(const Lanes& x) {
    Lanes r;
    for (int i = 0; i < N; ++i) {
      if constexpr (sizeof(T) == sizeof(float)) {
        r.v[i] = float_guess(D(), x.v[i]);
      } else {
        const hn::Rebind<float, D> df;
        r.v[i] = hn::PromoteTo(D(), float_guess(df, hn::DemoteTo(df, x.v[i])));
      }
    }
    return r;
  }

  // gamma - pi * round(gamma / pi) in T: the very arithmetic of lanes.hpp's
  // scalar reduced_mod_pi, lane by lane (see reduce_vector).
  friend HWY_INLINE Lanes reduced_mod_pi(const Lanes& x) {
    Lanes r;
    for (int i = 0; i < N; ++i) r.v[i] = reduce_vector(x.v[i]);
    return r;
  }

 private:
  template <class DD, class VD>
  static HWY_INLINE VD reduce_double(DD dd, VD g) {
    const auto shift = hn::Set(dd, 6755399441055744.0);
    const auto k = hn::Sub(hn::Add(hn::Mul(g, hn::Set(dd, 0.31830988618379067154)), shift), shift);
    return hn::Sub(hn::Sub(g, hn::Mul(k, hn::Set(dd, 3.14159265358979311600e+00))),
                   hn::Mul(k, hn::Set(dd, 1.22464679914735317723e-16)));
  }
  // lanes.hpp's reduce_mod_pi_small_float, the same operations in the same order.
  static HWY_INLINE V reduce_float(V g) {
    const D d;
    const V shift = hn::Set(d, kFloatRoundShift);
    const V k = hn::Sub(hn::Add(hn::Mul(g, hn::Set(d, kFloatInvPi)), shift), shift);
    const V r1 = hn::Sub(g, hn::Mul(k, hn::Set(d, kFloatPi1)));
    const V r2 = hn::Sub(r1, hn::Mul(k, hn::Set(d, kFloatPi2)));
    return hn::Sub(r2, hn::Mul(k, hn::Set(d, kFloatPi3)));
  }
  // The scalar reduced_mod_pi of each lane, one at a time.
  static HWY_INLINE V reduce_lanes(V x) {
    HWY_ALIGN T t[HWY_LANES(T)];
    hn::Store(x, D(), t);
    for (size_t l = 0; l < hn::Lanes(D()); ++l) t[l] = ::nmode::detail::reduced_mod_pi(t[l]);
    return hn::Load(D(), t);
  }
  static HWY_INLINE V reduce_vector(V x) {
    // reduce_double and reduce_float are the scalar branches for |gamma| <= 16
    // only; a vector with a lane beyond (rare; or Inf, NaN) goes lane by lane
    // through the scalar code, whose Payne-Hanek branch has no vector form. The
    // small lanes get the same bits either way.
    if (!hn::AllTrue(D(), hn::Le(hn::Abs(x), hn::Set(D(), T(16))))) return reduce_lanes(x);
    if constexpr (sizeof(T) == sizeof(double)) {
      return reduce_double(D(), x);
    } else {
      return reduce_float(x);
    }
  }
  template <class DF, class VF>
  static HWY_INLINE VF float_guess(DF df, VF x) {
    const hn::RebindToSigned<DF> di;
    const auto scaled = hn::Mul(hn::ConvertTo(df, hn::BitCast(di, x)), hn::Set(df, 0.2f));
    return hn::BitCast(df, hn::Sub(hn::Set(di, 1278423860), hn::ConvertTo(di, scaled)));
  }
};

NMODE_LANES_END

#endif  // NMODE_SIMD_LANES_INL_HPP toggle
