// cuda_attack in a build without the CUDA backend: it exists so that callers
// compile everywhere; no CudaModel can be built there, so it is never reached
// with one, and it says so if it is.
#include "nmode/cuda_attack.hpp"
#include "nmode/error.hpp"

#if !defined(NMODE_HAS_CUDA)

namespace nmode {

AttackResult cuda_attack(CudaModel&, const float*, const int32_t*, int64_t, const AttackConfig&, const int64_t*) {
  throw Error("cuda_attack: nmode was built without the CUDA backend; run the attack on the CPU (--device cpu)");
}

}  // namespace nmode

#endif
