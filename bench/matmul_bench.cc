// matmul per weight type and SIMD level:
//   matvec/TYPE/LEVEL  one activation row (decode) over a weight matrix of
//                      about 48 MiB (larger than the caches), one thread;
//                      reports GB/s of weights streamed
//   gemm/TYPE/LEVEL    64 rows (a prefill chunk) times 2048 x 512 weights,
//                      one thread; reports GFLOP/s (2 flops per weight and row)
//   gemm2, gemm4/TYPE/LEVEL  the same with 2 or 4 rows (a small expert batch
//                      in a MoE prefill, or sequences decoding together: at 16
//                      sequences an expert of 64, top-8, gets 2 rows a step)
//   gemm8 .. gemm32/TYPE/LEVEL  the same with 8, 12, 15, 16, 24, 31, 32 rows:
//                      where the row kernels hand over to the prefill tiles
//   matvec2t/TYPE/avx2|avx512  matvec on a pool of 2 threads (the bandwidth
//                      two cores draw); matvec2t_dram the same on 384 MiB;
//                      rows2x2t_dram, rows4x2t_dram with 2 and 4 activation rows
// TYPE includes the row-interleaved q5_0_r16, q8_0_r16, q4_k_r16 and q6_k_r16 (quant/repack.h),
// to set beside q4_k and q6_k, and the lattice types (random codes under a
// small d).
// Run: frugal_microbench --benchmark_filter='matvec|gemm'
#include <benchmark/benchmark.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "base/anonymous_memory.h"
#include "base/fp16.h"
#include "base/thread_pool.h"
#include "kernels/cpu_features.h"
#include "kernels/matmul.h"
#include "quant/quant.h"
#include "quant/repack.h"

namespace frugal::kernels {
namespace {

const TensorType kTypes[] = {TensorType::Q8_0,     TensorType::Q4_0,     TensorType::Q5_0,     TensorType::Q4_K,
                             TensorType::Q5_K,     TensorType::Q6_K,     TensorType::IQ4_XS,   TensorType::BF16,
                             TensorType::F16,      TensorType::F32,      TensorType::Q5_0_R16, TensorType::Q8_0_R16,
                             TensorType::Q4_K_R16, TensorType::Q5_K_R16, TensorType::Q6_K_R16, TensorType::MXFP4,    TensorType::IQ2_XXS,
                             TensorType::IQ2_XS,   TensorType::IQ3_XXS,  TensorType::IQ2_S,    TensorType::IQ3_S,
                             TensorType::IQ1_S,    TensorType::IQ1_M};

// Weights quantised from normal values (the quantisers of the types this
// build has), otherwise random bytes with every fp16 scale set to a small
// finite value: the speed of a kernel does not depend on the codes.
std::vector<uint8_t> weights(TensorType t, int64_t n_out, int64_t n_in) {
  if (quant::base_type(t) != t) {  // a repacked type: its base type's rows, repacked
    std::vector<uint8_t> data = weights(quant::base_type(t), n_out, n_in);
    quant::repack_rows(quant::base_type(t), data.data(), data.data(), n_out, n_in);
    return data;
  }
  std::mt19937 rng(1);
  const size_t rb = row_bytes(t, static_cast<uint64_t>(n_in));
  std::vector<uint8_t> data(rb * static_cast<size_t>(n_out));
  for (size_t i = 0; i + 4 <= data.size(); i += 4) {
    const uint32_t v = rng();
    std::memcpy(&data[i], &v, 4);
  }
  const uint16_t small = f32_to_fp16(0.01f);
  const auto& info = tensor_type_info(t);
  if (t == TensorType::F32) {
    for (size_t i = 0; i < data.size() / 4; ++i) reinterpret_cast<float*>(data.data())[i] = 0.01f * (i % 7);
  } else if (t == TensorType::F16 || t == TensorType::BF16) {
    for (size_t i = 0; i < data.size() / 2; ++i) reinterpret_cast<uint16_t*>(data.data())[i] = small;
  } else {
    // Every fp16 field of the block formats used here sits at offset 0 or 2,
    // except Q6_K's d at the end and IQ1_M's, spread over its scale words.
    for (size_t b = 0; b < data.size() / info.block_bytes; ++b) {
      uint8_t* p = data.data() + b * info.block_bytes;
      if (t == TensorType::Q6_K) {
        std::memcpy(p + info.block_bytes - 2, &small, 2);
      } else if (t == TensorType::IQ1_M) {  // d in the top nibbles of the four scale words at the end
        uint16_t words[4];
        std::memcpy(words, p + info.block_bytes - 8, 8);
        for (int k = 0; k < 4; ++k)
          words[k] = static_cast<uint16_t>((words[k] & 0x0FFF) | ((small >> (4 * k)) & 0xF) << 12);
        std::memcpy(p + info.block_bytes - 8, words, 8);
      } else {
        std::memcpy(p, &small, 2);
        if (t == TensorType::Q4_K || t == TensorType::Q5_K) std::memcpy(p + 2, &small, 2);
      }
    }
  }
  return data;
}

void run(benchmark::State& state, TensorType t, SimdLevel level, int64_t n_rows, int64_t n_out, int64_t n_in,
         ThreadPool* pool = nullptr) {
  // In 2 MiB pages where the system gives them, as the engine holds a model's weights.
  const auto bytes = weights(t, n_out, n_in);
  AnonymousMemory w(bytes.size());
  std::memcpy(w.data(), bytes.data(), bytes.size());
  const WeightMatrix W{t, w.data(), n_out, n_in};
  std::vector<float> x(static_cast<size_t>(n_rows * n_in)), y(static_cast<size_t>(n_rows * n_out));
  std::mt19937 rng(2);
  std::normal_distribution<float> normal;
  for (float& v : x) v = normal(rng);
  for (auto _ : state) {
    matmul_at_level(level, W, x.data(), n_in, n_rows, y.data(), n_out, pool);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  const double iters = static_cast<double>(state.iterations());
  if (n_rows == 1 || pool) {
    state.counters["GB/s"] = benchmark::Counter(static_cast<double>(w.size()) * iters / 1e9, benchmark::Counter::kIsRate);
  }
  if (n_rows > 1) {
    state.counters["GFLOP/s"] =
        benchmark::Counter(2.0 * n_rows * n_out * n_in * iters / 1e9, benchmark::Counter::kIsRate);
  }
}

const bool registered = [] {
  for (TensorType t : kTypes) {
    for (SimdLevel level : {SimdLevel::kScalar, SimdLevel::kAvx2, SimdLevel::kAvx512}) {
      if (level > detected_simd_level()) continue;
      const std::string suffix = std::string(tensor_type_name(t)) + "/" + simd_level_name(level);
      const int64_t n_in = 4096;
      const int64_t n_out = (48ll << 20) / static_cast<int64_t>(row_bytes(t, n_in)) / 16 * 16;
      benchmark::RegisterBenchmark(("matvec/" + suffix).c_str(), [=](benchmark::State& s) {
        run(s, t, level, 1, n_out, n_in);
      })->Unit(benchmark::kMillisecond)->UseRealTime();
      // The same kernel on 8 MiB of weights, which stay in the last-level cache: its arithmetic
      // speed, to set beside matvec's speed from memory.
      benchmark::RegisterBenchmark(("matvec_llc/" + suffix).c_str(), [=](benchmark::State& s) {
        run(s, t, level, 1, (8ll << 20) / static_cast<int64_t>(row_bytes(t, n_in)) / 16 * 16, n_in);
      })->Unit(benchmark::kMillisecond)->UseRealTime();
      benchmark::RegisterBenchmark(("gemm/" + suffix).c_str(), [=](benchmark::State& s) {
        run(s, t, level, 64, 512, 2048);
      })->Unit(benchmark::kMillisecond)->UseRealTime();
      for (int64_t rows : {2, 4}) {
        benchmark::RegisterBenchmark(("gemm" + std::to_string(rows) + "/" + suffix).c_str(), [=](benchmark::State& s) {
          run(s, t, level, rows, 512, 2048);
        })->Unit(benchmark::kMillisecond)->UseRealTime();
      }
      // Either side of the k-quants' switch from row kernels to tiles.
      for (int64_t rows : {8, 12, 15, 16, 24, 31, 32}) {
        benchmark::RegisterBenchmark(("gemm" + std::to_string(rows) + "/" + suffix).c_str(), [=](benchmark::State& s) {
          run(s, t, level, rows, 512, 2048);
        })->Unit(benchmark::kMillisecond)->UseRealTime();
      }
      if (level != SimdLevel::kScalar) {
        benchmark::RegisterBenchmark(("matvec2t/" + suffix).c_str(), [=](benchmark::State& s) {
          static ThreadPool pool(2);
          run(s, t, level, 1, n_out, n_in, &pool);
        })->Unit(benchmark::kMillisecond)->UseRealTime();
        // 384 MiB: far past any last-level cache (a 48 MiB matrix still finds part of itself in
        // a 32 MiB L3 on two cores), the speed decoding gets from memory.
        benchmark::RegisterBenchmark(("matvec2t_dram/" + suffix).c_str(), [=](benchmark::State& s) {
          static ThreadPool pool(2);
          run(s, t, level, 1, n_out * 8, n_in, &pool);
        })->Unit(benchmark::kMillisecond)->UseRealTime();
        // The same with 2 and 4 activation rows (sequences decoding together, an expert chosen
        // by several of them): where a kernel's arithmetic and its reads from memory must overlap.
        for (int64_t rows : {2, 4}) {
          benchmark::RegisterBenchmark(("rows" + std::to_string(rows) + "x2t_dram/" + suffix).c_str(),
                                       [=](benchmark::State& s) {
                                         static ThreadPool pool(2);
                                         run(s, t, level, rows, n_out * 8, n_in, &pool);
                                       })
              ->Unit(benchmark::kMillisecond)
              ->UseRealTime();
        }
      }
    }
  }
  return true;
}();

}  // namespace
}  // namespace frugal::kernels
