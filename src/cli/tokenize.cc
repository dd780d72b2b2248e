// frugal tokenize: text -> token ids with a model's vocabulary (or a Hugging
// Face tokenizer.json), ids -> text, and an encode-speed measurement.
#include <chrono>
#include <ctime>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/error.h"
#include "base/read_file.h"
#include "cli/command.h"
#include "cli/default_model.h"
#include "gguf/reader.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/hf_import.h"
#include "tokenizer/tokenizer.h"

namespace frugal::cli {
namespace {

struct TokenizeArgs {
  std::string model, tokenizer_json, prompt, file, decode_ids;
  bool ids_only = false, no_bos = false, add_bos = false, no_special = false, jsonl = false, chat_jsonl = false;
  int bench_mb = 0;
};

std::string read_all(std::istream& in) {
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A piece shown on one line: control bytes and quotes escaped.
std::string printable(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c == '\r') out += "\\r";
    else if (c < 0x20 || c == 0x7F) { char b[8]; std::snprintf(b, sizeof b, "\\x%02X", c); out += b; }
    else out += char(c);
  }
  return out;
}

int run_tokenize(const TokenizeArgs& a) {
  gguf::Metadata md;
  if (!a.tokenizer_json.empty()) {
    tokenizer::import_hf_tokenizer(a.tokenizer_json, md);
  } else {
    // No -m: the bundled default model, as for run and chat.
    md = gguf::Reader::open(resolve_model_path(a.model)).metadata();
  }
  if (a.chat_jsonl) {
    // One JSON context per input line -> the rendered chat template as a JSON string.
    std::string line;
    while (std::getline(std::cin, line)) {
      if (line.empty()) continue;
      nlohmann::ordered_json ctx = nlohmann::ordered_json::parse(line, nullptr, false);
      if (!ctx.is_object()) fail("tokenize: --chat-jsonl input line is not a JSON object");
      std::cout << nlohmann::json(tokenizer::render_chat_template(md, ctx)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    }
    return 0;
  }
  tokenizer::Tokenizer tok = tokenizer::Tokenizer::from_metadata(md);
  const bool parse_special = !a.no_special;
  bool add_bos = a.add_bos || (tok.add_bos_default() && !a.no_bos);

  if (!a.decode_ids.empty()) {
    std::vector<int32_t> ids;
    std::stringstream ss(a.decode_ids);
    std::string item;
    while (std::getline(ss, item, ',')) {
      try {
        ids.push_back(std::stoi(item));
      } catch (const std::exception&) {
        fail("tokenize: --decode wants comma-separated integers, got '", item, "'");
      }
    }
    std::cout << tok.decode(ids) << "\n";
    return 0;
  }

  if (a.jsonl) {
    // One JSON string per input line -> {"ids": [...], "text": decode(ids)} per output line.
    std::string line;
    while (std::getline(std::cin, line)) {
      if (line.empty()) continue;
      nlohmann::json in = nlohmann::json::parse(line, nullptr, false);
      if (!in.is_string()) fail("tokenize: --jsonl input line is not a JSON string: ", line.substr(0, 80));
      std::vector<int32_t> ids = tok.encode(in.get<std::string>(), add_bos, parse_special);
      nlohmann::json out = {{"ids", ids}, {"text", tok.decode(ids)}};
      std::cout << out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    }
    return 0;
  }

  std::string text;
  if (!a.file.empty()) {
    text = read_whole_file(a.file);
  } else if (a.prompt == "-") {
    text = read_all(std::cin);
  } else {
    text = a.prompt;
  }

  if (a.bench_mb > 0) {
    // Encode the text repeatedly until bench_mb megabytes have been encoded.
    if (text.empty()) fail("tokenize: --bench needs some text (-p or -f)");
    std::string big;
    while (big.size() < size_t(a.bench_mb) * 1000000) big += text;
    // The thread's CPU time beside the wall time: on a loaded machine the
    // wall clock also counts the time other processes held the core.
    const auto cpu_now = [] {
      timespec ts{};
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
      return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
    };
    const double c0 = cpu_now();
    auto t0 = std::chrono::steady_clock::now();
    size_t n = tok.encode(big, false, parse_special).size();
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double cpu = cpu_now() - c0;
    const double mb = big.size() / 1e6;
    std::printf("encoded %.1f MB into %zu tokens in %.2f s: %.2f MB/s (CPU %.3f s: %.2f MB/s)\n", mb, n, s, mb / s, cpu,
                mb / cpu);
    return 0;
  }

  std::vector<int32_t> ids = tok.encode(text, add_bos, parse_special);
  if (a.ids_only) {
    for (size_t i = 0; i < ids.size(); ++i) std::printf(i ? " %d" : "%d", ids[i]);
    std::printf("\n");
  } else {
    for (int32_t id : ids) std::printf("%8d  '%s'\n", id, printable(tok.token_piece(id)).c_str());
    std::fprintf(stderr, "%zu tokens\n", ids.size());
  }
  return 0;
}

const CommandRegistration kTokenize{
    "tokenize", "text -> token ids with a model's tokenizer (or a tokenizer.json)", [](CLI::App& app) {
      auto a = std::make_shared<TokenizeArgs>();
      app.add_option("-m,--model", a->model, "GGUF model whose tokenizer.ggml.* keys to use (default: the bundled models/default.gguf)");
      app.add_option("--tokenizer-json", a->tokenizer_json,
                     "Hugging Face tokenizer.json (or a tiktoken vocabulary, tiktoken.model) instead of a model");
      auto* prompt = app.add_option("-p,--prompt", a->prompt, "text to tokenize ('-': read stdin)");
      // One text only: with both, one of them would be silently ignored.
      app.add_option("-f,--file", a->file, "read the text from a file")->excludes(prompt);
      app.add_flag("--ids", a->ids_only, "print only the ids, space separated");
      app.add_flag("--no-bos", a->no_bos, "do not add BOS even where the tokenizer asks for it");
      app.add_flag("--add-bos", a->add_bos, "add BOS even where the tokenizer does not ask for it");
      app.add_flag("--no-special", a->no_special, "treat special-token text as plain text");
      app.add_option("--decode", a->decode_ids, "decode comma-separated ids to text instead");
      app.add_flag("--jsonl", a->jsonl, "stdin: one JSON string per line; stdout: {ids, text} per line");
      app.add_flag("--chat-jsonl", a->chat_jsonl, "stdin: one chat context (JSON) per line; stdout: the rendered template");
      app.add_option("--bench", a->bench_mb, "encode about this many MB of the text and print MB/s");
      return [a] { return run_tokenize(*a); };
    }};

}  // namespace
}  // namespace frugal::cli
