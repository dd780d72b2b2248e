// Every CUDA kernel on the device against the CPU reference: dequantisation
// and activation quantisation bit for bit, the matrix-vector products of
// every type at batches 1 to 13 within the f32 rounding bound of a double
// product. Run by ctest as cuda.device_kernels; without a CUDA device it
// prints why in one line and exits with ctest's skip code.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "base/error.h"
#include "base/fp16.h"
#include "cuda/block_types.h"
#include "cuda/kernels.h"
#include "cuda/reference.h"
#include "cuda/runtime.h"
#include "kernels/quantize_activations.h"
#include "kernels/random_data.h"

namespace frugal::cuda {
namespace {

// Odd sizes: a partial thread block of rows and of units.
constexpr int64_t kRows = 37, kN = 1536;

DeviceBuffer upload(const void* data, size_t bytes) {
  DeviceBuffer b(bytes);
  b.upload(data, bytes);
  return b;
}

template <class T>
std::vector<T> download(const DeviceBuffer& b, size_t count) {
  std::vector<T> out(count);
  synchronize();
  b.download(out.data(), count * sizeof(T));
  return out;
}

TEST(CudaDevice, DequantizeIsTheCpusBitForBit) {
  std::mt19937 rng(kernels::test_data::test_seed());
  for (TensorType t : block_types()) {
    const std::vector<uint8_t> w = kernels::test_data::random_weights(t, kRows, kN, rng);
    const std::vector<float> want = test::dequantized(t, w, kRows, kN);
    const DeviceBuffer d_w = upload(w.data(), w.size());
    DeviceBuffer d_y(want.size() * sizeof(float));
    dequantize(t, d_w.data(), d_y.as<float>(), kRows, kN);
    const std::vector<float> got = download<float>(d_y, want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      ASSERT_EQ(f32_to_bits(got[i]), f32_to_bits(want[i])) << tensor_type_name(t) << " value " << i;
    }
  }
}

TEST(CudaDevice, QuantizedActivationsAreTheCpus) {
  std::mt19937 rng(kernels::test_data::test_seed() + 1);
  const int batch = 3;
  const std::vector<float> x = kernels::test_data::random_rows(batch, kN, rng);
  std::vector<kernels::ActBlock32> want(x.size() / 32);
  kernels::quantize_act_q8_32(x.data(), want.data(), static_cast<int64_t>(x.size()));
  const DeviceBuffer d_x = upload(x.data(), x.size() * sizeof(float));
  DeviceBuffer d_q(matvec_scratch_bytes(batch, kN));
  quantize_activations(d_x.as<float>(), d_q.data(), batch, kN);
  const std::vector<kernels::ActBlock32> got = download<kernels::ActBlock32>(d_q, want.size());
  for (size_t b = 0; b < want.size(); ++b) {
    ASSERT_EQ(std::memcmp(&got[b], &want[b], sizeof want[b]), 0) << "block " << b;
  }
}

TEST(CudaDevice, MatvecMatchesTheDoubleReference) {
  std::mt19937 rng(kernels::test_data::test_seed() + 2);
  for (TensorType t : block_types()) {
    const std::vector<uint8_t> w = kernels::test_data::random_weights(t, kRows, kN, rng);
    const DeviceBuffer d_w = upload(w.data(), w.size());
    for (Accumulation acc : {Accumulation::F32, Accumulation::Int8}) {
      if (acc == Accumulation::Int8 && !supports_int8(t)) continue;
      for (int batch : {1, 2, 5, 8, 13}) {  // 13: a second launch of 5 rows
        const std::vector<float> x = kernels::test_data::random_rows(batch, kN, rng);
        const std::vector<float> x_seen = acc == Accumulation::Int8 ? test::int8_activations(x, batch, kN) : x;
        const test::Products want = test::reference_products(t, w, kRows, kN, x_seen, batch);
        const DeviceBuffer d_x = upload(x.data(), x.size() * sizeof(float));
        DeviceBuffer d_y(want.value.size() * sizeof(float));
        DeviceBuffer d_scratch(matvec_scratch_bytes(batch, kN));
        matvec({.type = t, .d_weights = d_w.data(), .rows = kRows, .n = kN, .d_x = d_x.as<float>(),
                .batch = batch, .d_y = d_y.as<float>(), .accumulation = acc, .d_scratch = d_scratch.data(),
                .scratch_bytes = d_scratch.bytes()});
        const std::vector<float> got = download<float>(d_y, want.value.size());
        for (size_t i = 0; i < got.size(); ++i) {
          ASSERT_NEAR(got[i], want.value[i], test::kProductTolerance * want.magnitude[i] + 1e-30)
              << tensor_type_name(t) << (acc == Accumulation::Int8 ? " int8" : " f32") << " batch " << batch
              << " output " << i;
        }
      }
    }
  }
}

TEST(CudaDevice, AFailedCallIsAnErrorWithItsPlace) {
  // More memory than any device has: cudaMalloc fails, the buffer throws.
  try {
    DeviceBuffer huge(size_t{1} << 50);
    FAIL() << "a 1 PiB buffer was allocated";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cudaMalloc"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("runtime.cc:"), std::string::npos) << e.what();
  }
  // The failure is not left behind for the next launch to report.
  const std::vector<float> x(64, 1.0f);
  const DeviceBuffer d_x = upload(x.data(), x.size() * sizeof(float));
  DeviceBuffer d_q(matvec_scratch_bytes(2, 32));
  EXPECT_NO_THROW(quantize_activations(d_x.as<float>(), d_q.data(), 2, 32));
  synchronize();
}

}  // namespace
}  // namespace frugal::cuda

int main(int argc, char** argv) {
  const frugal::cuda::DeviceCount n = frugal::cuda::device_count();
  if (n.count == 0) {
    std::printf("cuda device check skipped: no CUDA device (%s)\n", n.why_none.c_str());
    return FRUGAL_SKIP_CODE;
  }
  std::printf("%s\n", frugal::cuda::describe(frugal::cuda::device_info(0)).c_str());
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
