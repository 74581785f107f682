// The model as a command computes it: the CPU model itself, or a GPU copy of it
// (CudaModel) for --device cuda and for auto when a GPU is usable.
#pragma once

#include <functional>
#include <memory>

#include "cli.hpp"
#include "nmode/classifier.hpp"
#include "nmode/cuda_model.hpp"
#include "nmode/device.hpp"
#include "nmode/model.hpp"

namespace nmode::cli {

// Calls put_on_gpu() when `device` (the resolved --device) is Cuda and says where
// the work runs. An InvalidArgument from it (something the GPU path lacks) is an
// error for --device cuda; for auto the work stays on the CPU with a one-line
// notice on stderr, like a missing GPU.
Device gpu_or_cpu(Device device, const CommonOptions& common, const std::function<void()>& put_on_gpu);

class ModelOnDevice {
 public:
  // `device` is the resolved --device (apply_common_options). A model with a layer
  // that has no CUDA implementation is an error for --device cuda; for auto it
  // stays on the CPU with a one-line notice on stderr, like a missing GPU.
  ModelOnDevice(Sequential& model, Device device, const CommonOptions& common);

  Classifier& classifier() { return gpu_ ? static_cast<Classifier&>(*gpu_) : cpu_; }
  Device device() const { return gpu_ ? Device::Cuda : Device::Cpu; }

 private:
  Sequential& cpu_;
  std::unique_ptr<CudaModel> gpu_;
};

}  // namespace nmode::cli
