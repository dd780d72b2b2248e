// Feed-forward layers: the dense SwiGLU FFN and the mixture of experts.
//
// Routing per architecture (router logits l over n_expert experts):
//   llama (Mixtral), qwen3moe: p = softmax(l); top-k of p; weights renormalised
//     to sum to 1 (for Mixtral this equals a softmax over the top-k logits).
//   qwen2moe, olmoe: p = softmax(l); top-k of p; weights not renormalised.
//   deepseek2 (V2): p = softmax(l); group-limited: the n_group_used groups
//     with the largest max(p) stay eligible; top-k; x expert_weights_scale.
//   deepseek2 (V3): p = sigmoid(l); selection uses p + exp_probs_b (the bias
//     picks experts, never weighs them); groups ranked by the sum of their
//     two best biased scores; top-k; weights p renormalised; x scale.
//   llama4: p = sigmoid(l); top-k (k = 1); p scales the expert's input, not
//     its output (FfnJob::weight_input).
//   deepseek4: p = sqrt(softplus(l)), chosen as V3's (p + exp_probs_b, no
//     groups), or in the first hash layers the token's ids from
//     ffn_gate_tid2eid; weights p renormalised, x scale; the SwiGLU clamped.
// The MoE layer then groups the batch's rows by expert and runs each chosen
// expert's gate/up/down once over its rows only.
//
// Scheduling: every chosen expert (and the shared experts, and a dense FFN)
// is an FfnJob over its gathered rows. The layer is a few parallel regions
// over all jobs at once, instead of one pool dispatch per matmul:
//   0. items (job): gather its rows, encode them once for the matmul kernels
//      (int8 blocks for quantised weights); skipped when tiny (decode);
//   1. items (job, slice of n_ff units): h = silu(gate x) * (up x), fused;
//      a job's last slice encodes its h for down;
//   2. items (slice of n_embd outputs): for every job in a fixed order,
//      y = down h on those outputs, out[row] += weight * y.
// Small batches (decoding) take wide slices in region 1 and split region 2
// in two (down_small_batch): each item one long stream of weights.
// The split is forced by the data: down needs all of a job's h. In region 1
// an expert chosen by one token is a few small items among many, so no core
// waits on it; region 2's items are equal by construction (each covers every
// job) and write disjoint columns of out, so the sums need no locks and add
// up in the same order whatever the thread count or batch composition.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <functional>
#include <limits>

#include "base/error.h"
#include "base/mapped_file.h"
#include "kernels/ffn.h"
#include "model/expert_parallel.h"
#include "model/forward_layers.h"
#include "model/lora.h"
#include "model/moe_dispatch.h"

namespace frugal::model {

using kernels::matmul;

namespace {

// One SwiGLU FFN over some rows: a chosen expert over the rows routed to it,
// a shared expert or a dense FFN over all rows.
struct FfnJob {
  kernels::WeightMatrix gate, up, down;
  const float* x = nullptr;        // input rows (row stride n_embd), or gathered from src
  int64_t n_rows = 0;
  float* h = nullptr;              // n_rows x n_ff: silu(gate x) * (up x)
  const int64_t* rows = nullptr;   // row of the batch of each input row (null: the same)
  const float* weights = nullptr;  // its weight in the sum (null: 1)
  float* gather_to = nullptr;      // if set: x is gathered here from rows of src first
  kernels::GluOptions glu;         // the gated unit and gate/up biases (gpt-oss)
  const float* down_bias = nullptr;  // added to down's output before weighting (gpt-oss)
  bool weight_input = false;  // llama4: the weights scale the gathered input rows; the outputs add with weight 1
  bool remote = false;        // expert-parallel: another rank computes it; its down outputs arrive by exchange
};

// Expert-parallel (model/expert_parallel.h): job j is computed by rank
// job_rank[j] (jobs past the end of job_rank, the shared experts, by every
// rank); the other ranks' down outputs come through ep after this rank's are
// made. The exchange buffer holds the jobs' outputs rank by rank (each
// rank's jobs in job order), which under the contiguous placement is job
// order itself; the sum reads them in job order whatever the placement.
// Under attention data-parallel the routed jobs are all remote and their
// outputs have come back already (returned: job after job, model/moe_dispatch.h).
struct JobExchange {
  ExpertParallel* ep = nullptr;
  int64_t layer = 0;
  std::vector<int> job_rank;
  const float* returned = nullptr;
};

// Slice widths: a multiple of 16 units (whole SIMD tiles for the matmul),
// small enough that there are several items per thread.
int64_t slice_width(int64_t n, int64_t items_wanted, int64_t max_width = 128) {
  int64_t w = n / std::max<int64_t>(1, items_wanted);
  w = std::clamp<int64_t>(w / 16 * 16, 16, max_width);
  return std::min(w, n);
}

// Batches whose expert outputs (rows routed x n_embd floats) fit in this
// many floats take decoding's shape of the MoE layer (see run_ffn_jobs).
constexpr int64_t kSmallBatchFloats = int64_t{1} << 20;
// Decoding's slices of a matrix: each is one stream from memory, and a
// stream's first kilobytes are waited for, so they are wide. Measured on the
// down matrices of 56 experts (2048x1024 Q4_K_R16, 2 rows each, 2 threads,
// 1 GiB of weights): 128-column slices 25 GB/s, 512-column ones 31-32.
constexpr int64_t kDecodeSlice = 512;

void run_items(ThreadPool* pool, int64_t n_items, const std::function<void(int64_t, int)>& fn) {
  if (pool && n_items > 1) {
    pool->run(n_items, fn);
  } else {
    for (int64_t i = 0; i < n_items; ++i) fn(i, 0);
  }
}

// acc (rows x w, the batch's rows) += weight * y for each of a job's rows
// (input-weighted jobs: weight 1): y holds the job's outputs for columns
// [b, b + w), row r at y + r * y_stride.
void add_job_outputs(const FfnJob& j, const float* y, int64_t y_stride, int64_t b, int64_t w, float* acc) {
  for (int64_t r = 0; r < j.n_rows; ++r) {
    float* a = acc + (j.rows ? j.rows[r] : r) * w;
    const float wt = j.weights && !j.weight_input ? j.weights[r] : 1.0f;
    const float* yr = y + r * y_stride;
    if (j.down_bias) {
      kernels::add_scaled_biased(wt, yr, j.down_bias + b, a, w);
    } else {
      kernels::axpy(wt, yr, a, w);
    }
  }
}

// Region 2 of a small batch, in two parts: (a) items (job, wide slice of
// down's outputs), each job's outputs into its own rows of a buffer: one
// long stream of weights an item, where an item of the general form walks
// a short slice of every job's matrix; (b) items (slice of the output
// columns): for every job in the fixed order, out[row] += weight * y. The
// sums are the general form's, in the same order: the same bits.
// Expert-parallel layers take this form at every batch size: between (a)
// and (b) the ranks exchange their jobs' outputs, and every rank then adds
// up all jobs in the one order, as a single process would. With `outputs`
// set, part (a) writes there, job after job, and (b) is left out.
void down_small_batch(const std::vector<FfnJob>& jobs, int64_t n_rows, int64_t d, float* out, Forward::Scratch& s,
                      ThreadPool* pool, int n_threads, const JobExchange* exchange, float* outputs) {
  const size_t nj = jobs.size();
  // Job ji's output rows start at row first[ji] of ys; first[nj]: all rows.
  std::vector<int64_t> first(nj + 1, 0);
  std::vector<int64_t> offsets;  // the exchange's blocks, in floats
  if (exchange && !exchange->returned) {
    const size_t nr = static_cast<size_t>(exchange->ep->n_ranks());
    std::vector<int64_t> at(nr + 1, 0);
    for (size_t ji = 0; ji < exchange->job_rank.size(); ++ji)
      at[static_cast<size_t>(exchange->job_rank[ji]) + 1] += jobs[ji].n_rows;
    for (size_t q = 0; q < nr; ++q) at[q + 1] += at[q];
    for (int64_t v : at) offsets.push_back(v * d);
    int64_t every = at[nr];  // the jobs every rank runs go after the blocks
    for (size_t ji = 0; ji < nj; ++ji) {
      if (ji < exchange->job_rank.size()) {
        int64_t& next = at[static_cast<size_t>(exchange->job_rank[ji])];
        first[ji] = next;
        next += jobs[ji].n_rows;
      } else {
        first[ji] = every;
        every += jobs[ji].n_rows;
      }
    }
    first[nj] = every;
  } else {
    for (size_t ji = 0; ji < nj; ++ji) first[ji + 1] = first[ji] + jobs[ji].n_rows;
  }
  float* ys = outputs ? outputs : s.down_y.get(first[nj] * d);
  std::vector<size_t> local;
  for (size_t ji = 0; ji < nj; ++ji)
    if (!jobs[ji].remote) local.push_back(ji);
  const int64_t n_local = static_cast<int64_t>(local.size());
  const int64_t wa = slice_width(d, int64_t{8} * n_threads / std::max<int64_t>(1, n_local) + 1, kDecodeSlice);
  const int64_t per_job = (d + wa - 1) / wa;
  run_items(pool, n_local * per_job, [&](int64_t i, int) {
    const size_t ji = local[static_cast<size_t>(i / per_job)];
    const int64_t b = (i % per_job) * wa, e = std::min(d, b + wa);
    kernels::matmul_encoded(kernels::weight_rows(jobs[ji].down, b, e), s.enc_h[ji], ys + first[ji] * d + b, d, nullptr);
  });
  if (outputs) return;
  if (exchange && exchange->returned) {
    const float* next = exchange->returned;
    for (size_t ji = 0; ji < nj; ++ji)
      if (jobs[ji].remote) {
        std::copy_n(next, jobs[ji].n_rows * d, ys + first[ji] * d);
        next += jobs[ji].n_rows * d;
      }
  } else if (exchange) {
    exchange->ep->share_blocks(ys, offsets, exchange->layer);
  }
  const int64_t w2 = slice_width(d, int64_t{8} * n_threads);
  for (int t = 0; t < n_threads; ++t) s.thread_acc[static_cast<size_t>(t)].get(n_rows * w2);
  run_items(pool, (d + w2 - 1) / w2, [&](int64_t i, int thread) {
    const int64_t b = i * w2, e = std::min(d, b + w2), w = e - b;
    float* acc = s.thread_acc[static_cast<size_t>(thread)].v.data();
    std::fill(acc, acc + n_rows * w, 0.0f);
    for (size_t ji = 0; ji < nj; ++ji) add_job_outputs(jobs[ji], ys + first[ji] * d + b, d, b, w, acc);
    for (int64_t r = 0; r < n_rows; ++r) kernels::add(acc + r * w, out + r * d + b, w);
  });
}

// out (n_rows x d) += the weighted outputs of every job: the parallel
// regions described at the top of this file. out must hold the sum so far.
// Remote jobs (exchange set) are computed by other ranks. With `outputs`
// set, each job's down outputs go there instead, job after job, unweighted
// and without bias, and out is not touched.
void run_ffn_jobs(std::vector<FfnJob>& jobs, const float* src, int64_t n_rows, int64_t d, float* out,
                  Forward::Scratch& s, ThreadPool* pool, const JobExchange* exchange = nullptr,
                  float* outputs = nullptr) {
  if (jobs.empty()) return;
  const size_t nj = jobs.size();
  const int n_threads = pool ? pool->size() : 1;
  if (s.thread_tmp.size() < static_cast<size_t>(n_threads)) s.thread_tmp.resize(static_cast<size_t>(n_threads));
  if (s.thread_acc.size() < static_cast<size_t>(n_threads)) s.thread_acc.resize(static_cast<size_t>(n_threads));
  if (s.enc_in.size() < nj) {
    s.enc_in.resize(nj);
    s.enc_in_up.resize(nj);
    s.enc_h.resize(nj);
  }

  // Region 0: each job's input rows gathered and encoded once for the
  // gate/up kernels (in parallel over jobs when there is enough of it).
  int64_t total_rows = 0;
  for (const FfnJob& j : jobs) total_rows += j.remote ? 0 : j.n_rows;
  auto prepare = [&](int64_t ji, int) {
    FfnJob& j = jobs[static_cast<size_t>(ji)];
    if (j.remote) return;
    if (j.gather_to) {
      for (int64_t i = 0; i < j.n_rows; ++i) std::copy_n(src + j.rows[i] * d, d, j.gather_to + i * d);
      if (j.weight_input)
        for (int64_t i = 0; i < j.n_rows; ++i)
          for (int64_t t = 0; t < d; ++t) j.gather_to[i * d + t] *= j.weights[i];
      j.x = j.gather_to;
    }
    s.enc_in[ji].encode(j.gate.type, j.x, d, j.n_rows, d);
    if (j.up.type != j.gate.type) s.enc_in_up[ji].encode(j.up.type, j.x, d, j.n_rows, d);
  };
  run_items(total_rows * d >= 64 * 1024 ? pool : nullptr, static_cast<int64_t>(nj), prepare);

  // Region 1: the items of the jobs with the most rows first, so the long
  // items start early and the short ones fill the gaps at the end. The
  // thread that finishes a job's last slice encodes its h for down.
  std::vector<size_t> order(nj);
  for (size_t j = 0; j < nj; ++j) order[j] = j;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return jobs[a].n_rows > jobs[b].n_rows; });
  int64_t total_units = 0;
  for (const FfnJob& j : jobs) total_units += j.remote ? 0 : j.gate.n_out;
  const bool small = total_rows * d <= kSmallBatchFloats;
  const int64_t w1 = slice_width(total_units, int64_t{8} * n_threads, small ? kDecodeSlice : 128);
  struct Item {
    size_t job;
    int64_t begin, end;
  };
  std::vector<Item> items;
  std::vector<std::atomic<int64_t>> slices_left(nj);
  int64_t max_tmp = 0;
  for (size_t j : order) {
    if (jobs[j].remote) continue;
    const int64_t ff = jobs[j].gate.n_out;
    int64_t n_slices = 0;
    for (int64_t b = 0; b < ff; b += w1, ++n_slices) items.push_back({j, b, std::min(ff, b + w1)});
    slices_left[j].store(n_slices, std::memory_order_relaxed);
    max_tmp = std::max(max_tmp, jobs[j].n_rows * std::max(w1, int64_t{128}));
  }
  for (int t = 0; t < n_threads; ++t) s.thread_tmp[static_cast<size_t>(t)].get(max_tmp);
  run_items(pool, static_cast<int64_t>(items.size()), [&](int64_t i, int thread) {
    const Item& it = items[static_cast<size_t>(i)];
    const FfnJob& j = jobs[it.job];
    const int64_t ff = j.gate.n_out;
    const kernels::EncodedRows& xg = s.enc_in[it.job];
    const kernels::EncodedRows& xu = j.up.type != j.gate.type ? s.enc_in_up[it.job] : xg;
    kernels::swiglu_slice(j.gate, j.up, it.begin, it.end, xg, xu, j.h + it.begin, ff,
                          s.thread_tmp[static_cast<size_t>(thread)].v.data(), j.glu);
    if (slices_left[it.job].fetch_sub(1, std::memory_order_acq_rel) == 1)
      s.enc_h[it.job].encode(j.down.type, j.h, ff, j.n_rows, ff);
  });

  if (small || exchange || outputs) return down_small_batch(jobs, n_rows, d, out, s, pool, n_threads, exchange, outputs);

  // Region 2: slices of the output columns, each over every job in order.
  // The weighted sums build up in a dense n_rows x w block per thread, then
  // go into out once: out's rows are n_embd floats apart, so a slice of all
  // of them maps onto a few cache sets, and adding into out job by job
  // missed the caches on every row (4% of a 512-token prompt).
  const int64_t w2 = slice_width(d, int64_t{8} * n_threads);
  for (int t = 0; t < n_threads; ++t) s.thread_acc[static_cast<size_t>(t)].get(n_rows * w2);
  run_items(pool, (d + w2 - 1) / w2, [&](int64_t i, int thread) {
    const int64_t b = i * w2, e = std::min(d, b + w2), w = e - b;
    float* y = s.thread_tmp[static_cast<size_t>(thread)].v.data();
    float* acc = s.thread_acc[static_cast<size_t>(thread)].v.data();
    std::fill(acc, acc + n_rows * w, 0.0f);
    for (size_t ji = 0; ji < nj; ++ji) {
      const FfnJob& j = jobs[ji];
      kernels::matmul_encoded(kernels::weight_rows(j.down, b, e), s.enc_h[ji], y, w, nullptr);
      add_job_outputs(j, y, w, b, w, acc);
    }
    for (int64_t r = 0; r < n_rows; ++r) kernels::add(acc + r * w, out + r * d + b, w);
  });
}

}  // namespace

void dense_ffn(const kernels::WeightMatrix& gate, const kernels::WeightMatrix& up,
               const kernels::WeightMatrix& down, const float* xn, int64_t n_rows, int64_t n_embd,
               Forward::Scratch& s, ThreadPool* pool, float* out) {
  std::vector<FfnJob> jobs(1);
  jobs[0] = FfnJob{.gate = gate, .up = up, .down = down, .x = xn, .n_rows = n_rows, .h = s.gate.get(n_rows * gate.n_out),
                   .rows = nullptr, .weights = nullptr, .gather_to = nullptr, .glu = {}, .down_bias = nullptr};
  std::fill(out, out + n_rows * n_embd, 0.0f);
  run_ffn_jobs(jobs, xn, n_rows, n_embd, out, s, pool);
}

float sqrt_softplus(float l) {
  // softplus(l) = log(1 + e^l), written so that e^l cannot overflow.
  const float sp = l > 0 ? l + std::log1p(std::exp(-l)) : std::log1p(std::exp(l));
  return std::sqrt(sp);
}

void route_row(const ModelConfig& c, const float* logits, const float* score_bias, int32_t* experts,
               float* weights) {
  const int64_t ne = c.n_expert, k = c.n_expert_used;
  std::vector<float> prob(logits, logits + ne);
  if (c.gating == GatingFunc::kSigmoid) {
    for (float& p : prob) p = kernels::sigmoid(p);
  } else if (c.gating == GatingFunc::kSqrtSoftplus) {
    for (float& p : prob) p = sqrt_softplus(p);
  } else {
    kernels::softmax(prob.data(), ne);
  }
  std::vector<float> select(prob);
  if (score_bias)
    for (int64_t e = 0; e < ne; ++e) select[e] += score_bias[e];

  if (c.n_expert_groups > 1) {
    const int64_t ng = c.n_expert_groups, per = ne / ng;
    std::vector<std::pair<float, int64_t>> group_score(static_cast<size_t>(ng));
    for (int64_t g = 0; g < ng; ++g) {
      std::vector<float> in(select.begin() + g * per, select.begin() + (g + 1) * per);
      std::sort(in.begin(), in.end(), std::greater<>());
      const float score = c.gating == GatingFunc::kSigmoid ? in[0] + (per > 1 ? in[1] : 0.0f) : in[0];
      group_score[g] = {score, g};
    }
    // Highest score first; ties go to the lower group index.
    std::stable_sort(group_score.begin(), group_score.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    std::vector<bool> keep(static_cast<size_t>(ng), false);
    for (int64_t i = 0; i < c.n_group_used; ++i) keep[group_score[i].second] = true;
    for (int64_t e = 0; e < ne; ++e)
      if (!keep[e / per]) select[e] = -std::numeric_limits<float>::infinity();
  }

  std::vector<int32_t> order(static_cast<size_t>(ne));
  for (int64_t e = 0; e < ne; ++e) order[e] = static_cast<int32_t>(e);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return select[a] > select[b]; });
  double sum = 0;
  for (int64_t i = 0; i < k; ++i) {
    experts[i] = order[i];
    weights[i] = prob[order[i]];
    sum += weights[i];
  }
  if (c.expert_weights_norm)
    for (int64_t i = 0; i < k; ++i) weights[i] = static_cast<float>(weights[i] / sum);
  for (int64_t i = 0; i < k; ++i) weights[i] *= c.expert_weights_scale;
}

void route_row_by_token(const ModelConfig& c, const float* logits, const int32_t* ids, int32_t* experts,
                        float* weights) {
  const int64_t k = c.n_expert_used;
  double sum = 0;
  for (int64_t i = 0; i < k; ++i) {
    experts[i] = ids[i];
    const float l = logits[ids[i]];
    weights[i] = c.gating == GatingFunc::kSqrtSoftplus ? sqrt_softplus(l)
                 : c.gating == GatingFunc::kSigmoid    ? kernels::sigmoid(l)
                                                       : l;
    sum += weights[i];
  }
  if (c.expert_weights_norm)
    for (int64_t i = 0; i < k; ++i) weights[i] = static_cast<float>(weights[i] / sum);
  for (int64_t i = 0; i < k; ++i) weights[i] *= c.expert_weights_scale;
}

void moe_ffn(const Model& m, int64_t il, int64_t n_rows, Forward::Scratch& s, ThreadPool* pool, float* out) {
  const ModelConfig& c = m.config();
  const LayerWeights& L = m.weights().layers[static_cast<size_t>(il)];
  const int64_t ne = c.n_expert, k = c.n_expert_used, d = c.n_embd, ff = c.n_ff_exp;
  const float* xn = s.xn.v.data();
  // Expert-parallel (model/expert_parallel.h): this process computes the
  // routed experts its placement gives it (its share of the rows of the
  // replicated ones) and receives the others' outputs.
  ExpertParallel* ep = expert_parallel_of(m);
  const ExpertPlacement* placement = ep ? expert_placement_of(m) : nullptr;
  if (ep && !placement) fail("expert-parallel: no placement attached");
  const int my_rank = ep ? ep->rank() : 0;
  // Attention data-parallel: these rows are this rank's own; every routed
  // job's rows go to its rank and come back (model/moe_dispatch.h).
  const bool own_rows = ep && attention_data_parallel(m);
  JobExchange exchange{.ep = ep, .layer = il, .job_rank = {}, .returned = nullptr};

  // Route every row.
  float* logits = s.router.get(n_rows * ne);
  if (n_rows > 0) matmul(L.router, xn, d, n_rows, logits, ne, pool);
  // Adapters run per run of rows with one adapter (model/lora.h).
  auto row_adapter = [&](int64_t r) { return s.row_lora[static_cast<size_t>(r)]; };
  const LayerLora none;
  auto layer_of = [&](const LoraAdapter* a) -> const LayerLora& {
    return a ? a->layers()[static_cast<size_t>(il)] : none;
  };
  if (s.any_lora && any_adapts(s.row_lora, il, &LayerLora::adapts_router))
    for_each_run(n_rows, row_adapter, [&](const LoraAdapter* a, int64_t b, int64_t cnt) {
      if (a && layer_of(a).router)
        lora_apply(layer_of(a).router, a->scale(), xn + b * d, d, cnt, logits + b * ne, ne, pool);
    });
  if (L.router_bias)
    for (int64_t r = 0; r < n_rows; ++r) kernels::add(L.router_bias.data, logits + r * ne, ne);
  s.sel_expert.resize(static_cast<size_t>(n_rows * k));
  s.sel_weight.resize(static_cast<size_t>(n_rows * k));
  for (int64_t r = 0; r < n_rows; ++r) {
    if (L.tid2eid) {
      route_row_by_token(c, logits + r * ne, L.tid2eid + s.row_tokens[static_cast<size_t>(r)] * k,
                         s.sel_expert.data() + r * k, s.sel_weight.data() + r * k);
    } else {
      route_row(c, logits + r * ne, L.expert_score_bias.data, s.sel_expert.data() + r * k,
                s.sel_weight.data() + r * k);
    }
  }

  // Rows of each expert (counting sort by expert id).
  std::vector<int64_t> start(static_cast<size_t>(ne + 1), 0);
  for (int32_t e : s.sel_expert) ++start[e + 1];
  const size_t n_counts = static_cast<size_t>(c.n_layer * ne);
  if (s.expert_rows.size() != n_counts) s.expert_rows.assign(n_counts, 0);
  for (int64_t e = 0; e < ne; ++e) s.expert_rows[static_cast<size_t>(il * ne + e)] += static_cast<uint64_t>(start[e + 1]);
  for (int64_t e = 0; e < ne; ++e) start[e + 1] += start[e];
  // Adapted layers (model/lora.h): a row whose adapter adapts this layer's
  // experts runs them after the fused jobs, one expert at a time
  // (lora_swiglu); every other row of the batch (no adapter, or one that
  // leaves these experts alone) stays in the fused jobs, as it runs alone.
  // Each expert's slots hold those n_plain rows first, then the adapted
  // ones, each part in row order (the fill runs over the plain rows, then
  // over the adapted ones).
  const bool adapted_experts = s.any_lora && any_adapts(s.row_lora, il, &LayerLora::adapts_experts);
  if (ep && adapted_experts) fail("expert-parallel inference does not run LoRA-adapted experts");
  auto adapted_row = [&](int64_t r) {
    const LoraAdapter* a = row_adapter(r);
    return a && layer_of(a).adapts_experts();
  };
  std::vector<int64_t> fill(start.begin(), start.end() - 1);
  std::vector<int64_t> slot_row(static_cast<size_t>(n_rows * k));
  std::vector<float> slot_weight(static_cast<size_t>(n_rows * k));
  std::vector<int64_t> n_plain(static_cast<size_t>(ne));
  for (int pass = 0; pass < (adapted_experts ? 2 : 1); ++pass) {
    for (int64_t r = 0; r < n_rows; ++r) {
      if (adapted_experts && adapted_row(r) != (pass == 1)) continue;
      for (int64_t i = 0; i < k; ++i) {
        const int32_t e = s.sel_expert[r * k + i];
        slot_row[fill[e]] = r;
        slot_weight[fill[e]++] = s.sel_weight[r * k + i];
      }
    }
    if (pass == 0)
      for (int64_t e = 0; e < ne; ++e) n_plain[static_cast<size_t>(e)] = fill[e] - start[e];
  }

  // One job per chosen expert over its rows, gathered contiguously; then
  // the shared experts over all rows (qwen2moe weighs theirs by a sigmoid gate).
  float* in = s.ex_in.get(n_rows * k * d);
  float* h = s.gate.get(n_rows * k * ff);
  std::vector<FfnJob> jobs;
  std::vector<RoutedJob> routed;  // attention data-parallel: the routed jobs, to their ranks
  const kernels::GluKind kind =
      c.ffn_act == FfnActivation::kSwigluOai ? kernels::GluKind::kSwigluOai : kernels::GluKind::kSilu;
  // deepseek4's clamped SwiGLU, per layer (0: none).
  const float limit_exp = c.swiglu_limit_exp.empty() ? 0.0f : c.swiglu_limit_exp[static_cast<size_t>(il)];
  const float limit_shexp = c.swiglu_limit_shexp.empty() ? 0.0f : c.swiglu_limit_shexp[static_cast<size_t>(il)];
  // Expert e's gated unit: gpt-oss's biases and clamped unit, deepseek4's clamp.
  const bool biased = static_cast<bool>(L.gate_exps_b);
  auto expert_glu = [&](int64_t e) {
    return kernels::GluOptions{.kind = kind,
                               .gate_bias = biased ? L.gate_exps_b.data + e * ff : nullptr,
                               .up_bias = biased ? L.up_exps_b.data + e * ff : nullptr,
                               .limit = limit_exp};
  };
  for (int64_t e = 0; e < ne; ++e) {
    const int64_t cnt = n_plain[static_cast<size_t>(e)];
    if (cnt == 0) continue;  // never touched (or only by adapted rows)
    // One job, or under expert parallelism one per copy of the expert: its
    // j-th holder computes the j-th run of its rows (replica_rows). A row's
    // outputs then come from one job of the expert, and the sum adds the
    // expert's jobs in turn: each row's sum is the single process's.
    const std::span<const int> holders =
        placement ? placement->holders(il, e) : std::span<const int>(&my_rank, 1);
    const int copies = static_cast<int>(holders.size());
    for (int j = 0; j < copies; ++j) {
      const int64_t b = start[e] + replica_begin(cnt, j, copies), n = replica_rows(cnt, j, copies);
      if (n == 0) continue;
      jobs.push_back(FfnJob{.gate = L.gate_exps.expert(e),
                            .up = L.up_exps.expert(e),
                            .down = L.down_exps.expert(e),
                            .x = nullptr,
                            .n_rows = n,
                            .h = h + b * ff,
                            .rows = slot_row.data() + b,
                            .weights = slot_weight.data() + b,
                            .gather_to = in + b * d,
                            .glu = expert_glu(e),
                            .down_bias = biased ? L.down_exps_b.data + e * d : nullptr,
                            .weight_input = c.expert_weight_on_input,
                            .remote = own_rows || holders[static_cast<size_t>(j)] != my_rank});
      if (ep) exchange.job_rank.push_back(holders[static_cast<size_t>(j)]);
      if (own_rows) routed.push_back({.expert = e, .rank = holders[static_cast<size_t>(j)], .rows = slot_row.data() + b,
                                      .weights = slot_weight.data() + b, .n_rows = n});
    }
  }
  // The jobs' weights asked for ahead (Forward::set_advise_experts).
  auto advise = [&](const std::vector<FfnJob>& js) {
    if (!s.advise_experts) return;
    for (const FfnJob& j : js)
      for (const kernels::WeightMatrix* w : {&j.gate, &j.up, &j.down})
        if (!j.remote)
          advise_willneed(w->data, static_cast<size_t>(w->n_out) * row_bytes(w->type, static_cast<uint64_t>(w->n_in)));
  };
  advise(jobs);
  std::vector<float> shexp_weight;
  // An adapted shared expert runs after the routed ones (lora_swiglu).
  const bool adapted_shexp = s.any_lora && any_adapts(s.row_lora, il, &LayerLora::adapts_shexp);
  if (c.n_ff_shexp > 0 && n_rows > 0) {
    if (L.shexp_gate) {
      shexp_weight.resize(static_cast<size_t>(n_rows));
      for (int64_t r = 0; r < n_rows; ++r)
        shexp_weight[r] = kernels::sigmoid(kernels::dot(xn + r * d, L.shexp_gate.data, d));
    }
    if (!adapted_shexp)
      jobs.push_back(FfnJob{.gate = L.gate_shexp,
                            .up = L.up_shexp,
                            .down = L.down_shexp,
                            .x = xn,
                            .n_rows = n_rows,
                            .h = s.up.get(n_rows * L.gate_shexp.n_out),
                            .rows = nullptr,
                            .weights = shexp_weight.empty() ? nullptr : shexp_weight.data(),
                            .gather_to = nullptr,
                            .glu = {.kind = kernels::GluKind::kSilu, .gate_bias = nullptr, .up_bias = nullptr,
                                    .limit = limit_shexp},
                            .down_bias = nullptr});
  }
  std::vector<float> returned;
  if (own_rows) {
    // This rank's experts over the rows every rank sent it: one job per
    // expert, as over its own rows, the outputs straight back.
    auto compute = [&](const float* x, int64_t n_x, std::span<const ExpertWork> work, float* outputs) {
      int64_t total = 0;
      for (const ExpertWork& w : work) total += static_cast<int64_t>(w.rows.size());
      std::vector<float> gathered(static_cast<size_t>(total * d)), hidden(static_cast<size_t>(total * ff));
      std::vector<FfnJob> held;
      int64_t b = 0;
      for (const ExpertWork& w : work) {
        const int64_t e = w.expert, n = static_cast<int64_t>(w.rows.size());
        if (e < 0 || e >= ne || !placement->holds(my_rank, il, e))
          fail("expert exchange in layer ", il, ": rows for expert ", e, ", which rank ", my_rank, " does not hold");
        held.push_back(FfnJob{.gate = L.gate_exps.expert(e), .up = L.up_exps.expert(e), .down = L.down_exps.expert(e),
                              .x = nullptr, .n_rows = n, .h = hidden.data() + b * ff, .rows = w.rows.data(),
                              .weights = w.weights.data(), .gather_to = gathered.data() + b * d, .glu = expert_glu(e),
                              .down_bias = nullptr, .weight_input = c.expert_weight_on_input});
        b += n;
      }
      advise(held);
      run_ffn_jobs(held, x, n_x, d, nullptr, s, pool, nullptr, outputs);
    };
    returned = exchange_expert_rows(*ep, il, routed, xn, n_rows, d, k, compute);
    exchange.returned = returned.data();
  }
  std::fill(out, out + n_rows * d, 0.0f);
  run_ffn_jobs(jobs, xn, n_rows, d, out, s, pool, ep ? &exchange : nullptr);
  if (adapted_shexp)
    for_each_run(n_rows, row_adapter, [&](const LoraAdapter* a, int64_t b, int64_t cnt) {
      const LayerLora& LL = layer_of(a);
      lora_swiglu(L.gate_shexp, L.up_shexp, L.down_shexp, LL.gate_shexp, LL.up_shexp, LL.down_shexp,
                  a ? a->scale() : 1.0f, xn + b * d, cnt, shexp_weight.empty() ? nullptr : shexp_weight.data() + b,
                  out + b * d, pool, {.limit = limit_shexp});
    });
  if (adapted_experts) {
    auto pair = [](const LoraStack& st, int64_t e) { return st ? st.expert(e) : LoraPair{}; };
    std::vector<float> y;
    for (int64_t e = 0; e < ne; ++e) {
      const int64_t b = start[e] + n_plain[static_cast<size_t>(e)], cnt = start[e + 1] - b;
      if (cnt == 0) continue;
      float* xe = in + b * d;
      for (int64_t i = 0; i < cnt; ++i) std::copy_n(xn + slot_row[b + i] * d, d, xe + i * d);
      // llama4: the weight scales the expert's input (as the fused jobs do),
      // its output adds with weight 1.
      const bool on_input = c.expert_weight_on_input;
      if (on_input)
        for (int64_t i = 0; i < cnt; ++i)
          for (int64_t t = 0; t < d; ++t) xe[i * d + t] *= slot_weight[b + i];
      y.assign(static_cast<size_t>(cnt * d), 0.0f);
      // The expert's rows (in row order) in runs of one adapter each.
      for_each_run(cnt, [&](int64_t i) { return row_adapter(slot_row[b + i]); },
                   [&](const LoraAdapter* a, int64_t i0, int64_t k) {
                     const LayerLora& LL = layer_of(a);
                     lora_swiglu(L.gate_exps.expert(e), L.up_exps.expert(e), L.down_exps.expert(e),
                                 pair(LL.gate_exps, e), pair(LL.up_exps, e), pair(LL.down_exps, e),
                                 a ? a->scale() : 1.0f, xe + i0 * d, k,
                                 on_input ? nullptr : slot_weight.data() + b + i0, y.data() + i0 * d, pool,
                                 expert_glu(e), biased ? L.down_exps_b.data + e * d : nullptr);
                   });
      for (int64_t i = 0; i < cnt; ++i) kernels::add(y.data() + i * d, out + slot_row[b + i] * d, d);
    }
  }
}

}  // namespace frugal::model
