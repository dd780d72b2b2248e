// The gated unit of an FFN row alone, without its products: what
// swiglu_slice (ffn.h) applies after them, and LoRA's adapted FFNs
// (model/lora.h) after theirs, so that both compute it alike.
#pragma once
#include <cstdint>

#include "kernels/ffn.h"

namespace frugal::kernels {

// Units [begin, begin + w) of one row: h = act(h + gate_bias, u + up_bias),
// in place in h (u gets its bias); the options as swiglu_slice takes them.
void glu_row(float* h, float* u, int64_t begin, int64_t w, const GluOptions& options);

}  // namespace frugal::kernels
