// Device names and the auto/cpu/cuda choice; without the CUDA backend compiled
// in, the CUDA entry points exist and report that no GPU can be used.
#include "nmode/device.hpp"

#include "nmode/cuda_solver.hpp"
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

SolveStats solve_cuda(const SolverOptions&, int64_t, const float*, const float*, const SolveOutputs<float>&,
                      void*) {
  throw Error("nmode was built without the CUDA backend; rebuild with nvcc present and NMODE_CUDA=AUTO or ON");
}
SolveStats solve_cuda_from_host(const SolverOptions& o, int64_t n, const float* g, const float* y0,
                                const SolveOutputs<float>& out) {
  return solve_cuda(o, n, g, y0, out, nullptr);
}
#endif

}  // namespace nmode
