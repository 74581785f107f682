// CudaModel in a build without the CUDA backend: the class exists so that callers
// compile everywhere, and constructing one throws a message that says how to get
// the GPU path. The real implementation is kernels/nn/cuda_model.cu.
#include "nmode/cuda_model.hpp"
#include "nmode/error.hpp"

#if !defined(NMODE_HAS_CUDA)

namespace nmode {

struct CudaModel::Impl {};

namespace {
[[noreturn]] void no_backend() {
  throw Error("CudaModel: nmode was built without the CUDA backend; rebuild with nvcc present and "
              "NMODE_CUDA=AUTO or ON, or run the model on the CPU (--device cpu)");
}
}  // namespace

CudaModel::CudaModel(Sequential&) { no_backend(); }
CudaModel::~CudaModel() = default;
CudaModel::CudaModel(CudaModel&& other) noexcept = default;
CudaModel& CudaModel::operator=(CudaModel&& other) noexcept = default;
void CudaModel::forward(const Tensor&, Tensor&, bool) { no_backend(); }
void CudaModel::backward(const Tensor&, Tensor*) { no_backend(); }
void CudaModel::backward_input(const Tensor&, Tensor&) { no_backend(); }
void CudaModel::forward(const float*, int64_t, float*, bool) { no_backend(); }
void CudaModel::backward_input(const float*, float*) { no_backend(); }
bool CudaModel::run_attack_on_device(const float*, const int32_t*, int64_t, const AttackConfig&, const int64_t*,
                                     AttackResult&) {
  no_backend();
}
float* CudaModel::device_input(int64_t) { no_backend(); }
const float* CudaModel::forward_on_device(int64_t, bool) { no_backend(); }
float* CudaModel::device_dlogits() { no_backend(); }
float* CudaModel::backward_input_on_device() { no_backend(); }
SolveStats CudaModel::synchronize(const std::vector<HostCopy>&) { no_backend(); }
const SolveStats& CudaModel::last_stats() const { no_backend(); }
int64_t CudaModel::input_dim() const { no_backend(); }
int64_t CudaModel::num_classes() const { no_backend(); }
void CudaModel::upload_parameters() { no_backend(); }
CudaModel::TrainStep CudaModel::train_step(const Tensor&, const std::vector<int32_t>&, Adam&) { no_backend(); }
void CudaModel::upload_training_state(Adam&) { no_backend(); }
void CudaModel::download_training_state(Adam&) { no_backend(); }

}  // namespace nmode

#endif
