// Tensor shape bookkeeping and checks.
#include "nmode/tensor.hpp"

#include <algorithm>

#include "nmode/error.hpp"

namespace nmode {

int64_t shape_elements(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) throw InvalidArgument("tensor dimensions must be non-negative, got " + shape_to_string(shape));
    n *= d;
  }
  return n;
}

std::string shape_to_string(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + ")";
}

Tensor::Tensor(std::vector<int64_t> shape, float fill)
    : shape_(std::move(shape)), data_(static_cast<size_t>(shape_elements(shape_)), fill) {}

int64_t Tensor::dim(int i) const {
  if (i < 0 || i >= rank())
    throw InvalidArgument("tensor dimension index " + std::to_string(i) + " out of range for shape " + shape_string());
  return shape_[static_cast<size_t>(i)];
}

void Tensor::resize(std::vector<int64_t> shape) {
  const int64_t n = shape_elements(shape);
  shape_ = std::move(shape);
  data_.resize(static_cast<size_t>(n));
}

void Tensor::fill(float value) { std::fill(data_.begin(), data_.end(), value); }

std::string Tensor::shape_string() const { return shape_to_string(shape_); }

}  // namespace nmode
