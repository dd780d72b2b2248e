// frugal inspect FILE [--json]: what a GGUF file holds. Architecture, every
// metadata key (long arrays and strings summarised), each tensor's type,
// shape and size, totals by type; for Mixture-of-Experts models the total and
// per-token active parameters; and the weight bytes read per decoded token.
// frugal inspect --placement FILE [-m MODEL] [--ranks N] [--replicas R]: an
// expert placement file (frugal placement's), layer by layer: each rank's
// experts and rows under the contiguous default and under the placement.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "base/error.h"
#include "base/human_format.h"
#include "cli/command.h"
#include "gguf/reader.h"
#include "gguf/summary.h"
#include "gguf/value_format.h"
#include "model/config.h"
#include "model/expert_placement.h"
#include "model/presets.h"
#include "model/synth.h"

namespace frugal::cli {
namespace {

using gguf::Value;
using gguf::ValueType;
using nlohmann::ordered_json;

std::string shape_text(const std::vector<uint64_t>& shape) {
  std::string s = "[";
  for (size_t k = 0; k < shape.size(); ++k) s += (k ? ", " : "") + std::to_string(shape[k]);
  return s + "]";
}

std::string type_text(const Value& v) {
  if (v.type != ValueType::ARRAY) return gguf::value_type_name(v.type);
  return std::string("array<") + gguf::value_type_name(v.elem_type) + ">";
}

// JSON for a value: scalars as themselves; arrays longer than `max_items` as
// {"count", "head"} so that a 150k-entry vocabulary stays a few lines.
ordered_json value_json(const Value& v, size_t max_items) {
  switch (v.type) {
    case ValueType::UINT8: case ValueType::UINT16: case ValueType::UINT32: case ValueType::UINT64:
      return v.u;
    case ValueType::INT8: case ValueType::INT16: case ValueType::INT32: case ValueType::INT64:
      return v.i;
    case ValueType::FLOAT32: case ValueType::FLOAT64:
      return v.f;
    case ValueType::BOOL:
      return v.u != 0;
    case ValueType::STRING:
      return v.s;
    case ValueType::ARRAY: {
      const bool summarise = v.items.size() > max_items;
      ordered_json items = ordered_json::array();
      for (size_t k = 0; k < (summarise ? 3 : v.items.size()); ++k) items.push_back(value_json(v.items[k], max_items));
      if (!summarise) return items;
      return ordered_json{{"count", v.items.size()}, {"head", items}};
    }
  }
  return nullptr;
}

// Model cards count active parameters three ways: everything a token runs
// (Mixtral, Qwen3-MoE, DeepSeek-V3), less the embedding table a token only
// looks a row up in (gpt-oss), or less the table and the LM head too
// (GLM-4.5, MiniMax-M2). A tied table is the LM head, which every token
// multiplies by whole: it stays in the first count.
struct ActiveCounts {
  uint64_t without_embedding, without_embedding_and_head;
};
ActiveCounts active_counts(const gguf::Reader& r, const gguf::FileSummary& s) {
  auto n = [&](gguf::TensorId id) {
    const gguf::TensorInfo* t = r.find_tensor(gguf::tensor_name(id));
    return t ? t->n_elements : 0;
  };
  const uint64_t embd = n(gguf::TensorId::kTokenEmbd), head = s.tied_output ? embd : n(gguf::TensorId::kOutput);
  const uint64_t without_embedding = s.tied_output ? s.active_parameters : s.active_parameters - embd;
  return {.without_embedding = without_embedding,
          .without_embedding_and_head = without_embedding - head};
}

void print_text(const gguf::Reader& r, const gguf::FileSummary& s) {
  std::printf("file:          %s (%s)\n", r.path().c_str(), human_bytes(r.file_size()).c_str());
  std::printf("format:        GGUF v%u, alignment %u, tensor data at byte %llu\n", r.version(), r.alignment(),
              static_cast<unsigned long long>(r.data_offset()));
  std::printf("architecture:  %s\n", s.architecture.empty() ? "(none)" : s.architecture.c_str());

  const auto& entries = r.metadata().entries();
  size_t key_w = 0, type_w = 0;
  for (const auto& [k, v] : entries) key_w = std::max(key_w, k.size()), type_w = std::max(type_w, type_text(v).size());
  std::printf("\nmetadata (%zu keys):\n", entries.size());
  for (const auto& [k, v] : entries)
    std::printf("  %-*s  %-*s  %s\n", static_cast<int>(key_w), k.c_str(), static_cast<int>(type_w), type_text(v).c_str(),
                gguf::format_value(v).c_str());

  size_t name_w = 4, shape_w = 5;
  for (const auto& t : r.tensors())
    name_w = std::max(name_w, t.name.size()), shape_w = std::max(shape_w, shape_text(t.shape).size());
  std::printf("\ntensors (%zu):\n", r.tensors().size());
  std::printf("  %-*s  %-7s  %-*s  %14s  %12s\n", static_cast<int>(name_w), "name", "type", static_cast<int>(shape_w),
              "shape", "parameters", "size");
  for (const auto& t : r.tensors())
    std::printf("  %-*s  %-7s  %-*s  %14llu  %12s\n", static_cast<int>(name_w), t.name.c_str(), tensor_type_name(t.type),
                static_cast<int>(shape_w), shape_text(t.shape).c_str(), static_cast<unsigned long long>(t.n_elements),
                human_bytes(t.n_bytes).c_str());

  std::printf("\nby type:\n");
  for (const auto& tt : s.by_type)
    std::printf("  %-7s  %5llu tensors  %14llu parameters  %12s\n", tensor_type_name(tt.type),
                static_cast<unsigned long long>(tt.tensors), static_cast<unsigned long long>(tt.parameters),
                human_bytes(tt.bytes).c_str());
  std::printf("\ntotal:         %llu tensors, %llu parameters (%s), %s of tensor data\n",
              static_cast<unsigned long long>(s.tensors), static_cast<unsigned long long>(s.parameters),
              human_count(s.parameters).c_str(), human_bytes(s.bytes).c_str());
  if (s.moe) {
    std::printf("experts:       %llu per layer, %llu used per token\n", static_cast<unsigned long long>(s.expert_count),
                static_cast<unsigned long long>(s.expert_used_count));
    std::printf("parameters:    %s total, %s active per token (%.1f%%); %s in routed experts\n",
                human_count(s.parameters).c_str(), human_count(s.active_parameters).c_str(),
                s.parameters ? 100.0 * static_cast<double>(s.active_parameters) / static_cast<double>(s.parameters) : 0.0,
                human_count(s.expert_parameters).c_str());
    const ActiveCounts a = active_counts(r, s);
    if (a.without_embedding != s.active_parameters)
      std::printf("               %s active without the token embedding table\n",
                  human_count(a.without_embedding).c_str());
    std::printf("               %s active without the embedding table and the LM head\n",
                human_count(a.without_embedding_and_head).c_str());
  }
  if (s.nextn_parameters > 0)
    std::printf("next-token:    %s in next-token-prediction blocks (not run); %s without them\n",
                human_count(s.nextn_parameters).c_str(), human_count(s.parameters - s.nextn_parameters).c_str());
  std::printf("read/token:    %s of weights per decoded token (%s)\n", human_bytes(s.bytes_per_token).c_str(),
              s.tied_output ? "embedding tied to the output, read whole" : "one embedding row");
}

void print_json(const gguf::Reader& r, const gguf::FileSummary& s) {
  ordered_json j;
  j["file"] = r.path();
  j["file_bytes"] = r.file_size();
  j["version"] = r.version();
  j["alignment"] = r.alignment();
  j["data_offset"] = r.data_offset();
  j["architecture"] = s.architecture;
  ordered_json md = ordered_json::array();
  for (const auto& [k, v] : r.metadata().entries())
    md.push_back({{"key", k}, {"type", type_text(v)}, {"value", value_json(v, 16)}});
  j["metadata"] = md;
  ordered_json tensors = ordered_json::array();
  for (const auto& t : r.tensors())
    tensors.push_back({{"name", t.name}, {"type", tensor_type_name(t.type)}, {"shape", t.shape},
                       {"parameters", t.n_elements}, {"bytes", t.n_bytes}, {"offset", t.offset}});
  j["tensors"] = tensors;
  ordered_json by_type = ordered_json::array();
  for (const auto& tt : s.by_type)
    by_type.push_back({{"type", tensor_type_name(tt.type)}, {"tensors", tt.tensors}, {"parameters", tt.parameters},
                       {"bytes", tt.bytes}});
  j["totals"] = {{"tensors", s.tensors}, {"parameters", s.parameters}, {"bytes", s.bytes}, {"by_type", by_type}};
  if (s.moe) {
    const ActiveCounts a = active_counts(r, s);
    j["moe"] = {{"expert_count", s.expert_count}, {"expert_used_count", s.expert_used_count},
                {"total_parameters", s.parameters}, {"active_parameters", s.active_parameters},
                {"active_parameters_without_embedding", a.without_embedding},
                {"active_parameters_without_embedding_and_head", a.without_embedding_and_head},
                {"expert_parameters", s.expert_parameters}, {"nextn_parameters", s.nextn_parameters}};
  }
  j["bytes_per_token"] = s.bytes_per_token;
  j["tied_output"] = s.tied_output;
  // Metadata strings are not always valid UTF-8: replace bad bytes rather than fail.
  std::puts(j.dump(2, ' ', false, ordered_json::error_handler_t::replace).c_str());
}

// "0..15": a run of consecutive experts; a list otherwise, the replicated
// ones marked *.
std::string expert_list(const std::vector<int64_t>& es, const std::vector<int>& copies) {
  bool run = !es.empty();
  for (size_t i = 0; i + 1 < es.size(); ++i) run = run && es[i + 1] == es[i] + 1;
  for (int64_t e : es) run = run && copies[static_cast<size_t>(e)] == 1;
  if (run) return std::to_string(es.front()) + ".." + std::to_string(es.back());
  std::string s;
  for (int64_t e : es) s += (s.empty() ? "" : " ") + std::to_string(e) + (copies[static_cast<size_t>(e)] > 1 ? "*" : "");
  return s;
}

struct PlacementView {
  std::string file, model;
  int ranks = 0, replicas = -1;  // 0 / -1: the file's
};

int print_placement(const PlacementView& v) {
  model::PlacementFile f = model::read_placement_file(v.file);
  const int ranks = v.ranks > 0 ? v.ranks : f.n_ranks;
  const int replicas = v.replicas >= 0 ? v.replicas : f.replicas_per_rank;
  if (v.ranks < 0) fail("inspect: --ranks must be at least 1");
  const bool again = ranks != f.n_ranks || replicas != f.replicas_per_rank;
  if (again) model::place(f, ranks, replicas);
  // Bytes of one copy of an expert of each layer (its gate, up and down, and biases).
  std::vector<uint64_t> expert_bytes;
  if (!v.model.empty()) {
    const gguf::Reader r = gguf::Reader::open(v.model);
    const model::ModelConfig c = model::config_from_file(r);
    try {
      (void)model::placement_for(f, c, ranks);
    } catch (const Error& e) {
      fail("inspect: ", v.file, " and ", v.model, ": ", e.what());
    }
    expert_bytes.assign(f.layers.size(), 0);
    for (size_t i = 0; i < f.layers.size(); ++i) {
      for (const auto& t : r.tensors())
        if (gguf::tensor_block(t.name) == f.layers[i] && gguf::is_expert_tensor(t.name))
          expert_bytes[i] += t.n_bytes / static_cast<uint64_t>(f.n_expert);
    }
  }

  std::printf("placement:     %s\n", v.file.c_str());
  std::printf("measured:      %s%s%zu MoE layers x %lld experts (%lld used per token), rows over %s, %llu tokens\n",
              f.model.c_str(), f.architecture.empty() ? ": " : (" (" + f.architecture + "): ").c_str(), f.layers.size(),
              static_cast<long long>(f.n_expert), static_cast<long long>(f.n_expert_used),
              f.source.empty() ? "?" : f.source.c_str(), static_cast<unsigned long long>(f.tokens));
  std::printf("ranks:         %d, %d replica%s a rank%s\n", ranks, replicas, replicas == 1 ? "" : "s",
              again ? " (placed again from the counts; the file places them for other figures)" : "");
  const model::LayerAssignment contiguous = model::contiguous_layer(f.n_expert, ranks);
  std::vector<uint64_t> total_c(static_cast<size_t>(ranks), 0), total_p(static_cast<size_t>(ranks), 0);
  std::vector<uint64_t> bytes_c(static_cast<size_t>(ranks), 0), bytes_p(static_cast<size_t>(ranks), 0);
  double sum_c = 0, sum_p = 0, worst_c = 0, worst_p = 0;
  for (size_t i = 0; i < f.layers.size(); ++i) {
    const model::LayerAssignment& a = f.placement[i];
    const std::vector<uint64_t> rc = model::rank_rows(f.rows[i], contiguous), rp = model::rank_rows(f.rows[i], a);
    const double ic = model::imbalance(rc), ip = model::imbalance(rp);
    sum_c += ic, sum_p += ip, worst_c = std::max(worst_c, ic), worst_p = std::max(worst_p, ip);
    uint64_t rows = 0;
    for (uint64_t n : f.rows[i]) rows += n;
    std::vector<int> copies(static_cast<size_t>(f.n_expert), 0), ones(static_cast<size_t>(f.n_expert), 1);
    for (const auto& list : a)
      for (int64_t e : list) ++copies[static_cast<size_t>(e)];
    std::printf("\nlayer %lld: %llu rows; busiest rank / mean: contiguous %.3f, placed %.3f\n",
                static_cast<long long>(f.layers[i]), static_cast<unsigned long long>(rows), ic, ip);
    for (int r = 0; r < ranks; ++r) {
      const size_t q = static_cast<size_t>(r);
      total_c[q] += rc[q], total_p[q] += rp[q];
      if (!expert_bytes.empty()) {
        bytes_c[q] += contiguous[q].size() * expert_bytes[i];
        bytes_p[q] += a[q].size() * expert_bytes[i];
      }
      std::printf("  rank %d: contiguous %8llu rows (%s) | placed %8llu rows, %zu experts: %s\n", r,
                  static_cast<unsigned long long>(rc[q]), expert_list(contiguous[q], ones).c_str(),
                  static_cast<unsigned long long>(rp[q]), a[q].size(), expert_list(a[q], copies).c_str());
    }
  }
  const double nl = static_cast<double>(std::max<size_t>(1, f.layers.size()));
  std::printf("\nall %zu MoE layers: busiest rank / mean, layer average (worst layer): contiguous %.3f (%.3f), placed "
              "%.3f (%.3f)\n",
              f.layers.size(), sum_c / nl, worst_c, sum_p / nl, worst_p);
  std::printf("rows per rank, all layers: contiguous");
  for (uint64_t n : total_c) std::printf(" %llu", static_cast<unsigned long long>(n));
  std::printf(" | placed");
  for (uint64_t n : total_p) std::printf(" %llu", static_cast<unsigned long long>(n));
  std::printf("\n");
  if (!expert_bytes.empty()) {
    std::printf("expert weights per rank (%s): contiguous", v.model.c_str());
    for (uint64_t n : bytes_c) std::printf(" %s", human_bytes(static_cast<double>(n)).c_str());
    std::printf(" | placed");
    for (uint64_t n : bytes_p) std::printf(" %s", human_bytes(static_cast<double>(n)).c_str());
    std::printf("\n");
  }
  return 0;
}

// A synth preset as `frugal synth --arch A --preset P --type T` would write
// it, read from the writer's header alone: real-size presets (hundreds of GB)
// are inspected without writing them.
struct PresetView {
  std::string arch, preset = "tiny", type = "f16";
};

gguf::Reader preset_header(const PresetView& v, std::vector<uint8_t>& header) {
  model::ModelConfig cfg = model::find_preset(v.arch, v.preset).config;
  cfg.name = "synth " + v.arch + " " + v.preset;
  const gguf::Writer w = model::synth_writer(cfg, {}, {.type = v.type, .progress_label = ""});
  header = w.header();
  return gguf::Reader::parse_header(header.data(), header.size(), header.size() + w.data_bytes(),
                                    "synth " + v.arch + " " + v.preset + " at " + v.type + ", not written");
}

CommandRegistration reg("inspect", "show a GGUF file's metadata, tensors, parameter counts and bytes per token",
                        [](CLI::App& app) -> std::function<int()> {
                          auto path = std::make_shared<std::string>();
                          auto json = std::make_shared<bool>(false);
                          auto pv = std::make_shared<PlacementView>();
                          auto preset = std::make_shared<PresetView>();
                          app.add_option("file", *path, "GGUF file");
                          app.add_option("--arch", preset->arch,
                                         "instead of a file: a synth preset's architecture, inspected as `frugal "
                                         "synth` would write it, without writing it");
                          app.add_option("--preset", preset->preset, "with --arch: the preset (frugal synth --list)");
                          app.add_option("--type", preset->type, "with --arch: tensor type or recipe (default f16)");
                          app.add_flag("--json", *json, "print JSON instead of text");
                          app.add_option("--placement", pv->file,
                                         "show an expert placement file (frugal placement's) layer by layer instead");
                          app.add_option("-m,--model", pv->model,
                                         "with --placement: the model, to check the file against and to count each "
                                         "rank's expert bytes");
                          app.add_option("--ranks", pv->ranks,
                                         "with --placement: place the file's counts on this many ranks");
                          app.add_option("--replicas", pv->replicas,
                                         "with --placement: extra expert copies per rank (default: the file's)");
                          return [path, json, pv, preset]() {
                            if (!pv->file.empty()) {
                              if (!path->empty() && pv->model.empty()) pv->model = *path;
                              if (*json) fail("inspect: --placement prints text (the placement file is JSON itself)");
                              if (!preset->arch.empty()) fail("inspect: --placement and --arch are two views; give one");
                              return print_placement(*pv);
                            }
                            if (!pv->model.empty() || pv->ranks != 0 || pv->replicas >= 0)
                              fail("inspect: -m, --ranks and --replicas go with --placement");
                            if (!preset->arch.empty() && !path->empty())
                              fail("inspect: give a GGUF file or --arch with --preset, not both");
                            if (path->empty() && preset->arch.empty())
                              fail("inspect: give a GGUF file (or --arch and --preset, or --placement FILE)");
                            std::vector<uint8_t> header;
                            const gguf::Reader r =
                                preset->arch.empty() ? gguf::Reader::open(*path) : preset_header(*preset, header);
                            const gguf::FileSummary s = gguf::summarize(r);
                            if (*json)
                              print_json(r, s);
                            else
                              print_text(r, s);
                            return 0;
                          };
                        });

}  // namespace
}  // namespace frugal::cli
