// CudaModel: a Sequential's forward and backward on the GPU, run as the chain of
// its layers' device forms (Layer::make_device_layer: Linear on cuBLAS, NmOde on
// the CUDA solver, ReLU and Tanh as elementwise kernels), with the loss and Adam
// on the device for training. It is a Classifier too, so evaluations and attacks
// run unchanged on either device, and FGSM, PGD, APGD and Square run whole on the
// GPU (nmode/cuda_attack.hpp). Sequential::set_device(Device::Cuda) makes one and
// hands it every call; make one directly for device-resident work or to keep a
// second copy. Host-side declarations only; kernels/nn/ holds the
// implementation, and without the CUDA backend constructing one throws.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "nmode/classifier.hpp"
#include "nmode/model.hpp"
#include "nmode/ode.hpp"
#include "nmode/tensor.hpp"

namespace nmode {

class Adam;  // nmode/optim.hpp

// The host model stays the owner of the parameters: CudaModel keeps a reference
// to it (which must outlive the CudaModel), reads NmOde's lambda from it at every
// forward, and writes parameter gradients back into its grad tensors. Only
// train_step leaves the device's copy ahead, until download_training_state.
class CudaModel final : public Classifier {
 public:
  // Copies the parameters the layers' device forms keep (the Linear weights and
  // biases) to GPU 0. Throws InvalidArgument for an empty model or a layer without
  // a CUDA implementation (make_device_layer gives none), and Error when no GPU is
  // usable (or the library was built without the CUDA backend).
  explicit CudaModel(Sequential& model);
  ~CudaModel() override;  // never throws
  CudaModel(CudaModel&& other) noexcept;
  CudaModel& operator=(CudaModel&& other) noexcept;  // a moved-from CudaModel may only be destroyed or assigned
  CudaModel(const CudaModel&) = delete;
  CudaModel& operator=(const CudaModel&) = delete;

  // x: (n, input_dim) host -> logits: (n, num_classes) host, resized. `training`
  // keeps on the device what backward needs; an inference forward discards it,
  // so backward always refers to the latest forward. Throws Error when the nmODE
  // solver fails on any element, as the CPU layer does.
  void forward(const Tensor& x, Tensor& logits, bool training);

  // Backward for the latest forward, which must have had training = true.
  // dlogits: (n, num_classes) host. Parameter gradients ACCUMULATE into the host
  // model's grad tensors, like Sequential::backward; with dx non-null, dx:
  // (n, input_dim) is written (resized).
  void backward(const Tensor& dlogits, Tensor* dx = nullptr);

  // dx: (n, input_dim) for the latest forward (training = true), resized, with no
  // parameter gradients: what attacks need, without their cost.
  void backward_input(const Tensor& dlogits, Tensor& dx);

  // Classifier: the same two on raw host arrays of n rows (x: (n, input_dim),
  // logits: (n, num_classes); dlogits and dx for the latest training forward's n),
  // with no host tensors in between. Parameter gradients are neither computed nor
  // touched by backward_input, as on the CPU.
  void forward(const float* x, int64_t n, float* logits, bool training) override;
  void backward_input(const float* dlogits, float* dx) override;
  // Every attack on the GPU's attack kernels (cuda_attack_supports), except those
  // with a gradient model, which run their portable loop over forward and
  // backward_input. The attack's forwards replace the latest one: a backward
  // needs a forward after it.
  bool run_attack_on_device(const float* x, const int32_t* y, int64_t n, const AttackConfig& config,
                            const int64_t* example_ids, AttackResult& result) override;
  // Off: every attack takes the portable loop (to compare the two; on by default).
  void set_attacks_on_device(bool on) { attacks_on_device_ = on; }

  // Device-resident use, for callers whose data stay on the GPU (the attacks'
  // kernels, nmode/cuda_attack.hpp); all pointers are device memory, and all work
  // goes to the default stream.
  //  - device_input(n): the (n, input_dim) buffer the next forward_on_device reads,
  //    grown to n rows; valid until a forward of more rows.
  //  - forward_on_device(n, training): the layers on its first n rows; returns the
  //    logits, (n, num_classes). The solves' statistics wait for synchronize.
  //  - device_dlogits(): where backward_input_on_device reads dlogits, (n, num_classes)
  //    for the latest training forward's n.
  //  - backward_input_on_device(): dx, (n, input_dim), no parameter gradients, in
  //    the model's scratch: the caller may change it until the next backward.
  //  - synchronize(copies): queues the device-to-host copies, waits once, and checks
  //    the latest forward's solves: Error, as forward throws, when one failed.
  float* device_input(int64_t n);
  const float* forward_on_device(int64_t n, bool training);
  float* device_dlogits();
  float* backward_input_on_device();
  struct HostCopy {
    void* host;
    const void* device;
    size_t bytes;
  };
  SolveStats synchronize(const std::vector<HostCopy>& copies = {});
  // The solves' statistics of the latest forward whose results came back (forward,
  // synchronize, train_step), summed over the layers; empty after a failed one.
  const SolveStats& last_stats() const;
  int64_t input_dim() const override;
  int64_t num_classes() const override;

  // Copies the device-kept parameters again after the host model changed them
  // (an optimizer step, a checkpoint load).
  void upload_parameters();

  // One training step with everything on the device but a learnable lambda:
  // forward, softmax cross-entropy (the batch mean) and its gradient, backward,
  // and `adam`'s next step (Adam::next_step) applied to the device's copy of the
  // Linear parameters and of their moments. x: (n, input_dim) host, labels: (n)
  // in [0, num_classes), checked first. Returns the batch's summed loss and its
  // correct count, as Trainer reports them, and the solver's statistics. The step's gradients are its own (a
  // lambda's host grad is zeroed first). Until download_training_state, the host
  // model's Linear parameters and `adam`'s moments of them are stale.
  // One host synchronisation reads back the loss and the solver's statistics (a
  // failed solve throws Error there, after the device's parameters took the step);
  // a learnable lambda's gradient and the penalty's row (nmODE+ stable_penalty)
  // add one each.
  struct TrainStep {
    double loss_sum = 0;
    int64_t correct = 0;
    SolveStats solver;
  };
  TrainStep train_step(const Tensor& x, const std::vector<int32_t>& labels, Adam& adam);
  // The host model's parameters and `adam`'s moments to the device (after a
  // checkpoint load, or before the first train_step) ...
  void upload_training_state(Adam& adam);
  // ... and back (before a checkpoint is written or the host model is read).
  void download_training_state(Adam& adam);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  bool attacks_on_device_ = true;
};

}  // namespace nmode
