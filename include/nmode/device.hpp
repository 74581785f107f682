// Device selection: the CPU backend is always there, CUDA when compiled in and a
// GPU answers. Any failure of cudaGetDeviceCount counts as "no device".
#pragma once

#include <string>

namespace nmode {

enum class Device { Cpu, Cuda, Auto };

// "cpu" | "cuda" | "auto"; throws InvalidArgument otherwise.
Device parse_device(const std::string& name);
const char* to_string(Device device);

bool cuda_compiled();
// True when the CUDA backend is compiled in and at least one GPU is usable; when
// false and `reason` is given, it says why (e.g. the driver's error string).
bool cuda_available(std::string* reason = nullptr);
// Name of GPU 0, or an empty string.
std::string cuda_device_name();

// Cpu -> Cpu; Cuda -> Cuda or throws Error when no GPU is usable;
// Auto -> Cuda when available, else Cpu (and `notice` receives a one-line reason).
Device resolve_device(Device requested, std::string* notice = nullptr);

}  // namespace nmode
