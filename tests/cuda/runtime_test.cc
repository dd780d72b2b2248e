// What the CUDA runtime layer and the kernels' argument checks do on any
// machine, with a GPU or without: errors carry the call and its place, a
// machine without a device says why, and bad arguments are refused before
// anything reaches the device.
#include <gtest/gtest.h>

#include <string>

#include "base/error.h"
#include "cuda/kernels.h"
#include "cuda/runtime.h"

namespace frugal::cuda {
namespace {

std::string error_of(auto&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(CudaRuntime, AnErrorNamesTheCallAndItsPlace) {
  EXPECT_NO_THROW(check(0, "cudaSomething()", "here.cc", 1));
  const std::string e = error_of([] { check(1, "cudaMalloc(&p, n)", "buffers.cc", 42); });
  EXPECT_NE(e.find("cudaErrorInvalidValue"), std::string::npos) << e;
  EXPECT_NE(e.find("cudaMalloc(&p, n)"), std::string::npos) << e;
  EXPECT_NE(e.find("buffers.cc:42"), std::string::npos) << e;
}

TEST(CudaRuntime, NoDeviceIsReportedInWords) {
  const DeviceCount n = device_count();
  if (n.count > 0) GTEST_SKIP() << "this machine has " << n.count << " CUDA device(s)";
  EXPECT_FALSE(n.why_none.empty());
  const std::string e = error_of([] { device_info(0); });
  EXPECT_EQ(e.rfind("no CUDA device: ", 0), 0u) << e;
}

TEST(CudaRuntime, AnEmptyBufferNeedsNoDevice) {
  DeviceBuffer b;
  EXPECT_EQ(b.data(), nullptr);
  EXPECT_EQ(b.bytes(), 0u);
  DeviceBuffer moved = std::move(b);
  EXPECT_EQ(moved.data(), nullptr);
  EXPECT_NE(error_of([&] { moved.upload("x", 1); }).find("1 bytes into a buffer of 0"), std::string::npos);
}

TEST(CudaKernels, BadArgumentsAreRefusedBeforeTheDevice) {
  alignas(16) float y[4] = {}, x[4] = {};
  MatvecArgs a{.type = TensorType::Q4_K, .d_weights = y, .rows = 1, .n = 256, .d_x = x, .batch = 0, .d_y = y};
  EXPECT_NE(error_of([&] { matvec(a); }).find("batch 0 (at least 1 activation row)"), std::string::npos);
  a.batch = 9;
  a.accumulation = Accumulation::Int8;
  // 9 rows of 256 values: 9 x 8 int8 blocks of 36 bytes.
  EXPECT_NE(error_of([&] { matvec(a); }).find("needs 2592 bytes of d_scratch, not 0"), std::string::npos);
  a.d_scratch = y;
  a.scratch_bytes = matvec_scratch_bytes(9, 256) - 1;
  EXPECT_NE(error_of([&] { matvec(a); }).find("needs 2592 bytes of d_scratch, not 2591"), std::string::npos);
  a.accumulation = Accumulation::F32;
  a.n = 200;
  EXPECT_NE(error_of([&] { matvec(a); }).find("not a whole number of 256-value blocks"), std::string::npos);
  a.type = TensorType::Q2_K;
  EXPECT_NE(error_of([&] { matvec(a); }).find("no kernel for q2_k"), std::string::npos);
  a.type = TensorType::F16;
  a.n = 64;
  a.accumulation = Accumulation::Int8;
  EXPECT_NE(error_of([&] { matvec(a); }).find("int8 accumulation needs a quantised type"), std::string::npos);
  EXPECT_NE(error_of([&] { dequantize(TensorType::Q3_K, y, y, 1, 256); }).find("no kernel for q3_k"),
            std::string::npos);
  a.accumulation = Accumulation::F32;
  a.d_x = x + 1;
  EXPECT_NE(error_of([&] { matvec(a); }).find("d_x must be 16-byte aligned"), std::string::npos);
  EXPECT_NE(error_of([&] { dequantize(TensorType::Q4_K, y + 2, y, 1, 256); }).find("d_src must be 16-byte aligned"),
            std::string::npos);
  EXPECT_NE(error_of([&] { quantize_activations(x, y, 0, 32); }).find("batch 0"), std::string::npos);
  EXPECT_NE(error_of([&] { quantize_activations(x, y, 1, 48); }).find("not whole blocks of 32"), std::string::npos);
  EXPECT_FALSE(kernel_supports(TensorType::Q4_0));
  EXPECT_TRUE(kernel_supports(TensorType::MXFP4));
  EXPECT_TRUE(supports_int8(TensorType::IQ4_XS));
  EXPECT_FALSE(supports_int8(TensorType::BF16));
}

}  // namespace
}  // namespace frugal::cuda
