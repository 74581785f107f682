// Packing buffers and the team's work counter of the blocked SGEMM (gemm.cpp).
// They hold no SIMD code, so every target's pass over gemm.cpp shares this one
// copy, and a thread's buffers stay allocated when the active target changes.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <thread>

namespace nmode {
namespace gemm_detail {

// A 64-byte aligned float array that only grows, so repeated calls with the same
// shapes allocate nothing.
class PackBuffer {
 public:
  float* get(int64_t count) {
    if (count > capacity_) {
      const size_t bytes = (static_cast<size_t>(count) * sizeof(float) + 63) / 64 * 64;
      void* p = std::aligned_alloc(64, bytes);
      if (p == nullptr) throw std::bad_alloc();
      data_.reset(static_cast<float*>(p));
      capacity_ = count;
    }
    return data_.get();
  }

 private:
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  std::unique_ptr<float, Free> data_;
  int64_t capacity_ = 0;
};

// Owned by the calling thread and shared with its team for the call.
inline thread_local PackBuffer t_pack_a;
inline thread_local PackBuffer t_pack_b;
// One B micro-panel per team thread.
inline thread_local PackBuffer t_pack_b_task;

// Counts finished work items (packed panels, computed tiles) of a call, so a
// thread waits for the work it depends on rather than for its teammates to
// arrive: a teammate that lost its core to another process, or has not started
// yet, costs nothing once every item it might have taken is done by the others.
// The wait yields the core; libgomp's barriers spin for about 3 ms first, and on
// a busy 2-core machine that spin starves the very thread it waits for.
// Each phase's target is the running total of the items of all phases so far.
class WorkCounter {
 public:
  void finished(int64_t items) { done_.fetch_add(items, std::memory_order_release); }
  void wait_for(int64_t target) const {
    while (done_.load(std::memory_order_acquire) < target) std::this_thread::yield();
  }

 private:
  std::atomic<int64_t> done_{0};
};

}  // namespace gemm_detail
}  // namespace nmode
