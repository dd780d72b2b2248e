// The lattice types' dot kernels of one x86 level, included (inside the
// level's own namespace) by matmul_iq_avx512.cc and matmul_iq_avx2.cc after
// they define
//   FRUGAL_TARGET        __attribute__((target(...))) for every function here
//   FRUGAL_IQ1_S         1 where the level has chunk() for IQ1_S and IQ1_M
//                        (avx2; the avx512 level takes avx2's kernels for them)
//   kChunkValues         values a chunk of a block covers (64 or 32)
//   chunk(block, k)      for each type: chunk k's magnitudes, signs and unit
//                        scales (a Chunk; IQ1_S's a ShiftChunk), decoded once
//                        for all activation rows
//   Acc, acc_zero(), accumulate(Acc, const Chunk& or ShiftChunk&, a) and
//   lane_total(Acc)      int32 lanes of a block's products with one row, and
//                        their exact total
// and including <immintrin.h>, <cmath>, base/fp16.h, kernels/matmul_kernels.h
// and quant/iq_blocks.h. Each block's integer total is scaled as the scalar
// kernel (matmul_iq_scalar.cc) scales it, so the results are its bits.

// A block's d: its fp16 field, or IQ1_M's from the top nibbles of its scale words.
template <class Block>
inline float block_d(const Block& b) {
  return fp16_to_f32(b.d);
}
// IQ1_M's (quant::iq1_m_d) inline: the top nibble of each of its four scale words.
inline float block_d(const quant::BlockIQ1_M& b) {
  uint64_t w;
  std::memcpy(&w, b.scales, sizeof w);
  const auto bits = static_cast<uint16_t>(((w >> 12) & 0xF) | ((w >> 24) & 0xF0) | ((w >> 36) & 0xF00) | ((w >> 48) & 0xF000));
  return fp16_to_f32(bits);
}

// One weight row times R activation rows; kDiv as in the scalar kernel.
template <class Block, int kDiv, int R>
FRUGAL_TARGET void dot_rows(const void* w, const void* act, size_t stride, int64_t n_in, float* y, int64_t ys) {
  const auto* wb = static_cast<const Block*>(w);
  const quant::BlockQ8_K* a[R];
  for (int r = 0; r < R; ++r)
    a[r] = reinterpret_cast<const quant::BlockQ8_K*>(static_cast<const uint8_t*>(act) + r * stride);
  float acc[R] = {};
  for (int64_t b = 0; b < n_in / quant::QK_K; ++b) {
    Acc sum[R];
    _Pragma("GCC unroll 4") for (int r = 0; r < R; ++r) sum[r] = acc_zero();
#pragma GCC unroll 8
    for (int k = 0; k < quant::QK_K / kChunkValues; ++k) {
      const auto c = chunk(wb[b], k);
      _Pragma("GCC unroll 4") for (int r = 0; r < R; ++r) sum[r] =
          accumulate(sum[r], c, a[r][b].qs + kChunkValues * k);
    }
    const float d = block_d(wb[b]) * (1.0f / kDiv);
    _Pragma("GCC unroll 4") for (int r = 0; r < R; ++r) {
      acc[r] = std::fma(static_cast<float>(lane_total(sum[r])), d * a[r][b].d, acc[r]);
    }
  }
  for (int r = 0; r < R; ++r) y[r * ys] = acc[r];
}

template <class Block, int kDiv>
FRUGAL_TARGET void dot(const void* w, const void* act, size_t stride, int n_act, int64_t n_in, float* y, int64_t ys) {
  switch (n_act) {
    case 1: return dot_rows<Block, kDiv, 1>(w, act, stride, n_in, y, ys);
    case 2: return dot_rows<Block, kDiv, 2>(w, act, stride, n_in, y, ys);
    case 3: return dot_rows<Block, kDiv, 3>(w, act, stride, n_in, y, ys);
    default: return dot_rows<Block, kDiv, 4>(w, act, stride, n_in, y, ys);
  }
}

const TypeKernel kIQ2_XXS{ActFormat::kQ8_K, dot<quant::BlockIQ2_XXS, 8>};
const TypeKernel kIQ2_XS{ActFormat::kQ8_K, dot<quant::BlockIQ2_XS, 8>};
const TypeKernel kIQ3_XXS{ActFormat::kQ8_K, dot<quant::BlockIQ3_XXS, 4>};
const TypeKernel kIQ2_S{ActFormat::kQ8_K, dot<quant::BlockIQ2_S, 8>};
const TypeKernel kIQ3_S{ActFormat::kQ8_K, dot<quant::BlockIQ3_S, 1>};
#if FRUGAL_IQ1_S
const TypeKernel kIQ1_S{ActFormat::kQ8_K, dot<quant::BlockIQ1_S, 8>};
const TypeKernel kIQ1_M{ActFormat::kQ8_K, dot<quant::BlockIQ1_M, 8>};
#endif

// The table of the level (its kernels for five or seven types).
inline const TypeKernel* level_iq_kernel(TensorType t) {
  switch (t) {
    case TensorType::IQ2_XXS: return &kIQ2_XXS;
    case TensorType::IQ2_XS: return &kIQ2_XS;
    case TensorType::IQ3_XXS: return &kIQ3_XXS;
    case TensorType::IQ2_S: return &kIQ2_S;
    case TensorType::IQ3_S: return &kIQ3_S;
#if FRUGAL_IQ1_S
    case TensorType::IQ1_S: return &kIQ1_S;
    case TensorType::IQ1_M: return &kIQ1_M;
#endif
    default: return nullptr;
  }
}
