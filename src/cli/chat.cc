// frugal chat: a conversation through the model's chat template. Each line
// read is a user turn; the answer streams to stdout. With input piped in it
// answers each line in turn and exits at the end of the input. /reset clears
// the history, /exit quits. The KV cache is kept between turns: when the new
// prompt starts with everything already cached, only the rest is computed.
// A model that answers in the harmony format (gpt-oss: its vocabulary has
// <|channel|> and <|message|>) streams its analysis channel to stderr as
// reasoning and its final channel to stdout as the answer; only the answer
// joins the history.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/error.h"
#include "cli/command.h"
#include "cli/error_text.h"
#include "cli/generation_flags.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/harmony.h"
#include "tokenizer/tokenizer.h"

namespace frugal::cli {
namespace {

struct ChatArgs {
  GenerationFlags gen;
  std::string system;
};

bool starts_with(const std::vector<int32_t>& ids, const std::vector<int32_t>& prefix) {
  return prefix.size() <= ids.size() && std::equal(prefix.begin(), prefix.end(), ids.begin());
}


class ChatSession {
 public:
  ChatSession(const ChatArgs& a, LoadedModel& m, runtime::GenerateParams params)
      : args_(a), m_(m), tok_(*m.tokenizer), params_(std::move(params)) {
    // Without a template the plain "role: content" format has no end-of-turn
    // token: the next "user:" line is where the answer ends.
    if (!m.model->file().metadata().has("tokenizer.chat_template")) params_.stop.push_back("\nuser:");
    if (harmony_) {
      // <|end|> closes each message (the analysis before the answer), so
      // the answer ends at <|return|> (or <|call|>, a tool call), not at
      // the vocabulary's end-of-generation tokens.
      params_.stop_at_end_of_generation = false;
      for (const std::string& end : tokenizer::harmony_stops()) params_.stop.push_back(end);
    }
    reset();
  }

  void reset() {
    history_.clear();
    cached_.clear();
    if (!args_.system.empty()) history_.push_back({"system", args_.system, ""});
  }

  // One user turn; returns false when the turn failed (its message is dropped).
  bool answer(const std::string& user) {
    history_.push_back({"user", user, ""});
    try {
      std::vector<int32_t> prompt = render();
      // A conversation longer than the context loses its oldest exchanges
      // (the system message stays), keeping room for an answer.
      const int n_ctx = m_.engine->n_ctx();
      const int reserve = params_.n_predict > 0 ? std::min(params_.n_predict, n_ctx / 4) : n_ctx / 4;
      while (static_cast<int>(prompt.size()) + reserve > n_ctx && drop_oldest_exchange()) {
        std::fprintf(stderr, "[context full: the oldest exchange is dropped]\n");
        prompt = render();
      }
      runtime::GenerateParams p = params_;
      p.n_past = !cached_.empty() && cached_.size() < prompt.size() && starts_with(prompt, cached_)
                     ? static_cast<int>(cached_.size())
                     : 0;
      std::string reply;
      tokenizer::HarmonyParser harmony;
      auto show = [&](const std::vector<tokenizer::HarmonyPiece>& pieces) {
        for (const auto& piece : pieces) {
          const bool answer = piece.channel == "final" && piece.recipient.empty();
          if (answer) reply += piece.text;
          std::FILE* to = answer ? stdout : stderr;
          std::fwrite(piece.text.data(), 1, piece.text.size(), to);
          if (piece.end && !answer) std::fputc('\n', to);
          std::fflush(to);
        }
      };
      runtime::GenerateCallbacks cb;
      cb.on_text = [&](std::string_view t) {
        if (harmony_) {
          show(harmony.feed(t));
          return true;
        }
        reply += t;
        std::fwrite(t.data(), 1, t.size(), stdout);
        std::fflush(stdout);
        return true;
      };
      const runtime::GenerateStats s = runtime::generate(*m_.engine, tok_, prompt, p, cb);
      if (harmony_) show(harmony.finish());
      std::printf("\n");
      std::fflush(stdout);
      log_stats(s);
      // The cache now holds the prompt and every generated token but the last.
      cached_ = prompt;
      if (!s.tokens.empty()) cached_.insert(cached_.end(), s.tokens.begin(), s.tokens.end() - 1);
      history_.push_back({"assistant", reply, ""});
      return true;
    } catch (const Error& e) {
      history_.pop_back();
      cached_.clear();
      std::fprintf(stderr, "error: %s (/reset starts a new conversation)\n", error_text(e).c_str());
      return false;
    }
  }

 private:
  // The history through the chat template, as token ids.
  std::vector<int32_t> render() const {
    return tokenizer::encode_chat_prompt(tok_, tokenizer::apply_chat_template(m_.model->file().metadata(), history_, true));
  }

  // Removes the first user message and the answer to it; false when the
  // current question is all that is left.
  bool drop_oldest_exchange() {
    const size_t first = !history_.empty() && history_.front().role == "system" ? 1 : 0;
    if (history_.size() < first + 3) return false;  // only the current user message
    const size_t end = history_[first + 1].role == "assistant" ? first + 2 : first + 1;
    history_.erase(history_.begin() + static_cast<std::ptrdiff_t>(first), history_.begin() + static_cast<std::ptrdiff_t>(end));
    return true;
  }

  static void log_stats(const runtime::GenerateStats& s) {
    std::fprintf(stderr, "[%d prompt tokens (%d reused from the cache), %.1f tok/s; %d generated, %.1f tok/s; stop: %s]\n",
                 s.n_prompt, s.n_reused, s.prompt_tokens_per_second(), s.n_generated, s.generation_tokens_per_second(),
                 runtime::stop_reason_name(s.stop));
  }

  const ChatArgs& args_;
  LoadedModel& m_;
  const tokenizer::Tokenizer& tok_;
  runtime::GenerateParams params_;
  bool harmony_ = tokenizer::speaks_harmony(tok_);
  std::vector<tokenizer::ChatMessage> history_;
  std::vector<int32_t> cached_;  // token ids in the engine's sequence 0
};

int run_chat(const ChatArgs& a) {
  runtime::GenerateParams params = generate_params(a.gen);  // bad flags fail before the model loads
  LoadedModel m = load_for_generation(a.gen);
  ChatSession chat(a, m, std::move(params));
  const bool interactive = isatty(STDIN_FILENO);
  if (interactive) std::fprintf(stderr, "frugal chat: type a message; /reset clears the history, /exit quits\n");
  bool failed = false;
  std::string line;
  while (true) {
    if (interactive) {
      std::printf("> ");
      std::fflush(stdout);
    }
    if (!std::getline(std::cin, line)) break;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line == "/exit") break;
    if (line == "/reset") {
      chat.reset();
      std::fprintf(stderr, "[history cleared]\n");
      continue;
    }
    if (line.empty()) continue;
    if (!chat.answer(line)) failed = true;
  }
  return failed && !interactive ? 1 : 0;
}

const CommandRegistration kChat{"chat", "chat with a model through its chat template", [](CLI::App& app) {
                                  auto a = std::make_shared<ChatArgs>();
                                  a->gen.n_predict = 512;
                                  app.add_option("--system", a->system, "a system message opening the conversation");
                                  add_generation_flags(app, a->gen);
                                  return [a] { return run_chat(*a); };
                                }};

}  // namespace
}  // namespace frugal::cli
