#include "model/moe_dispatch.h"

#include <algorithm>

#include "base/error.h"

namespace frugal::model {
namespace {

// Where each job row's output lands in the buffer that comes back, and what
// goes out: the way there, planned from this rank's routing.
struct Outbound {
  std::vector<float> send;
  std::vector<int64_t> send_counts;  // floats to each rank
  std::vector<int64_t> back_counts;  // floats each rank returns
  std::vector<int64_t> back_at;      // per job row (job after job): float offset of its output in the returned buffer
};

Outbound plan_outbound(int n_ranks, std::span<const RoutedJob> jobs, const float* xn, int64_t n_rows, int64_t d,
                       int64_t k) {
  const int64_t width = d + 2 * k;
  Outbound o;
  o.send_counts.assign(static_cast<size_t>(n_ranks), 0);
  o.back_counts.assign(static_cast<size_t>(n_ranks), 0);
  std::vector<int64_t> job_first(jobs.size() + 1, 0);
  for (size_t ji = 0; ji < jobs.size(); ++ji) job_first[ji + 1] = job_first[ji] + jobs[ji].n_rows;
  o.back_at.assign(static_cast<size_t>(job_first.back()), 0);
  std::vector<int64_t> index(static_cast<size_t>(n_rows));  // row -> its place in the block to q (-1: none)
  std::vector<int64_t> listed(static_cast<size_t>(n_rows));  // experts listed so far for the row
  std::vector<int64_t> slot(static_cast<size_t>(job_first.back()));  // per job row: its expert's place in the row's list
  int64_t back_base = 0;
  for (int q = 0; q < n_ranks; ++q) {
    std::fill(index.begin(), index.end(), -1);
    std::fill(listed.begin(), listed.end(), 0);
    for (const RoutedJob& j : jobs)
      if (j.rank == q)
        for (int64_t t = 0; t < j.n_rows; ++t) index[static_cast<size_t>(j.rows[t])] = 0;
    int64_t m = 0;
    for (int64_t& i : index)
      if (i == 0) i = m++;
    const size_t base = o.send.size();
    o.send.resize(base + static_cast<size_t>(m * width));
    float* block = o.send.data() + base;
    for (int64_t r = 0; r < n_rows; ++r) {
      const int64_t i = index[static_cast<size_t>(r)];
      if (i < 0) continue;
      std::copy_n(xn + r * d, d, block + i * width);
      std::fill_n(block + i * width + d, k, -1.0f);
      std::fill_n(block + i * width + d + k, k, 0.0f);
    }
    // Each row's experts in job order (ascending expert ids).
    for (size_t ji = 0; ji < jobs.size(); ++ji) {
      const RoutedJob& j = jobs[ji];
      if (j.rank != q) continue;
      for (int64_t t = 0; t < j.n_rows; ++t) {
        const size_t r = static_cast<size_t>(j.rows[t]);
        const int64_t l = listed[r]++;
        if (l >= k) fail("expert exchange: a row routed to more than ", k, " experts");
        float* row = block + index[r] * width;
        row[d + l] = static_cast<float>(j.expert);
        row[d + k + l] = j.weights[t];
        slot[static_cast<size_t>(job_first[ji] + t)] = l;
      }
    }
    // The way back: each row's outputs, in row order, its experts in turn.
    std::vector<int64_t> out_first(static_cast<size_t>(m) + 1, 0);
    for (int64_t r = 0; r < n_rows; ++r)
      if (index[static_cast<size_t>(r)] >= 0)
        out_first[static_cast<size_t>(index[static_cast<size_t>(r)]) + 1] = listed[static_cast<size_t>(r)];
    for (size_t i = 0; i < static_cast<size_t>(m); ++i) out_first[i + 1] += out_first[i];
    for (size_t ji = 0; ji < jobs.size(); ++ji) {
      const RoutedJob& j = jobs[ji];
      if (j.rank != q) continue;
      for (int64_t t = 0; t < j.n_rows; ++t) {
        const size_t g = static_cast<size_t>(job_first[ji] + t);
        const int64_t i = index[static_cast<size_t>(j.rows[t])];
        o.back_at[g] = back_base + (out_first[static_cast<size_t>(i)] + slot[g]) * d;
      }
    }
    o.send_counts[static_cast<size_t>(q)] = m * width;
    o.back_counts[static_cast<size_t>(q)] = out_first.back() * d;
    back_base += out_first.back() * d;
  }
  return o;
}

// One (row, expert) pair received: the row, its place in the row's list,
// the expert and its weight.
struct Pair {
  int64_t expert, row, slot;
  float weight;
};

}  // namespace

std::vector<float> exchange_expert_rows(ExpertParallel& ep, int64_t layer, std::span<const RoutedJob> jobs,
                                        const float* xn, int64_t n_rows, int64_t d, int64_t k,
                                        const ComputeExperts& compute) {
  const int nr = ep.n_ranks();
  const int64_t width = d + 2 * k;
  Outbound out = plan_outbound(nr, jobs, xn, n_rows, d, k);
  std::vector<float> recv;
  std::vector<int64_t> recv_counts;
  ep.all_to_all(out.send, out.send_counts, recv, recv_counts, layer, n_rows);
  if (recv.size() % static_cast<size_t>(width) != 0)
    fail("expert exchange in layer ", layer, ": received ", recv.size(), " floats, not rows of ", width);

  // The rows received, their inputs made contiguous, and the (row, expert)
  // pairs grouped by expert, rows in the order received.
  const int64_t n_in = static_cast<int64_t>(recv.size()) / width;
  std::vector<float> x(static_cast<size_t>(n_in * d));
  std::vector<Pair> pairs;
  std::vector<int64_t> out_first(static_cast<size_t>(n_in) + 1, 0);
  for (int64_t i = 0; i < n_in; ++i) {
    const float* row = recv.data() + i * width;
    std::copy_n(row, d, x.data() + i * d);
    int64_t l = 0;
    for (; l < k && row[d + l] >= 0; ++l) pairs.push_back({static_cast<int64_t>(row[d + l]), i, l, row[d + k + l]});
    out_first[static_cast<size_t>(i) + 1] = out_first[static_cast<size_t>(i)] + l;
  }
  std::stable_sort(pairs.begin(), pairs.end(), [](const Pair& a, const Pair& b) { return a.expert < b.expert; });
  std::vector<ExpertWork> work;
  for (const Pair& p : pairs) {
    if (work.empty() || work.back().expert != p.expert) work.push_back({.expert = p.expert, .rows = {}, .weights = {}});
    work.back().rows.push_back(p.row);
    work.back().weights.push_back(p.weight);
  }
  std::vector<float> y(pairs.size() * static_cast<size_t>(d));
  if (!pairs.empty()) compute(x.data(), n_in, work, y.data());

  // The way back: each received row's outputs in its list's order.
  std::vector<float> back(static_cast<size_t>(out_first.back() * d));
  for (size_t t = 0; t < pairs.size(); ++t)
    std::copy_n(y.data() + t * static_cast<size_t>(d), d,
                back.data() + (out_first[static_cast<size_t>(pairs[t].row)] + pairs[t].slot) * d);
  std::vector<int64_t> back_counts(static_cast<size_t>(nr), 0);
  int64_t at = 0;
  for (int q = 0; q < nr; ++q) {
    const int64_t rows_from_q = recv_counts[static_cast<size_t>(q)] / width;
    back_counts[static_cast<size_t>(q)] = (out_first[static_cast<size_t>(at + rows_from_q)] - out_first[static_cast<size_t>(at)]) * d;
    at += rows_from_q;
  }
  std::vector<float> returned;
  ep.all_to_all(back, back_counts, returned, out.back_counts, layer, 0);

  // Job after job, as the caller adds them.
  std::vector<float> result(out.back_at.size() * static_cast<size_t>(d));
  for (size_t g = 0; g < out.back_at.size(); ++g)
    std::copy_n(returned.data() + out.back_at[g], d, result.data() + g * static_cast<size_t>(d));
  return result;
}

}  // namespace frugal::model
