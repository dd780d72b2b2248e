// Repacking a loaded model's matrices into the row-interleaved layouts
// (quant/repack.h) when this CPU has kernels for them: at load time, into
// anonymous memory (huge pages where given) that replaces the file's pages
// for those tensors, which are released from the process as each part is
// done, so the weights are never held twice. Files written by
// `frugal quantize --repack` are already in these layouts and need nothing.
#pragma once
#include <cstdint>

#include "base/anonymous_memory.h"
#include "model/model.h"

namespace frugal::model {

// Whether the active SIMD level multiplies `t`'s repacked form with kernels
// of its own (otherwise repacking would only slow the products down).
bool repacking_pays(TensorType t);

// Repacks every matrix of w whose type has a repacked layout that pays and
// whose row count is a whole number of groups, except those read row by row
// (the token embeddings, a tied output, MLA's attn_kv_b); points w at the new
// memory, which `memory` then owns. release_source: the weights lie in a
// read-only file mapping whose repacked pages this process may drop.
// n_threads <= 0: one per core.
RepackReport repack_weights(ModelWeights& w, AnonymousMemory& memory, bool release_source, int n_threads = 0);

}  // namespace frugal::model
