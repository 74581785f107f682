// What the solver statistics (nmode::SolveStats) count for finished elements, slot
// by slot, and how two tallies combine: the one definition that both backends use,
// a GPU thread per element and the CPU per lane block, merged per thread.
#pragma once

#include "nmode/detail/hd.hpp"
#include "nmode/element_status.hpp"

namespace nmode::detail {

enum TallySlot : int {
  kElementsSlot,
  kAcceptedSlot,       // summed accepted steps
  kRejectedSlot,       // summed rejected steps
  kMostAcceptedSlot,   // most accepted steps of one element
  kMostAttemptsSlot,   // most attempts (accepted + rejected) of one element
  kFirstStatusSlot,    // then one count per ElementStatus, in its order
  kTallySlots = kFirstStatusSlot + kElementStatuses
};

NMODE_HD constexpr bool is_max_slot(int s) { return s == kMostAcceptedSlot || s == kMostAttemptsSlot; }

// unsigned long long: what CUDA's 64-bit atomics take.
struct SolveTally {
  unsigned long long slot[kTallySlots] = {};

  NMODE_HD void add(unsigned long long accepted, unsigned long long rejected, ElementStatus status) {
    const unsigned long long attempts = accepted + rejected;
    slot[kElementsSlot] += 1;
    slot[kAcceptedSlot] += accepted;
    slot[kRejectedSlot] += rejected;
    if (accepted > slot[kMostAcceptedSlot]) slot[kMostAcceptedSlot] = accepted;
    if (attempts > slot[kMostAttemptsSlot]) slot[kMostAttemptsSlot] = attempts;
    slot[kFirstStatusSlot + static_cast<int>(status)] += 1;
  }

  NMODE_HD void merge(const SolveTally& o) {
    for (int s = 0; s < kTallySlots; ++s) {
      if (is_max_slot(s)) {
        if (o.slot[s] > slot[s]) slot[s] = o.slot[s];
      } else {
        slot[s] += o.slot[s];
      }
    }
  }
};

}  // namespace nmode::detail
