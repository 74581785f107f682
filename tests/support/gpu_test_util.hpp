// Shared by the GPU tests: skipping with the reason when no GPU answers, and the
// check that a GPU object built without one fails with a message that says why.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "nmode/device.hpp"
#include "nmode/error.hpp"

// Skips the calling test, naming the reason, when no GPU is usable.
#define NMODE_REQUIRE_GPU()                                                      \
  do {                                                                           \
    std::string reason_;                                                         \
    if (!cuda_available(&reason_)) GTEST_SKIP() << "no usable GPU: " << reason_; \
  } while (0)

namespace nmode::test {

// Constructs a GpuObject from `source`: with a usable GPU that must work; without
// one it must throw an Error that names the cause and the way out (--device cpu).
template <class GpuObject, class Source>
void expect_construction_says_why_without_gpu(Source& source, const std::string& name) {
  std::string reason;
  if (cuda_available(&reason)) {
    EXPECT_NO_THROW(GpuObject{source});
    return;
  }
  try {
    GpuObject gpu(source);
    FAIL() << name << " constructed without a usable GPU (" << reason << ")";
  } catch (const Error& e) {
    const std::string message = e.what();
    if (cuda_compiled()) {
      EXPECT_NE(message.find("no usable GPU"), std::string::npos) << message;
      EXPECT_NE(message.find(reason), std::string::npos) << message;
    } else {
      EXPECT_NE(message.find("built without the CUDA backend"), std::string::npos) << message;
    }
    EXPECT_NE(message.find("--device cpu"), std::string::npos) << message;
  }
}

}  // namespace nmode::test
