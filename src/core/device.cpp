// Device names and the auto/cpu/cuda choice; without the CUDA backend compiled
// in, the device queries say that no GPU can be used (with CUDA they are in
// kernels/core/device.cu).
#include "nmode/device.hpp"

#include "nmode/error.hpp"

namespace nmode {

Device parse_device(const std::string& name) {
  if (name == "cpu") return Device::Cpu;
  if (name == "cuda") return Device::Cuda;
  if (name == "auto") return Device::Auto;
  throw InvalidArgument("device must be one of cpu, cuda, auto; got '" + name + "'");
}

const char* to_string(Device device) {
  switch (device) {
    case Device::Cpu: return "cpu";
    case Device::Cuda: return "cuda";
    case Device::Auto: return "auto";
  }
  return "unknown";
}

Device resolve_device(Device requested, std::string* notice) {
  if (requested == Device::Cpu) return Device::Cpu;
  std::string reason;
  const bool gpu = cuda_available(&reason);
  if (requested == Device::Cuda) {
    if (!gpu) throw Error("--device cuda: no usable GPU (" + reason + "); use --device cpu or auto");
    return Device::Cuda;
  }
  if (gpu) return Device::Cuda;
  if (notice) *notice = "no usable GPU (" + reason + "), running on the CPU";
  return Device::Cpu;
}

#if !defined(NMODE_HAS_CUDA)
bool cuda_compiled() { return false; }
bool cuda_available(std::string* reason) {
  if (reason) *reason = "nmode was built without the CUDA backend";
  return false;
}
std::string cuda_device_name() { return ""; }
#endif

}  // namespace nmode
