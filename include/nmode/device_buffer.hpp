// DeviceBuffer<T>: a move-only RAII array in GPU memory with explicit host copies.
// Host-side declarations only; defined in kernels/core/device_buffer.cu for the CUDA
// build (float, double, int32_t, uint8_t, uint64_t, unsigned long long, ElementStatus).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace nmode {

template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t count);  // throws CudaError when allocation fails
  ~DeviceBuffer();                      // never throws (logs a failed free to stderr)
  DeviceBuffer(DeviceBuffer&& other) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  T* data() { return data_; }
  const T* data() const { return data_; }
  size_t size() const { return size_; }

  void copy_from_host(const T* host, size_t count);  // count <= size()
  void copy_to_host(T* host, size_t count) const;    // count <= size()
  std::vector<T> to_host_vector() const;

  // Bytes currently allocated by all DeviceBuffers (for tests and reports).
  static size_t allocated_bytes();

 private:
  T* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace nmode
