// gpt-oss's checkpoints hold their experts as MXFP4 blocks in two tensors:
// *_blocks [experts, rows, row / 32, 16] (U8: a block's 32 E2M1 codes two
// to a byte in order, byte j holding code 2j in its low nibble and 2j + 1 in
// its high one) and *_scales [experts, rows, row / 32] (U8: the E8M0
// exponent). The GGUF's MXFP4 block holds the same scale byte and codes
// packed as Q4_0's (byte j: code j low, code j + 16 high), so the two
// convert into each other bit for bit.
#pragma once
#include <cstdint>

#include "quant/blocks.h"

namespace frugal::convert {

inline void mxfp4_block_from_hf(const uint8_t* hf, uint8_t scale, quant::BlockMXFP4& out) {
  uint8_t codes[32];
  for (int j = 0; j < 16; ++j) codes[2 * j] = hf[j] & 15, codes[2 * j + 1] = uint8_t(hf[j] >> 4);
  out.e = scale;
  for (int j = 0; j < 16; ++j) out.qs[j] = uint8_t(codes[j] | (codes[j + 16] << 4));
}

inline void mxfp4_block_to_hf(const quant::BlockMXFP4& in, uint8_t* hf, uint8_t* scale) {
  uint8_t codes[32];
  for (int j = 0; j < 16; ++j) codes[j] = in.qs[j] & 15, codes[j + 16] = uint8_t(in.qs[j] >> 4);
  *scale = in.e;
  for (int j = 0; j < 16; ++j) hf[j] = uint8_t(codes[2 * j] | (codes[2 * j + 1] << 4));
}

}  // namespace frugal::convert
