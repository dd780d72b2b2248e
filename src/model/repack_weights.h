// Moving a loaded model's matrices out of the file mapping at load time, into
// anonymous memory on 2 MiB pages (where the kernel gives them) that replaces
// the file's pages for those tensors, which are released from the process as
// each part is done, so the weights are never held twice:
// - repacked into the row-interleaved layouts (quant/repack.h) when this CPU
//   has kernels for them (files written by `frugal quantize --repack` are
//   already in these layouts and need no repacking);
// - or copied as they are. Decoding streams every chosen expert's pages once
//   a step; on the file's 4 KiB pages a step walks ~1 M page-table entries
//   for a 4 GB model, which measured 10-15% of batched decoding (see
//   docs/KERNELS.md, "Weights in memory").
#pragma once
#include <cstdint>

#include "base/anonymous_memory.h"
#include "base/mapped_file.h"
#include "model/model.h"

namespace frugal::model {

// Whether the active SIMD level multiplies `t`'s repacked form with kernels
// of its own (otherwise repacking would only slow the products down).
bool repacking_pays(TensorType t);

struct PlaceOptions {
  bool repack = false;  // repack what pays (below)
  bool copy = false;    // copy the matrices not repacked
  // The file mapping the weights lie in, if any: copies read the file, and
  // the pages repacking read are dropped from this process.
  const MappedFile* file = nullptr;
  int n_threads = 0;            // <= 0: one per core
};

// Every matrix of w except those read row by row (the token embeddings, a tied
// output, MLA's attn_kv_b) is repacked when o.repack and its type has a
// repacked layout that pays and its row count is a whole number of groups,
// else copied when o.copy; w then points at the new memory, which `memory`
// owns. Nothing is moved when the result would not fit in the memory
// available (the report says why).
RepackReport place_weights(ModelWeights& w, AnonymousMemory& memory, const PlaceOptions& o);

}  // namespace frugal::model
