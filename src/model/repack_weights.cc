#include "model/repack_weights.h"

#include <algorithm>
#include <cstdio>
#include <chrono>
#include <cstring>
#include <functional>
#include <thread>
#include <vector>

#include "base/human_format.h"
#include "base/thread_pool.h"
#include "kernels/matmul_kernels.h"
#include "quant/repack.h"

namespace frugal::model {
namespace {

// One matrix (or stack of expert matrices, rows one after another) to move.
struct Move {
  TensorType* type;
  const void* src;
  std::function<void(const uint8_t*)> point_to;  // sets WeightMatrix::data / ExpertStack::data
  int64_t rows, n_in;
  size_t bytes, offset = 0;  // offset in the new memory
  bool repack;               // else copied as it is
};

template <class Data>
void add(std::vector<Move>& moves, const PlaceOptions& o, TensorType& type, Data& data, int64_t rows, int64_t n_in,
         bool whole_groups) {
  if (!data) return;
  const bool repack = o.repack && whole_groups && repacking_pays(type) && rows % quant::kRepackRows == 0 &&
                      n_in % static_cast<int64_t>(tensor_type_info(type).block_size) == 0;
  if (!repack && !o.copy) return;
  moves.push_back({&type, data, [&data](const uint8_t* p) { data = p; }, rows, n_in,
                   row_bytes(type, static_cast<uint64_t>(n_in)) * static_cast<size_t>(rows), 0, repack});
}
void add(std::vector<Move>& moves, const PlaceOptions& o, kernels::WeightMatrix& m) {
  add(moves, o, m.type, m.data, m.n_out, m.n_in, true);
}
// Experts' groups must not straddle two experts.
void add(std::vector<Move>& moves, const PlaceOptions& o, ExpertStack& s) {
  add(moves, o, s.type, s.data, s.n_out * s.n_expert, s.n_in, s.n_out % quant::kRepackRows == 0);
}

// MemAvailable of /proc/meminfo in bytes, or 0 where it cannot be read.
uint64_t memory_available() {
  std::FILE* f = std::fopen("/proc/meminfo", "r");
  if (!f) return 0;
  char line[256];
  unsigned long long kib = 0;
  while (std::fgets(line, sizeof line, f)) {
    if (std::sscanf(line, "MemAvailable: %llu kB", &kib) == 1) break;
  }
  std::fclose(f);
  return static_cast<uint64_t>(kib) * 1024;
}

}  // namespace

bool repacking_pays(TensorType t) {
  const TensorType packed = quant::repacked_type(t);
  if (packed == t) return false;
  const kernels::TypeKernel* k = kernels::find_kernel(packed, kernels::active_simd_level());
  return k && k->dot16;
}

RepackReport place_weights(ModelWeights& w, AnonymousMemory& memory, const PlaceOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<Move> moves;
  if (w.output.data != w.token_embd.data) add(moves, o, w.output);
  for (LayerWeights& L : w.layers) {
    for (kernels::WeightMatrix* m : {&L.wq, &L.wk, &L.wv, &L.wo, &L.wq_a, &L.wq_b, &L.wkv_a_mqa, &L.ffn_gate,
                                     &L.ffn_up, &L.ffn_down, &L.gate_shexp, &L.up_shexp, &L.down_shexp}) {
      add(moves, o, *m);
    }
    for (ExpertStack* s : {&L.gate_exps, &L.up_exps, &L.down_exps}) add(moves, o, *s);
  }
  RepackReport report;
  if (moves.empty()) return report;
  size_t total = 0;
  for (Move& m : moves) {
    m.offset = total;
    total += (m.bytes + 63) / 64 * 64;
  }
  // The copy must fit beside everything else (the file's pages it replaces
  // stay in the page cache, which the kernel may reclaim): a model larger
  // than memory keeps streaming from its file instead.
  constexpr uint64_t kMargin = uint64_t{1} << 30;
  const uint64_t available = memory_available();
  if (available > 0 && total + kMargin > available) {
    report.skipped = "the weights (" + human_bytes(static_cast<double>(total)) +
                     ") would not fit in the memory available (" + human_bytes(static_cast<double>(available)) + ")";
    return report;
  }
  memory = AnonymousMemory(total);

  // Pieces of at most ~4 MiB of whole groups (of rows, for a copy), spread
  // over the threads: each thread faults in the fresh pages it writes.
  struct Piece {
    size_t move;
    int64_t row_begin, row_end;
  };
  std::vector<Piece> pieces;
  for (size_t i = 0; i < moves.size(); ++i) {
    const Move& m = moves[i];
    const size_t group_bytes = m.bytes / static_cast<size_t>(m.rows) * (m.repack ? quant::kRepackRows : 1);
    const int64_t groups_per_piece = std::max<int64_t>(1, static_cast<int64_t>((4u << 20) / group_bytes));
    const int64_t piece_rows = groups_per_piece * (m.repack ? quant::kRepackRows : 1);
    for (int64_t r = 0; r < m.rows; r += piece_rows) pieces.push_back({i, r, std::min(m.rows, r + piece_rows)});
  }
  int n_threads = o.n_threads;
  if (n_threads <= 0) n_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  ThreadPool pool(n_threads);
  pool.run(static_cast<int64_t>(pieces.size()), [&](int64_t p, int) {
    const Piece& piece = pieces[static_cast<size_t>(p)];
    const Move& m = moves[piece.move];
    const size_t rb = m.bytes / static_cast<size_t>(m.rows);
    const auto* src = static_cast<const uint8_t*>(m.src) + static_cast<size_t>(piece.row_begin) * rb;
    uint8_t* dst = memory.data() + m.offset + static_cast<size_t>(piece.row_begin) * rb;
    const size_t n = static_cast<size_t>(piece.row_end - piece.row_begin) * rb;
    if (m.repack) {
      quant::repack_rows(*m.type, src, dst, piece.row_end - piece.row_begin, m.n_in);
      if (o.file) release_file_pages(src, n);
    } else if (o.file) {
      o.file->read(static_cast<size_t>(src - o.file->data()), dst, n);  // never maps the source pages
    } else {
      std::memcpy(dst, src, n);
    }
  });
  for (Move& m : moves) {
    m.point_to(memory.data() + m.offset);
    if (m.repack) {
      *m.type = quant::repacked_type(*m.type);
      report.bytes += m.bytes;
      ++report.tensors;
    } else {
      report.copied_bytes += m.bytes;
    }
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return report;
}

}  // namespace frugal::model
