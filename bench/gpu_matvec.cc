// GPU throughput of the CUDA kernels (src/cuda/kernels.h): for every type of
// the backend, the dequantisation of the whole matrix to f32, and matvec at
// 1, 4 and 8 activation rows with each accumulation the type has. For each,
// the GPU time of one call and the bytes it must move (the weights once, the
// activations and the outputs) per second, as GB/s and as a share of a stated
// bandwidth: the device's reported peak, or --bandwidth-gbs. Exits 77 (the
// tests' skip code) without a device.
//
//   frugal_gpu_bench [--rows R] [--n N] [--iterations I] [--bandwidth-gbs B]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/fp16.h"
#include "cuda/block_types.h"
#include "cuda/kernels.h"
#include "cuda/runtime.h"
#include "quant/quant.h"

namespace {

using namespace frugal;
using namespace frugal::cuda;

struct Options {
  int64_t rows = 16384, n = 8192;  // 128M weights: far more than the L2 cache at every type
  int iterations = 50;
  double bandwidth_gbs = 0;  // 0: the device's peak
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) fail("gpu_matvec: ", a, " needs a value (or is unknown)");
    const char* v = argv[++i];
    if (a == "--rows") o.rows = std::atoll(v);
    else if (a == "--n") o.n = std::atoll(v);
    else if (a == "--iterations") o.iterations = std::atoi(v);
    else if (a == "--bandwidth-gbs") o.bandwidth_gbs = std::atof(v);
    else fail("gpu_matvec: unknown option ", a, " (--rows, --n, --iterations, --bandwidth-gbs)");
  }
  if (o.rows <= 0 || o.n <= 0 || o.n % 256 != 0 || o.iterations <= 0 || o.bandwidth_gbs < 0) {
    fail("gpu_matvec: --rows and --iterations must be positive, --n a positive multiple of 256");
  }
  return o;
}

// rows x n weights of type t. Quantising 128M values on the CPU would take
// minutes, and the kernels' speed does not depend on the values, so one tile
// of 64 real quantised rows is repeated down the matrix.
std::vector<uint8_t> weights(TensorType t, const Options& o, std::mt19937& rng) {
  constexpr int64_t kTileRows = 64;
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> values(static_cast<size_t>(kTileRows * o.n));
  for (float& v : values) v = normal(rng);
  const size_t rb = row_bytes(t, static_cast<uint64_t>(o.n));
  std::vector<uint8_t> tile(rb * kTileRows);
  quant::quantize_rows(t, values.data(), tile.data(), kTileRows, o.n);
  std::vector<uint8_t> all(rb * static_cast<size_t>(o.rows));
  for (int64_t r = 0; r < o.rows; ++r) std::memcpy(all.data() + r * rb, tile.data() + (r % kTileRows) * rb, rb);
  return all;
}

// Mean GPU microseconds of f() over `iterations` calls, after one warm-up.
template <class F>
double gpu_us(int iterations, F&& f) {
  f();
  synchronize();
  DeviceTimer timer;
  timer.start();
  for (int i = 0; i < iterations; ++i) f();
  return 1e3 * timer.stop_ms() / iterations;
}

void print_row(TensorType t, const char* op, const std::string& batch, double bytes, double us, double bandwidth) {
  const double gbs = bytes / (us * 1e3);
  std::printf("%-7s %-7s %5s %10.1f %9.1f %8.1f %7.1f\n", tensor_type_name(t), op, batch.c_str(), bytes / (1 << 20),
              us, gbs, 100.0 * gbs / bandwidth);
}

int run(const Options& o) {
  const DeviceCount count = device_count();
  if (count.count == 0) {
    std::printf("gpu_matvec skipped: no CUDA device (%s)\n", count.why_none.c_str());
    return 77;
  }
  const DeviceInfo info = device_info(0);
  const double bandwidth = o.bandwidth_gbs > 0 ? o.bandwidth_gbs : info.peak_bandwidth_gbs;
  std::printf("%s\n", describe(info).c_str());
  std::printf("matvec %lld x %lld, %d iterations each; %% of %.0f GB/s (%s)\n", static_cast<long long>(o.rows),
              static_cast<long long>(o.n), o.iterations, bandwidth,
              o.bandwidth_gbs > 0 ? "--bandwidth-gbs" : "the device's reported peak");
  std::printf("%-7s %-7s %5s %10s %9s %8s %7s\n", "type", "op", "batch", "MiB", "us", "GB/s", "% peak");
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (TensorType t : block_types()) {
    const std::vector<uint8_t> w = weights(t, o, rng);
    DeviceBuffer d_w(w.size());
    d_w.upload(w.data(), w.size());
    {
      DeviceBuffer d_out(static_cast<size_t>(o.rows * o.n) * sizeof(float));
      const double us = gpu_us(o.iterations, [&] { dequantize(t, d_w.data(), d_out.as<float>(), o.rows, o.n); });
      print_row(t, "dequant", "-", static_cast<double>(w.size() + d_out.bytes()), us, bandwidth);
    }
    for (Accumulation acc : {Accumulation::F32, Accumulation::Int8}) {
      if (acc == Accumulation::Int8 && !supports_int8(t)) continue;
      for (int batch : {1, 4, 8}) {
        std::vector<float> x(static_cast<size_t>(batch * o.n));
        for (float& v : x) v = normal(rng);
        DeviceBuffer d_x(x.size() * sizeof(float)), d_y(static_cast<size_t>(batch * o.rows) * sizeof(float));
        DeviceBuffer d_scratch(matvec_scratch_bytes(batch, o.n));
        d_x.upload(x.data(), x.size() * sizeof(float));
        const MatvecArgs args{.type = t, .d_weights = d_w.data(), .rows = o.rows, .n = o.n, .d_x = d_x.as<float>(),
                              .batch = batch, .d_y = d_y.as<float>(), .accumulation = acc,
                              .d_scratch = d_scratch.data(), .scratch_bytes = d_scratch.bytes()};
        const double us = gpu_us(o.iterations, [&] { matvec(args); });
        print_row(t, acc == Accumulation::Int8 ? "int8" : "f32", std::to_string(batch),
                  static_cast<double>(w.size() + x.size() * sizeof(float) + d_y.bytes()), us, bandwidth);
      }
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(parse(argc, argv));
  } catch (const frugal::Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
