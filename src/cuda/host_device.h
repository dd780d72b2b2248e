// What lets one function body serve both the kernels and the host: the
// FRUGAL_HD marker (__host__ __device__ under nvcc, nothing under the C++
// compiler) and the few bit-level helpers both sides need, written so that
// they give the same bits on either side.
#pragma once
#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define FRUGAL_HD __host__ __device__ __forceinline__
#else
#define FRUGAL_HD inline
#endif

namespace frugal::cuda {

FRUGAL_HD float bits_as_float(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, 4);
  return f;
#endif
}

// IEEE half bits to f32, exact for every input (subnormals, infinities and
// NaN included): the same value base/fp16.h's fp16_to_f32 gives.
FRUGAL_HD float half_bits_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  if (exp == 0x1f) return bits_as_float(sign | 0x7f800000u | mant << 13);
  if (exp != 0) return bits_as_float(sign | (exp + 112) << 23 | mant << 13);
  if (mant == 0) return bits_as_float(sign);
  // Subnormal: shift the mantissa up to its leading one, lowering the exponent.
  uint32_t e = 113;
  while ((mant & 0x400u) == 0) {
    mant <<= 1;
    --e;
  }
  return bits_as_float(sign | e << 23 | (mant & 0x3ffu) << 13);
}


// The byte i (0..7) of a 64-bit constant, as a signed value: the code books
// of IQ4_XS and MXFP4 live in two such constants, in registers on the device
// instead of a table in memory.
constexpr FRUGAL_HD int byte_of(uint64_t packed, int i) {
  return static_cast<int8_t>(static_cast<uint8_t>(packed >> (8 * i)));
}

// The sum of a * b over the four signed bytes of each, plus acc (__dp4a).
FRUGAL_HD int dot4_i8(int a, int b, int acc) {
#if defined(__CUDA_ARCH__)
  return __dp4a(a, b, acc);
#else
  for (int k = 0; k < 4; ++k) {
    acc += static_cast<int8_t>(static_cast<uint32_t>(a) >> (8 * k)) *
           static_cast<int8_t>(static_cast<uint32_t>(b) >> (8 * k));
  }
  return acc;
#endif
}

// Wide loads where the caller knows the alignment (the kernels check their
// pointers: kernels.cu). On the device one to four 128-bit or 32-bit loads
// instead of a load a byte or a float; on the host plain copies.
// 16 floats from 16-byte aligned memory.
FRUGAL_HD void load16_f32(const float* p, float* out) {
#if defined(__CUDA_ARCH__)
  const float4* v = reinterpret_cast<const float4*>(p);
  for (int k = 0; k < 4; ++k) {
    const float4 f = v[k];
    out[4 * k] = f.x;
    out[4 * k + 1] = f.y;
    out[4 * k + 2] = f.z;
    out[4 * k + 3] = f.w;
  }
#else
  std::memcpy(out, p, 16 * sizeof(float));
#endif
}

// 16 bytes from 16-byte aligned memory.
FRUGAL_HD void load16_u8(const uint8_t* p, uint8_t* out) {
#if defined(__CUDA_ARCH__)
  const uint4 v = *reinterpret_cast<const uint4*>(p);
  const uint32_t w[4] = {v.x, v.y, v.z, v.w};
  for (int i = 0; i < 16; ++i) out[i] = static_cast<uint8_t>(w[i / 4] >> (8 * (i % 4)));
#else
  std::memcpy(out, p, 16);
#endif
}

// Four int8 values from 4-byte aligned memory as one int (the lowest address
// in the lowest byte, as pack4_i8 packs them).
FRUGAL_HD int load4_i8(const int8_t* p) {
#if defined(__CUDA_ARCH__)
  return *reinterpret_cast<const int*>(p);
#else
  int v;
  std::memcpy(&v, p, 4);
  return v;
#endif
}

// Four int8 values as one int, lowest address in the lowest byte.
FRUGAL_HD int pack4_i8(const int8_t* q) {
  return static_cast<int>(static_cast<uint32_t>(static_cast<uint8_t>(q[0])) |
                          static_cast<uint32_t>(static_cast<uint8_t>(q[1])) << 8 |
                          static_cast<uint32_t>(static_cast<uint8_t>(q[2])) << 16 |
                          static_cast<uint32_t>(static_cast<uint8_t>(q[3])) << 24);
}

}  // namespace frugal::cuda
