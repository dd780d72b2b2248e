#include "model/expert_placement.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <numeric>

#include "base/error.h"
#include "base/output_file.h"
#include "base/read_file.h"
#include "model/config.h"

namespace frugal::model {

ExpertRange expert_share(int64_t n_expert, int rank, int n_ranks) {
  const int64_t base = n_expert / n_ranks, extra = n_expert % n_ranks;
  const int64_t begin = rank * base + std::min<int64_t>(rank, extra);
  return {begin, begin + base + (rank < extra ? 1 : 0)};
}

LayerAssignment contiguous_layer(int64_t n_expert, int n_ranks) {
  LayerAssignment a(static_cast<size_t>(n_ranks));
  for (int r = 0; r < n_ranks; ++r) {
    const ExpertRange e = expert_share(n_expert, r, n_ranks);
    for (int64_t i = e.begin; i < e.end; ++i) a[static_cast<size_t>(r)].push_back(i);
  }
  return a;
}

ExpertPlacement ExpertPlacement::contiguous(int64_t n_layer, int64_t n_expert, int n_ranks) {
  return from_assignments(n_expert, n_ranks, std::vector<LayerAssignment>(static_cast<size_t>(n_layer)));
}

ExpertPlacement ExpertPlacement::from_assignments(int64_t n_expert, int n_ranks,
                                                  const std::vector<LayerAssignment>& layers) {
  if (n_ranks < 1) fail("expert placement: ", n_ranks, " ranks");
  if (n_expert < 1) fail("expert placement: ", n_expert, " experts");
  ExpertPlacement p;
  p.n_layer_ = static_cast<int64_t>(layers.size());
  p.n_expert_ = n_expert;
  p.n_ranks_ = n_ranks;
  const LayerAssignment def = contiguous_layer(n_expert, n_ranks);
  p.first_.reserve(layers.size() * static_cast<size_t>(n_expert) + 1);
  std::vector<std::vector<int>> of(static_cast<size_t>(n_expert));
  for (size_t il = 0; il < layers.size(); ++il) {
    const LayerAssignment& a = layers[il].empty() ? def : layers[il];
    if (a.size() != static_cast<size_t>(n_ranks))
      fail("expert placement: layer ", il, " lists ", a.size(), " ranks, not ", n_ranks);
    if (a != def) p.contiguous_ = false;
    for (auto& h : of) h.clear();
    for (int r = 0; r < n_ranks; ++r)
      for (int64_t e : a[static_cast<size_t>(r)]) {
        if (e < 0 || e >= n_expert)
          fail("expert placement: layer ", il, ", rank ", r, ": expert ", e, " is out of range (", n_expert,
               " experts)");
        auto& h = of[static_cast<size_t>(e)];
        if (!h.empty() && h.back() == r) fail("expert placement: layer ", il, ", rank ", r, " lists expert ", e, " twice");
        h.push_back(r);
      }
    for (int64_t e = 0; e < n_expert; ++e) {
      const auto& h = of[static_cast<size_t>(e)];
      if (h.empty()) fail("expert placement: layer ", il, ": expert ", e, " is on no rank");
      p.first_.push_back(static_cast<int64_t>(p.holders_.size()));
      p.holders_.insert(p.holders_.end(), h.begin(), h.end());
    }
  }
  p.first_.push_back(static_cast<int64_t>(p.holders_.size()));
  return p;
}

bool ExpertPlacement::holds(int rank, int64_t il, int64_t e) const {
  const std::span<const int> h = holders(il, e);
  return std::find(h.begin(), h.end(), rank) != h.end();
}

std::vector<int64_t> ExpertPlacement::experts_of(int rank, int64_t il) const {
  std::vector<int64_t> out;
  for (int64_t e = 0; e < n_expert_; ++e)
    if (holds(rank, il, e)) out.push_back(e);
  return out;
}

LayerAssignment ExpertPlacement::assignment(int64_t il) const {
  LayerAssignment a(static_cast<size_t>(n_ranks_));
  for (int64_t e = 0; e < n_expert_; ++e)
    for (int r : holders(il, e)) a[static_cast<size_t>(r)].push_back(e);
  return a;
}

LayerAssignment balance_layer(std::span<const uint64_t> rows, int n_ranks, int replicas_per_rank) {
  if (n_ranks < 1 || replicas_per_rank < 0) fail("expert placement: ", n_ranks, " ranks, ", replicas_per_rank, " replicas");
  const size_t ne = rows.size(), nr = static_cast<size_t>(n_ranks);
  // a has more rows per copy than b (exact: rows_a / copies_a > rows_b / copies_b).
  std::vector<int> copies(ne, 1);
  auto hotter = [&](size_t a, size_t b) {
    const unsigned __int128 x = static_cast<unsigned __int128>(rows[a]) * static_cast<unsigned>(copies[b]);
    const unsigned __int128 y = static_cast<unsigned __int128>(rows[b]) * static_cast<unsigned>(copies[a]);
    return x != y ? x > y : a < b;
  };

  // 1. Replication: each extra copy to the expert with the most rows per copy.
  for (int64_t x = 0; x < int64_t{n_ranks} * replicas_per_rank; ++x) {
    size_t best = ne;
    for (size_t e = 0; e < ne; ++e)
      if (copies[e] < n_ranks && rows[e] > 0 && (best == ne || hotter(e, best))) best = e;
    if (best == ne) break;
    ++copies[best];
  }

  // 2. Packing: hottest first, each copy to the least-loaded rank with a free slot.
  const int64_t total = std::accumulate(copies.begin(), copies.end(), int64_t{0});
  const size_t cap = static_cast<size_t>((total + n_ranks - 1) / n_ranks);
  std::vector<size_t> order(ne);
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), hotter);
  LayerAssignment a(nr);
  std::vector<uint64_t> load(nr, 0);
  std::vector<size_t> cand;
  for (size_t e : order) {
    cand.clear();
    for (size_t r = 0; r < nr; ++r)
      if (a[r].size() < cap) cand.push_back(r);
    std::sort(cand.begin(), cand.end(), [&](size_t p, size_t q) {
      if (load[p] != load[q]) return load[p] < load[q];
      if (a[p].size() != a[q].size()) return a[p].size() < a[q].size();
      return p < q;
    });
    // Fewer ranks with room than copies: fewer copies (never reached when
    // the replicas are the hottest experts, as they are here).
    const int c = std::min(copies[e], static_cast<int>(cand.size()));
    cand.resize(static_cast<size_t>(c));
    std::sort(cand.begin(), cand.end());
    for (int j = 0; j < c; ++j) {
      const size_t r = cand[static_cast<size_t>(j)];
      a[r].push_back(static_cast<int64_t>(e));
      load[r] += static_cast<uint64_t>(replica_rows(static_cast<int64_t>(rows[e]), j, c));
    }
  }
  for (auto& list : a) std::sort(list.begin(), list.end());
  return a;
}

std::vector<uint64_t> rank_rows(std::span<const uint64_t> rows, const LayerAssignment& a) {
  std::vector<std::vector<size_t>> holders(rows.size());
  for (size_t r = 0; r < a.size(); ++r)
    for (int64_t e : a[r])
      if (e >= 0 && static_cast<size_t>(e) < rows.size()) holders[static_cast<size_t>(e)].push_back(r);
  std::vector<uint64_t> load(a.size(), 0);
  for (size_t e = 0; e < rows.size(); ++e) {
    const int c = static_cast<int>(holders[e].size());
    for (int j = 0; j < c; ++j)
      load[holders[e][static_cast<size_t>(j)]] += static_cast<uint64_t>(replica_rows(static_cast<int64_t>(rows[e]), j, c));
  }
  return load;
}

double imbalance(std::span<const uint64_t> loads) {
  if (loads.empty()) return 0;
  const double sum = static_cast<double>(std::accumulate(loads.begin(), loads.end(), uint64_t{0}));
  if (sum == 0) return 0;
  return static_cast<double>(*std::max_element(loads.begin(), loads.end())) / (sum / static_cast<double>(loads.size()));
}

PlacementFile measured_placement(const ModelConfig& c, std::span<const uint64_t> counts) {
  PlacementFile f;
  f.architecture = c.arch;
  f.n_expert = c.n_expert;
  f.n_expert_used = c.n_expert_used;
  const bool counted = counts.size() == static_cast<size_t>(c.n_layer * c.n_expert);
  for (int64_t il = 0; il < c.n_layer; ++il) {
    if (!c.layer_is_moe(il)) continue;
    f.layers.push_back(il);
    std::vector<uint64_t> rows(static_cast<size_t>(c.n_expert), 0);
    if (counted) std::copy_n(counts.begin() + il * c.n_expert, c.n_expert, rows.begin());
    f.rows.push_back(std::move(rows));
  }
  if (!f.rows.empty() && c.n_expert_used > 0) {
    uint64_t sum = 0;
    for (uint64_t r : f.rows.front()) sum += r;
    f.tokens = sum / static_cast<uint64_t>(c.n_expert_used);
  }
  return f;
}

void place(PlacementFile& f, int n_ranks, int replicas_per_rank) {
  if (n_ranks < 1) fail("placement: --ranks must be at least 1 (got ", n_ranks, ")");
  if (replicas_per_rank < 0) fail("placement: --replicas must not be negative (got ", replicas_per_rank, ")");
  f.n_ranks = n_ranks;
  f.replicas_per_rank = replicas_per_rank;
  f.placement.clear();
  for (const auto& r : f.rows) f.placement.push_back(balance_layer(r, n_ranks, replicas_per_rank));
}

namespace {

constexpr const char* kFormat = "frugal expert placement";
constexpr int kVersion = 1;

using nlohmann::ordered_json;

}  // namespace

// One line per array of numbers, so that a file of 58 layers x 256 experts
// stays readable.
std::string placement_json(const PlacementFile& f) {
  auto str = [](const std::string& s) { return ordered_json(s).dump(-1, ' ', false, ordered_json::error_handler_t::replace); };
  std::string out = "{\n";
  out += "  \"format\": " + str(kFormat) + ",\n";
  out += "  \"version\": " + std::to_string(kVersion) + ",\n";
  out += "  \"model\": " + str(f.model) + ",\n";
  out += "  \"architecture\": " + str(f.architecture) + ",\n";
  out += "  \"source\": " + str(f.source) + ",\n";
  out += "  \"tokens\": " + std::to_string(f.tokens) + ",\n";
  out += "  \"n_expert\": " + std::to_string(f.n_expert) + ",\n";
  out += "  \"n_expert_used\": " + std::to_string(f.n_expert_used) + ",\n";
  out += "  \"ranks\": " + std::to_string(f.n_ranks) + ",\n";
  out += "  \"replicas_per_rank\": " + std::to_string(f.replicas_per_rank) + ",\n";
  out += "  \"layers\": [";
  for (size_t i = 0; i < f.layers.size(); ++i) {
    out += i ? ",\n" : "\n";
    out += "    {\n      \"layer\": " + std::to_string(f.layers[i]) + ",\n";
    out += "      \"rows\": " + ordered_json(f.rows[i]).dump() + ",\n";
    out += "      \"placement\": [";
    if (i < f.placement.size())
      for (size_t r = 0; r < f.placement[i].size(); ++r)
        out += (r ? ",\n        " : "\n        ") + ordered_json(f.placement[i][r]).dump();
    out += "\n      ]\n    }";
  }
  out += "\n  ]\n}\n";
  return out;
}

void write_placement_file(const PlacementFile& f, const std::string& path) { write_output_file(path, placement_json(f)); }

PlacementFile read_placement_file(const std::string& path) {
  const std::string text = read_whole_file(path);
  ordered_json j;
  try {
    j = ordered_json::parse(text);
  } catch (const std::exception& e) {
    fail(path, ": not a placement file (JSON): ", e.what());
  }
  auto need = [&](const ordered_json& o, const char* key, const std::string& where) -> const ordered_json& {
    if (!o.is_object() || !o.contains(key)) fail(path, ": ", where, "no \"", key, "\"");
    return o.at(key);
  };
  auto count = [&](const ordered_json& v, const std::string& what) -> uint64_t {
    if (!v.is_number_unsigned()) fail(path, ": ", what, " must be a non-negative integer");
    return v.get<uint64_t>();
  };
  if (!j.is_object() || j.value("format", "") != kFormat)
    fail(path, ": not a placement file (no \"format\": \"", kFormat, "\"; frugal placement writes one)");
  if (count(need(j, "version", ""), "version") != kVersion)
    fail(path, ": placement file version ", j["version"].dump(), ", this frugal reads ", kVersion);
  PlacementFile f;
  auto text_of = [&](const char* key) { return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : ""; };
  f.model = text_of("model");
  f.architecture = text_of("architecture");
  f.source = text_of("source");
  f.tokens = j.contains("tokens") ? count(j["tokens"], "tokens") : 0;
  f.n_expert = static_cast<int64_t>(count(need(j, "n_expert", ""), "n_expert"));
  f.n_expert_used = j.contains("n_expert_used") ? static_cast<int64_t>(count(j["n_expert_used"], "n_expert_used")) : 0;
  f.n_ranks = static_cast<int>(count(need(j, "ranks", ""), "ranks"));
  f.replicas_per_rank = static_cast<int>(count(need(j, "replicas_per_rank", ""), "replicas_per_rank"));
  if (f.n_expert < 1 || f.n_expert > (int64_t{1} << 20)) fail(path, ": n_expert ", f.n_expert, " is out of range");
  if (f.n_ranks < 1 || f.n_ranks > 65536) fail(path, ": ranks ", f.n_ranks, " is out of range");
  const ordered_json& layers = need(j, "layers", "");
  if (!layers.is_array() || layers.empty()) fail(path, ": \"layers\" must be a non-empty list");
  for (size_t i = 0; i < layers.size(); ++i) {
    const ordered_json& L = layers[i];
    const std::string where = "layers[" + std::to_string(i) + "]: ";
    const int64_t il = static_cast<int64_t>(count(need(L, "layer", where), where + "layer"));
    if (!f.layers.empty() && il <= f.layers.back()) fail(path, ": ", where, "layers must be listed in ascending order");
    f.layers.push_back(il);
    const ordered_json& rows = need(L, "rows", where);
    if (!rows.is_array() || rows.size() != static_cast<size_t>(f.n_expert))
      fail(path, ": ", where, "\"rows\" must list ", f.n_expert, " counts");
    std::vector<uint64_t> r;
    for (const auto& v : rows) r.push_back(count(v, where + "rows"));
    f.rows.push_back(std::move(r));
    const ordered_json& pl = need(L, "placement", where);
    if (!pl.is_array() || pl.size() != static_cast<size_t>(f.n_ranks))
      fail(path, ": ", where, "\"placement\" must list the experts of each of the ", f.n_ranks, " ranks");
    LayerAssignment a;
    for (const auto& list : pl) {
      if (!list.is_array()) fail(path, ": ", where, "each rank's experts must be a list");
      std::vector<int64_t> es;
      for (const auto& v : list) es.push_back(static_cast<int64_t>(count(v, where + "placement")));
      std::sort(es.begin(), es.end());
      a.push_back(std::move(es));
    }
    f.placement.push_back(std::move(a));
  }
  // Checks every layer's lists (range, duplicates, every expert placed).
  try {
    (void)ExpertPlacement::from_assignments(f.n_expert, f.n_ranks, f.placement);
  } catch (const Error& e) {
    fail(path, ": ", e.what());
  }
  return f;
}

ExpertPlacement placement_for(const PlacementFile& f, const ModelConfig& c, int n_ranks, bool* replanned) {
  if (f.n_expert != c.n_expert)
    fail("expert placement: the file is for ", f.n_expert, " experts a layer, the model has ", c.n_expert);
  std::vector<int64_t> moe;
  for (int64_t il = 0; il < c.n_layer; ++il)
    if (c.layer_is_moe(il)) moe.push_back(il);
  if (moe != f.layers) {
    std::string want, got;
    for (int64_t il : moe) want += (want.empty() ? "" : ",") + std::to_string(il);
    for (int64_t il : f.layers) got += (got.empty() ? "" : ",") + std::to_string(il);
    fail("expert placement: the file places layers ", got, ", the model's MoE layers are ", want);
  }
  PlacementFile g = f;
  if (g.n_ranks != n_ranks || g.placement.size() != g.layers.size()) {
    place(g, n_ranks, f.replicas_per_rank);
    if (replanned) *replanned = true;
  } else if (replanned) {
    *replanned = false;
  }
  std::vector<LayerAssignment> layers(static_cast<size_t>(c.n_layer));
  for (size_t i = 0; i < g.layers.size(); ++i) layers[static_cast<size_t>(g.layers[i])] = g.placement[i];
  return ExpertPlacement::from_assignments(c.n_expert, n_ranks, layers);
}

}  // namespace frugal::model
