// Tensor: a host-side, row-major float32 array with a shape. Just enough for
// layers, datasets and checkpoints; not a general-purpose array library.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace nmode {

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::vector<int64_t> shape, float fill = 0.0f);
  Tensor(std::initializer_list<int64_t> shape) : Tensor(std::vector<int64_t>(shape)) {}

  const std::vector<int64_t>& shape() const { return shape_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  // Size of dimension i; throws InvalidArgument when i is out of range.
  int64_t dim(int i) const;
  int64_t size() const { return static_cast<int64_t>(data_.size()); }
  bool empty() const { return data_.empty(); }

  float* data() { return data_.data(); }
  const float* data() const { return data_.data(); }
  float& operator[](int64_t i) { return data_[static_cast<size_t>(i)]; }
  float operator[](int64_t i) const { return data_[static_cast<size_t>(i)]; }
  std::vector<float>& vector() { return data_; }
  const std::vector<float>& vector() const { return data_; }

  // Changes the shape; keeps the allocation when it is large enough, so a
  // training loop with fixed shapes allocates nothing after the first step.
  void resize(std::vector<int64_t> shape);
  void fill(float value);

  // "(256, 784)"
  std::string shape_string() const;

 private:
  std::vector<int64_t> shape_;
  std::vector<float> data_;
};

// Product of the dimensions; throws InvalidArgument for negative dimensions.
int64_t shape_elements(const std::vector<int64_t>& shape);
std::string shape_to_string(const std::vector<int64_t>& shape);

}  // namespace nmode
