// Layers' device forms (Layer::make_device_layer): which layers have one, that
// making one touches no device, and that CudaModel runs a layer type it has never
// heard of through the form the layer itself supplies. The GPU test skips with the
// reason when no GPU is usable.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#if defined(NMODE_HAS_CUDA)
#include <cuda_runtime.h>
#endif

#include "support/gpu_test_util.hpp"
#include "nmode/cuda_model.hpp"
#include "nmode/device.hpp"
#include "nmode/layers.hpp"
#include "nmode/model.hpp"

namespace nmode {
namespace {

// Runs without a GPU: making a device form must not touch one, so that a model can
// be checked before a device is sought.
TEST(DeviceLayer, BuiltInLayersHaveOneExactlyInACudaBuild) {
  Linear linear(5, 4, 1);
  NmOde nmode_layer(4, 3.0, 1.0, 1e-3, 1e-3, true);
  ReLU relu(4);
  Tanh tanh_layer(4);
  for (Layer* layer : std::vector<Layer*>{&linear, &nmode_layer, &relu, &tanh_layer}) {
    SCOPED_TRACE(layer->describe());
    EXPECT_EQ(layer->make_device_layer() != nullptr, cuda_compiled());
  }
}

// A layer type CudaModel has no knowledge of: y = x, dx = dy, with its device form
// as two device-to-device copies.
class PassThrough final : public Layer {
 public:
  explicit PassThrough(int64_t features) : features_(features) {}
  std::string describe() const override { return "PassThrough(" + std::to_string(features_) + ")"; }
  int64_t in_features() const override { return features_; }
  int64_t out_features() const override { return features_; }
  std::unique_ptr<DeviceLayer> make_device_layer() override;

 private:
  void forward_impl(const Tensor& x, Tensor& y, bool) override { y = x; }
  void backward_impl(const Tensor& dy, Tensor& dx, bool need_dx, bool) override {
    if (need_dx) dx = dy;
  }
  int64_t features_;
};

#if defined(NMODE_HAS_CUDA)
class PassThroughOnDevice final : public DeviceLayer {
 public:
  explicit PassThroughOnDevice(int64_t features) : features_(features) {}
  void forward(DeviceContext&, int64_t n, const float* x, float* y, bool) override { copy(n, x, y); }
  void backward(DeviceContext&, int64_t n, const float*, const float*, const float* dy, float* dx, bool need_dx,
                DeviceGrads) override {
    if (need_dx) copy(n, dy, dx);
  }

 private:
  void copy(int64_t n, const float* from, float* to) const {
    ASSERT_EQ(cudaMemcpyAsync(to, from, size_t(n * features_) * sizeof(float), cudaMemcpyDeviceToDevice), cudaSuccess);
  }
  int64_t features_;
};
std::unique_ptr<DeviceLayer> PassThrough::make_device_layer() { return std::make_unique<PassThroughOnDevice>(features_); }
#else
std::unique_ptr<DeviceLayer> PassThrough::make_device_layer() { return nullptr; }
#endif

// Small integers in, weights and output gradients: every product and sum on both
// sides is an integer far below 2^24, exact in float in any order, so the GPU's
// results must equal the CPU's bit for bit.
void fill_integers(Tensor& t, int lo, int hi, int salt) {
  for (int64_t i = 0; i < t.size(); ++i) t[i] = static_cast<float>(lo + int((i * 7 + salt) % (hi - lo + 1)));
}

TEST(DeviceLayer, CudaModelRunsALayerTypeThroughTheFormItSupplies) {
  NMODE_REQUIRE_GPU();
  Sequential model;
  auto& first = model.emplace<Linear>(6, 5, 1);
  model.emplace<PassThrough>(5);
  auto& last = model.emplace<Linear>(5, 3, 2);
  fill_integers(first.weight(), -2, 2, 1);
  fill_integers(first.bias(), -3, 3, 2);
  fill_integers(last.weight(), -2, 2, 3);
  fill_integers(last.bias(), -3, 3, 4);
  CudaModel gpu(model);

  const int64_t n = 7;
  Tensor x({n, 6}), dlogits({n, 3});
  fill_integers(x, 0, 3, 5);
  fill_integers(dlogits, -2, 2, 6);
  Tensor logits_cpu, logits_gpu, dx_cpu, dx_gpu;
  model.zero_grad();
  model.forward(x, logits_cpu, true);
  model.backward(dlogits, &dx_cpu);
  std::vector<Tensor> grads_cpu;
  for (const ParameterRef& p : model.parameters()) grads_cpu.push_back(*p.grad);

  model.zero_grad();
  gpu.forward(x, logits_gpu, true);
  gpu.backward(dlogits, &dx_gpu);
  for (int64_t i = 0; i < logits_cpu.size(); ++i) EXPECT_EQ(logits_gpu[i], logits_cpu[i]) << "logit " << i;
  for (int64_t i = 0; i < dx_cpu.size(); ++i) EXPECT_EQ(dx_gpu[i], dx_cpu[i]) << "dx " << i;
  const std::vector<ParameterRef>& params = model.parameters();
  for (size_t k = 0; k < params.size(); ++k)
    for (int64_t i = 0; i < params[k].grad->size(); ++i)
      EXPECT_EQ((*params[k].grad)[i], grads_cpu[k][i]) << params[k].name << " " << i;
}

}  // namespace
}  // namespace nmode
