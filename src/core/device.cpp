// Device names and the auto/cpu/cuda choice; without the CUDA backend compiled
// in, the device queries say that no GPU can be used (with CUDA they are in
// kernels/core/device.cu).
#include "nmode/device.hpp"

#include "core/names.hpp"
#include "nmode/error.hpp"

namespace nmode {

namespace {
constexpr Named<Device> kDevices[] = {{Device::Cpu, "cpu"}, {Device::Cuda, "cuda"}, {Device::Auto, "auto"}};
}  // namespace

Device parse_device(const std::string& name) { return parse_name_in(kDevices, name, "device"); }

const char* to_string(Device device) { return name_in(kDevices, device); }

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
