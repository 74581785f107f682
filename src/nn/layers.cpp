// The checks every layer shares: input/output shapes and the forward-before-
// backward order, done once here so the implementations can assume them.
#include <string>

#include "nmode/error.hpp"
#include "nmode/layers.hpp"

namespace nmode {

void resize_matrix(Tensor& t, int64_t rows, int64_t cols) {
  const auto& s = t.shape();
  if (s.size() == 2 && s[0] == rows && s[1] == cols) return;
  t.resize({rows, cols});
}

std::unique_ptr<DeviceLayer> Layer::make_device_layer() { return nullptr; }

void Layer::forward(const Tensor& x, Tensor& y, bool training) {
  if (&x == &y) throw InvalidArgument(describe() + ": forward needs distinct input and output tensors");
  const int64_t in = in_features();
  if (x.rank() != 2)
    throw InvalidArgument(describe() + ": input must be (batch, " + std::to_string(in) + "), got shape " +
                          x.shape_string());
  if (x.dim(1) != in)
    throw InvalidArgument(describe() + ": input has " + std::to_string(x.dim(1)) + " features, expected " +
                          std::to_string(in));
  const int64_t n = x.dim(0);
  resize_matrix(y, n, out_features());
  if (training) cached_batch_ = -1;  // invalid until the forward succeeds
  forward_impl(x, y, training);
  if (training) cached_batch_ = n;
}

void Layer::backward(const Tensor& dy, Tensor& dx, bool need_dx, bool need_param_grads) {
  if (cached_batch_ < 0)
    throw InvalidArgument(describe() + ": backward needs a forward with training = true before it");
  if (&dy == &dx) throw InvalidArgument(describe() + ": backward needs distinct dy and dx tensors");
  const int64_t out = out_features();
  if (dy.rank() != 2 || dy.dim(0) != cached_batch_ || dy.dim(1) != out)
    throw InvalidArgument(describe() + ": output gradient has shape " + dy.shape_string() + ", expected (" +
                          std::to_string(cached_batch_) + ", " + std::to_string(out) +
                          ") as the last training forward's output");
  if (need_dx) resize_matrix(dx, cached_batch_, in_features());
  backward_impl(dy, dx, need_dx, need_param_grads);
}

}  // namespace nmode
