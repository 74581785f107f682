// DeviceBuffer<T>: GPU memory with explicit host copies.
#include <atomic>
#include <cstdio>

#include "cuda_check.cuh"
#include "nmode/device_buffer.hpp"
#include "nmode/ode.hpp"

namespace nmode {

namespace {
std::atomic<size_t> g_allocated_bytes{0};
}

template <class T>
DeviceBuffer<T>::DeviceBuffer(size_t count) : size_(count) {
  if (count == 0) return;
  void* p = nullptr;
  NMODE_CUDA_CHECK(cudaMalloc(&p, count * sizeof(T)));
  data_ = static_cast<T*>(p);
  g_allocated_bytes += count * sizeof(T);
}

template <class T>
DeviceBuffer<T>::~DeviceBuffer() {
  if (!data_) return;
  const cudaError_t status = cudaFree(data_);
  if (status != cudaSuccess) std::fprintf(stderr, "nmode: cudaFree failed: %s\n", cudaGetErrorString(status));
  g_allocated_bytes -= size_ * sizeof(T);
}

template <class T>
DeviceBuffer<T>::DeviceBuffer(DeviceBuffer&& other) noexcept : data_(other.data_), size_(other.size_) {
  other.data_ = nullptr;
  other.size_ = 0;
}

template <class T>
DeviceBuffer<T>& DeviceBuffer<T>::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    DeviceBuffer<T> old(std::move(*this));
    data_ = other.data_;
    size_ = other.size_;
    other.data_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

template <class T>
void DeviceBuffer<T>::copy_from_host(const T* host, size_t count) {
  if (count > size_)
    throw InvalidArgument("copy_from_host: " + std::to_string(count) + " elements into a buffer of " +
                          std::to_string(size_));
  if (count) NMODE_CUDA_CHECK(cudaMemcpy(data_, host, count * sizeof(T), cudaMemcpyHostToDevice));
}

template <class T>
void DeviceBuffer<T>::copy_to_host(T* host, size_t count) const {
  if (count > size_)
    throw InvalidArgument("copy_to_host: " + std::to_string(count) + " elements from a buffer of " +
                          std::to_string(size_));
  if (count) NMODE_CUDA_CHECK(cudaMemcpy(host, data_, count * sizeof(T), cudaMemcpyDeviceToHost));
}

template <class T>
std::vector<T> DeviceBuffer<T>::to_host_vector() const {
  std::vector<T> v(size_);
  copy_to_host(v.data(), size_);
  return v;
}

template <class T>
size_t DeviceBuffer<T>::allocated_bytes() {
  return g_allocated_bytes.load();
}

template class DeviceBuffer<float>;
template class DeviceBuffer<double>;
template class DeviceBuffer<int32_t>;
template class DeviceBuffer<uint8_t>;
template class DeviceBuffer<ElementStatus>;
template class DeviceBuffer<unsigned long long>;
template class DeviceBuffer<uint64_t>;  // unsigned long on LP64: a type of its own

}  // namespace nmode

