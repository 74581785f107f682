// See model_on_device.hpp.
#include "model_on_device.hpp"

#include <iostream>

#include "nmode/error.hpp"

namespace nmode::cli {

Device gpu_or_cpu(Device device, const CommonOptions& common, const std::function<void()>& put_on_gpu) {
  if (device != Device::Cuda) return Device::Cpu;
  try {
    put_on_gpu();
    return Device::Cuda;
  } catch (const InvalidArgument& e) {
    if (parse_device(common.device) != Device::Auto) throw;
    std::cerr << "nmode: " << e.what() << "; running on the CPU\n";
    return Device::Cpu;
  }
}

ModelOnDevice::ModelOnDevice(Sequential& model, Device device, const CommonOptions& common) : cpu_(model) {
  gpu_or_cpu(device, common, [&] { gpu_ = std::make_unique<CudaModel>(model); });
}

}  // namespace nmode::cli
