#include "cuda/runtime.h"

#include <cuda_runtime_api.h>

#include <utility>

#include "base/error.h"

namespace frugal::cuda {

void check(int code, const char* call, const char* file, int line) {
  if (code == cudaSuccess) return;
  const auto e = static_cast<cudaError_t>(code);
  // The runtime keeps a failed call's error as the "last error" too; clear it,
  // or the next launch check would report this failure again.
  cudaGetLastError();
  fail("CUDA error ", cudaGetErrorName(e), " (", cudaGetErrorString(e), ") in ", call, " at ", file, ":", line);
}

void check_launch(const char* kernel, const char* file, int line) {
  check(static_cast<int>(cudaGetLastError()), kernel, file, line);
}

DeviceCount device_count() {
  DeviceCount out;
  const cudaError_t e = cudaGetDeviceCount(&out.count);
  if (e != cudaSuccess) {
    out.count = 0;
    out.why_none = str_cat(cudaGetErrorName(e), ": ", cudaGetErrorString(e));
    cudaGetLastError();  // clear it, so that the next call does not report it again
  } else if (out.count == 0) {
    out.why_none = "the driver reports no device";
  }
  return out;
}

DeviceInfo device_info(int index) {
  const DeviceCount n = device_count();
  if (n.count == 0) fail("no CUDA device: ", n.why_none);
  if (index < 0 || index >= n.count) fail("no CUDA device ", index, ": there are ", n.count);
  DeviceInfo info;
  info.index = index;
  cudaDeviceProp prop{};
  FRUGAL_CUDA_CHECK(cudaGetDeviceProperties(&prop, index));
  info.name = prop.name;
  info.compute_major = prop.major;
  info.compute_minor = prop.minor;
  info.multiprocessors = prop.multiProcessorCount;
  info.memory_bytes = prop.totalGlobalMem;
  // The clock is an attribute, not a field of cudaDeviceProp, in CUDA 13.
  int clock_khz = 0;
  FRUGAL_CUDA_CHECK(cudaDeviceGetAttribute(&clock_khz, cudaDevAttrMemoryClockRate, index));
  info.peak_bandwidth_gbs = 2.0 * clock_khz * 1e3 * (prop.memoryBusWidth / 8.0) / 1e9;
  return info;
}

std::string describe(const DeviceInfo& info) {
  return str_cat("device ", info.index, ": ", info.name, ", compute ", info.compute_major, ".", info.compute_minor,
                 ", ", info.multiprocessors, " SMs, ", info.memory_bytes >> 20, " MiB, peak ",
                 static_cast<int>(info.peak_bandwidth_gbs), " GB/s");
}

void synchronize() { FRUGAL_CUDA_CHECK(cudaDeviceSynchronize()); }

DeviceBuffer::DeviceBuffer(size_t bytes) : bytes_(bytes) {
  if (bytes > 0) FRUGAL_CUDA_CHECK(cudaMalloc(&data_, bytes));
}

DeviceBuffer::~DeviceBuffer() {
  if (data_) cudaFree(data_);  // no throw from a destructor; a failed free leaks
}

DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    if (data_) cudaFree(data_);
    data_ = std::exchange(other.data_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

void DeviceBuffer::upload(const void* host, size_t bytes) {
  if (bytes > bytes_) fail("DeviceBuffer::upload: ", bytes, " bytes into a buffer of ", bytes_);
  FRUGAL_CUDA_CHECK(cudaMemcpy(data_, host, bytes, cudaMemcpyHostToDevice));
}

void DeviceBuffer::download(void* host, size_t bytes) const {
  if (bytes > bytes_) fail("DeviceBuffer::download: ", bytes, " bytes from a buffer of ", bytes_);
  FRUGAL_CUDA_CHECK(cudaMemcpy(host, data_, bytes, cudaMemcpyDeviceToHost));
}

DeviceTimer::DeviceTimer() {
  cudaEvent_t a = nullptr, b = nullptr;
  FRUGAL_CUDA_CHECK(cudaEventCreate(&a));
  if (const cudaError_t e = cudaEventCreate(&b); e != cudaSuccess) {
    cudaEventDestroy(a);  // no destructor runs for a constructor that throws
    check(e, "cudaEventCreate(&b)", __FILE__, __LINE__);
  }
  start_ = a;
  stop_ = b;
}

DeviceTimer::~DeviceTimer() {
  if (start_) cudaEventDestroy(static_cast<cudaEvent_t>(start_));
  if (stop_) cudaEventDestroy(static_cast<cudaEvent_t>(stop_));
}

void DeviceTimer::start() { FRUGAL_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(start_))); }

float DeviceTimer::stop_ms() {
  FRUGAL_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(stop_)));
  FRUGAL_CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(stop_)));
  float ms = 0;
  FRUGAL_CUDA_CHECK(cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(start_), static_cast<cudaEvent_t>(stop_)));
  return ms;
}

}  // namespace frugal::cuda
