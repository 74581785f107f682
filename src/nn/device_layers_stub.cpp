// The layers' device forms in a build without the CUDA backend: none, so that
// CudaModel (whose constructor throws there anyway) would find no layer to run.
// The real ones are in kernels/nn/device_*.cu.
#include "nmode/layers.hpp"

#if !defined(NMODE_HAS_CUDA)

namespace nmode {

std::unique_ptr<DeviceLayer> Linear::make_device_layer() { return nullptr; }
std::unique_ptr<DeviceLayer> NmOde::make_device_layer() { return nullptr; }
std::unique_ptr<DeviceLayer> ReLU::make_device_layer() { return nullptr; }
std::unique_ptr<DeviceLayer> Tanh::make_device_layer() { return nullptr; }

}  // namespace nmode

#endif
