// A model whose tokens are single bytes (a synth byte-level vocabulary, as
// byte-level BPE and byte-fallback vocabularies hold for CJK text, emoji and
// accented letters), sampled at temperature 1: most tokens are not UTF-8 on
// their own. Streamed and whole answers must stay valid UTF-8 (characters held
// back until complete, the impossible ones as U+FFFD) and the server must stay
// up. Before the stream decoder replaced invalid bytes, the first such token
// made the JSON encoder throw: a 500 for a whole answer, an abort of the
// whole server for a stream.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>
#include <unistd.h>

#include "base/progress.h"
#include "base/utf8.h"
#include "model/presets.h"
#include "model/synth.h"
#include "server/server_fixture.h"

namespace frugal::server {
namespace {

using testing::json;
using testing::ServerFixture;

std::string synth_byte_model() {
  Progress::set_enabled(false);
  const std::string path =
      (std::filesystem::temp_directory_path() / ("frugal_byte_tokens_" + std::to_string(::getpid()) + ".gguf")).string();
  model::SynthOptions opts;
  opts.type = "q8_0";
  opts.seed = 3;
  opts.progress_label = "";
  model::write_synth_model(model::find_preset("qwen3moe", "tiny").config, gguf::Metadata{}, opts, path);
  return path;
}

TEST(ByteTokens, SampledStreamsAndAnswersAreValidUtf8AndTheServerStaysUp) {
  const std::string path = synth_byte_model();
  {
    ServerFixture f(4, 256, 8u << 20, path);
    constexpr int kClients = 4, kPerClient = 250;  // 1,000 requests, half streamed
    std::atomic<int> answered{0}, bad{0}, replaced{0};
    std::vector<std::thread> clients;
    for (int c = 0; c < kClients; ++c)
      clients.emplace_back([&, c] {
        for (int i = 0; i < kPerClient; ++i) {
          const bool chat = i % 4 >= 2, streamed = i % 2;
          json body = {{"max_tokens", 12}, {"temperature", 1}, {"seed", c * kPerClient + i}, {"stream", streamed}};
          if (chat) body["messages"] = json::array({json{{"role", "user"}, {"content", "héllo 你好 😀"}}});
          else body["prompt"] = "ça va? ";
          const std::string route = chat ? "/v1/chat/completions" : "/v1/completions";
          std::string text;
          bool ok = true;
          if (streamed) {
            const auto events = f.stream(route, body);
            ok = !events.empty() && events.back() == "[DONE]";
            for (const std::string& ev : events) {
              ok = ok && is_valid_utf8(ev);
              if (ev == "[DONE]") continue;
              const json j = json::parse(ev, nullptr, false);
              if (j.is_discarded() || j.contains("error")) ok = false;
              else if (chat && j["choices"][0]["delta"].contains("content")) text += j["choices"][0]["delta"]["content"];
              else if (!chat) text += j["choices"][0]["text"].get<std::string>();
            }
          } else {
            const auto [status, j] = f.post(route, body.dump());
            ok = status == 200 && j.is_object();
            if (ok) text = chat ? j["choices"][0]["message"]["content"] : j["choices"][0]["text"];
          }
          if (!ok || !is_valid_utf8(text)) ++bad;
          if (text.find(kReplacementCharacter) != std::string::npos) ++replaced;
          ++answered;
        }
      });
    for (auto& t : clients) t.join();
    EXPECT_EQ(answered.load(), kClients * kPerClient);
    EXPECT_EQ(bad.load(), 0);
    EXPECT_GT(replaced.load(), 0) << "the model never produced an invalid byte: the test tests nothing";
    httplib::Client c = f.client();
    auto health = c.Get("/health");
    ASSERT_TRUE(health);
    EXPECT_EQ(health->status, 200);
  }
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace frugal::server
