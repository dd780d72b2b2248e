// GET /expert-placement on a running server: the rows each routed expert
// received from the requests served, as a placement file that
// read_placement_file and placement_for take (placed on the ranks and with
// the replicas the query asks); every MoE layer's rows add up to the
// tokens computed times the experts a token uses, and grow with more
// requests; bad queries, other methods, no API key and browsers get 4xx
// with an OpenAI error body; a dense model has no placement.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "model/config.h"
#include "model/expert_placement.h"
#include "model/presets.h"
#include "model/synth.h"
#include "server/server_fixture.h"

namespace frugal::server {
namespace {

using testing::json;
using testing::ServerFixture;

std::pair<int, std::string> get(const ServerFixture& f, const std::string& path, const httplib::Headers& headers = {}) {
  httplib::Result res = f.client().Get(path, headers);
  if (!res) return {0, ""};
  return {res->status, res->body};
}

uint64_t layer_rows(const json& j, size_t i) {
  uint64_t sum = 0;
  for (const json& r : j["layers"][i]["rows"]) sum += r.get<uint64_t>();
  return sum;
}

std::string error_code(const std::string& body) {
  const json j = json::parse(body, nullptr, false);
  return j.is_object() && j.contains("error") && j["error"]["code"].is_string() ? j["error"]["code"].get<std::string>()
                                                                                 : "";
}

TEST(PlacementEndpoint, CountsServedRowsAsAPlacementFile) {
  ServerFixture f(2, 64, 8u << 20, testing::default_model_path(), [](ServerOptions& so) { so.api_keys = {"k"}; });
  f.bearer = "k";
  const model::ModelConfig& c = f.model->config();
  ASSERT_TRUE(c.is_moe());

  auto [s0, before] = get(f, "/expert-placement");
  ASSERT_EQ(s0, 200) << before;
  const json j0 = json::parse(before);
  EXPECT_EQ(layer_rows(j0, 0), 0u) << "no request served yet";

  // Two greedy completions of known lengths: every row of every MoE layer
  // went to n_expert_used experts.
  for (const char* prompt : {"The sea", "Once upon a time"}) {
    auto [status, body] = f.post("/v1/completions", json{{"prompt", prompt}, {"max_tokens", 6}, {"temperature", 0},
                                                        {"ignore_eos", true}});
    ASSERT_EQ(status, 200) << body.dump();
  }
  auto [s1, text] = get(f, "/expert-placement?ranks=2&replicas=1");
  ASSERT_EQ(s1, 200) << text;
  const json j = json::parse(text);
  EXPECT_EQ(j["ranks"], 2);
  EXPECT_EQ(j["replicas_per_rank"], 1);
  EXPECT_EQ(j["architecture"], c.arch);
  int64_t moe_layers = 0;
  for (int64_t il = 0; il < c.n_layer; ++il) moe_layers += c.layer_is_moe(il) ? 1 : 0;
  ASSERT_EQ(j["layers"].size(), static_cast<size_t>(moe_layers));
  EXPECT_EQ(j["layers"][0]["placement"].size(), 2u);
  const uint64_t rows = layer_rows(j, 0);
  EXPECT_GT(rows, 0u);
  EXPECT_EQ(rows % static_cast<uint64_t>(c.n_expert_used), 0u);
  for (size_t i = 1; i < j["layers"].size(); ++i) EXPECT_EQ(layer_rows(j, i), rows) << "MoE layer " << i;
  EXPECT_EQ(j["tokens"].get<uint64_t>(), rows / static_cast<uint64_t>(c.n_expert_used));

  // The file is one that --expert-placement and inspect --placement read,
  // placed again at another rank count.
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("frugal_placement_endpoint_" + std::to_string(::getpid()) + ".json");
  std::ofstream(path) << text;
  const model::PlacementFile pf = model::read_placement_file(path.string());
  bool replanned = false;
  const model::ExpertPlacement p3 = model::placement_for(pf, c, 3, &replanned);
  EXPECT_TRUE(replanned);
  EXPECT_EQ(p3.n_ranks(), 3);
  EXPECT_EQ(model::placement_for(pf, c, 2, &replanned).n_ranks(), 2);
  EXPECT_FALSE(replanned);
  std::filesystem::remove(path);
}

TEST(PlacementEndpoint, RefusesBadQueriesMethodsAndClientsWithoutTheKey) {
  ServerFixture f(2, 64, 8u << 20, testing::default_model_path(), [](ServerOptions& so) { so.api_keys = {"k"}; });
  f.bearer = "k";
  for (const char* q : {"?ranks=0", "?ranks=x", "?ranks=2&replicas=-1", "?ranks=", "?shards=2", "?ranks=99999"}) {
    auto [status, body] = get(f, std::string("/expert-placement") + q);
    EXPECT_EQ(status, 400) << q << " " << body;
    EXPECT_NE(json::parse(body, nullptr, false)["error"]["message"], nullptr) << body;
  }
  httplib::Result post = f.client().Post("/expert-placement", "{}", "application/json");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
  auto [browser, body] = get(f, "/expert-placement", {{"Origin", "http://example.com"}});
  EXPECT_EQ(browser, 403) << body;
  f.bearer = "";
  EXPECT_EQ(get(f, "/expert-placement").first, 401);

  // No API key and no --enable-admin: off.
  ServerFixture open(1);
  auto [status, off] = get(open, "/expert-placement");
  EXPECT_EQ(status, 403) << off;
  EXPECT_NE(off.find("are off"), std::string::npos) << off;
}

TEST(PlacementEndpoint, ADenseModelHasNone) {
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("frugal_placement_dense_" + std::to_string(::getpid()) + ".gguf");
  model::SynthOptions o;
  o.type = "f32";
  o.progress_label = "";
  model::write_synth_model(model::find_preset("qwen3", "tiny").config, gguf::Metadata{}, o, path.string());
  {
    ServerFixture f(1, 64, 8u << 20, path.string(), [](ServerOptions& so) { so.admin_without_key = true; });
    auto [status, body] = get(f, "/expert-placement");
    EXPECT_EQ(status, 404) << body;
    EXPECT_EQ(error_code(body), "no_experts");
  }
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace frugal::server
