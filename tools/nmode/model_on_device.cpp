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

Device place_model(Sequential& model, Device device, const CommonOptions& common) {
  return gpu_or_cpu(device, common, [&] { model.set_device(Device::Cuda); });
}

}  // namespace nmode::cli
