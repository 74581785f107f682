// The model on the device a command asked for: --device cuda, or auto when a GPU
// is usable, puts it on the GPU (Sequential::set_device); whatever the GPU path
// lacks leaves it on the CPU under auto, with a one-line notice.
#pragma once

#include <functional>

#include "cli.hpp"
#include "nmode/device.hpp"
#include "nmode/model.hpp"

namespace nmode::cli {

// Calls put_on_gpu() when `device` (the resolved --device) is Cuda and says where
// the work runs. An InvalidArgument from it (something the GPU path lacks) is an
// error for --device cuda; for auto the work stays on the CPU with a one-line
// notice on stderr, like a missing GPU.
Device gpu_or_cpu(Device device, const CommonOptions& common, const std::function<void()>& put_on_gpu);

// `device` is the resolved --device (apply_common_options). A model with a layer
// that has no CUDA implementation is an error for --device cuda and stays on the
// CPU for auto. Returns where the model now runs.
Device place_model(Sequential& model, Device device, const CommonOptions& common);

}  // namespace nmode::cli
