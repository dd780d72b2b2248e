// The CUDA runtime as the rest of frugal sees it: which devices there are
// (and, when none, why not, in words), device memory owned by RAII buffers,
// GPU-side timing, and every CUDA error turned into a frugal::Error that
// names the call and where it was made. No CUDA header is included here, so
// plain C++ code (tests, the benchmark) can use it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace frugal::cuda {

// Throws frugal::Error "CUDA error <name> (<text>) in <call> at <file>:<line>"
// unless code is cudaSuccess (0).
void check(int code, const char* call, const char* file, int line);
#define FRUGAL_CUDA_CHECK(call) ::frugal::cuda::check(static_cast<int>(call), #call, __FILE__, __LINE__)
// The error of the last kernel launch, if any, as check() reports it.
void check_launch(const char* kernel, const char* file, int line);
#define FRUGAL_CUDA_CHECK_LAUNCH(kernel) ::frugal::cuda::check_launch(kernel, __FILE__, __LINE__)

struct DeviceCount {
  int count = 0;
  std::string why_none;  // when count is 0: the runtime's reason (no driver, no device)
};
// Never throws: a machine without a driver or a GPU has zero devices.
DeviceCount device_count();

struct DeviceInfo {
  int index = 0;
  std::string name;
  int compute_major = 0, compute_minor = 0;
  int multiprocessors = 0;
  size_t memory_bytes = 0;
  // Memory clock (kHz) x bus width x 2 (double data rate): the peak the
  // device reports, a ceiling no kernel reaches.
  double peak_bandwidth_gbs = 0;
};
// Throws frugal::Error "no CUDA device: <why>" when there is none.
DeviceInfo device_info(int index = 0);
std::string describe(const DeviceInfo& info);

// Waits for all work on the device.
void synchronize();

// Device memory of a fixed size, freed on destruction; move-only.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& other) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void* data() const { return data_; }
  template <class T>
  T* as() const {
    return static_cast<T*>(data_);
  }
  size_t bytes() const { return bytes_; }
  // Whole-buffer copies; frugal::Error when bytes exceeds the buffer.
  void upload(const void* host, size_t bytes);
  void download(void* host, size_t bytes) const;

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

// Elapsed GPU time between start() and stop_ms(), measured by device events.
class DeviceTimer {
 public:
  DeviceTimer();
  ~DeviceTimer();
  DeviceTimer(const DeviceTimer&) = delete;
  DeviceTimer& operator=(const DeviceTimer&) = delete;
  void start();
  float stop_ms();  // waits for the stop event

 private:
  void* start_ = nullptr;  // cudaEvent_t
  void* stop_ = nullptr;
};

}  // namespace frugal::cuda
