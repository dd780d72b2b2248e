#include "server/tool_request.h"

#include <cctype>

#include "base/error.h"
#include "server/request_fields.h"
#include "tokenizer/harmony.h"

namespace frugal::server {

namespace {

using json = nlohmann::ordered_json;

bool is_string_field(const json& j, const char* key) { return j.is_object() && j.contains(key) && j[key].is_string(); }

// tools: [{"type": "function", "function": {"name", "description"?, "parameters"?}}]
void check_tools(const json& tools) {
  if (!tools.is_array()) throw RequestError("tools", "tools must be an array of {\"type\": \"function\", \"function\": {...}}");
  for (size_t i = 0; i < tools.size(); ++i) {
    const std::string where = "tools[" + std::to_string(i) + "]";
    const json& t = tools[i];
    if (!t.is_object() || t.value("type", json()) != "function")
      throw RequestError(where + ".type", where + ".type must be \"function\"");
    if (!t.contains("function") || !t["function"].is_object())
      throw RequestError(where + ".function", where + ".function must be an object with a name");
    const json& f = t["function"];
    if (!is_string_field(f, "name") || f["name"].get<std::string>().empty() || f["name"].get<std::string>().size() > 64)
      throw RequestError(where + ".function.name", where + ".function.name must be a string of 1 to 64 characters");
    for (char c : f["name"].get<std::string>())
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.'))
        throw RequestError(where + ".function.name", where + ".function.name may hold only a-z, A-Z, 0-9, '_', '-' and '.'");
    if (present(f, "description") && !f["description"].is_string())
      throw RequestError(where + ".function.description", where + ".function.description must be a string");
    if (present(f, "parameters") && !f["parameters"].is_object())
      throw RequestError(where + ".function.parameters", where + ".function.parameters must be a JSON Schema object");
  }
}

// A family's forced text with the function's name in it.
std::string with_name(std::string_view text, const std::string& name) {
  std::string out(text);
  const size_t at = out.find("{name}");
  if (at != std::string::npos) out.replace(at, 6, name);
  return out;
}

// A function's arguments as a grammar: its parameters, or any object when
// it gives none.
runtime::JsonGrammar arguments_grammar(const json& function) {
  const json parameters = function.value("parameters", json());
  json args = {{"type", "object"}};
  if (parameters.is_object() && parameters.contains("properties")) args = parameters;
  try {
    return runtime::compile_json_schema(args);
  } catch (const Error& e) {
    throw RequestError("tools", std::string("the function's parameters cannot be enforced: ") + e.what());
  }
}

// The one call a forced answer is, in the family's markers: one function's
// name written into the prefill, or several names as lead-ins the model
// chooses from, each followed by arguments matching its function's parameters.
void force_call(ToolRequest& r, const std::vector<const json*>& functions, const ToolCallFormat& f) {
  r.prefill = f.forced_open;
  r.close = f.forced_close;
  const std::string first = (*functions[0])["name"].get<std::string>();
  if (functions.size() == 1) {
    r.prefill += with_name(f.forced_name, first);
    r.grammar = std::make_shared<const runtime::JsonGrammar>(arguments_grammar(*functions[0]));
    return;
  }
  runtime::JsonGrammar g = arguments_grammar(*functions[0]);
  for (const json* fn : functions) {
    g.lead_ins.push_back(with_name(f.forced_name, (*fn)["name"].get<std::string>()));
    g.lead_in_values.push_back(std::make_shared<const runtime::JsonGrammar>(arguments_grammar(*fn)));
  }
  r.grammar = std::make_shared<const runtime::JsonGrammar>(std::move(g));
}

}  // namespace

ToolRequest read_tool_request(const json& body, const ToolCallFormat& forced) {
  ToolRequest r;
  if (present(body, "functions")) throw RequestError("functions", "functions is deprecated: send tools instead");
  const bool has_tools = present(body, "tools") && !(body["tools"].is_array() && body["tools"].empty());
  if (present(body, "tools")) check_tools(body["tools"]);
  if (has_tools) r.tools = body["tools"];
  json choice = present(body, "tool_choice") ? body["tool_choice"] : json(has_tools ? "auto" : "none");
  if (choice.is_string()) {
    r.choice = choice.get<std::string>();
    if (r.choice != "auto" && r.choice != "none" && r.choice != "required")
      throw RequestError("tool_choice", "tool_choice must be \"auto\", \"none\", \"required\" or {\"type\": \"function\", \"function\": {\"name\": ...}}");
  } else if (choice.is_object() && choice.value("type", json()) == "function" && choice.contains("function") &&
             is_string_field(choice["function"], "name")) {
    r.choice = choice["function"]["name"].get<std::string>();
  } else {
    throw RequestError("tool_choice", "tool_choice must be \"auto\", \"none\", \"required\" or {\"type\": \"function\", \"function\": {\"name\": ...}}");
  }
  if (r.choice != "none" && r.choice != "auto" && !has_tools)
    throw RequestError("tool_choice", "tool_choice \"" + r.choice + "\" needs tools");
  if (r.choice == "required") {
    std::vector<const json*> functions;
    for (const json& t : r.tools) functions.push_back(&t["function"]);
    force_call(r, functions, forced);
  } else if (r.choice != "none" && r.choice != "auto") {
    const json* named = nullptr;
    for (const json& t : r.tools)
      if (t["function"]["name"] == r.choice) named = &t["function"];
    if (!named) throw RequestError("tool_choice", "tool_choice names \"" + r.choice + "\", which is not in tools");
    force_call(r, {named}, forced);
  }
  return r;
}

const ToolCallFormat& model_tool_call_format(const gguf::Metadata& md, const tokenizer::Tokenizer& tok) {
  if (tokenizer::speaks_harmony(tok)) return harmony_tool_call_format();
  if (md.has("tokenizer.chat_template"))
    if (const ToolCallFormat* f = tool_call_format_for_template(md.get_string("tokenizer.chat_template"))) return *f;
  return plain_tool_call_format();
}

void copy_message_tool_fields(const json& m, const std::string& where, json& out) {
  if (present(m, "tool_calls")) {
    const json& calls = m["tool_calls"];
    if (!calls.is_array()) throw RequestError(where + ".tool_calls", where + ".tool_calls must be an array");
    for (size_t i = 0; i < calls.size(); ++i) {
      const std::string at = where + ".tool_calls[" + std::to_string(i) + "]";
      if (!calls[i].is_object() || !calls[i].contains("function") || !is_string_field(calls[i]["function"], "name"))
        throw RequestError(at, at + " must be {\"id\", \"type\": \"function\", \"function\": {\"name\", \"arguments\"}}");
    }
    out["tool_calls"] = calls;
  }
  if (m.value("role", json()) == "tool") {
    if (present(m, "tool_call_id") && !m["tool_call_id"].is_string())
      throw RequestError(where + ".tool_call_id", where + ".tool_call_id must be a string");
    if (present(m, "tool_call_id")) out["tool_call_id"] = m["tool_call_id"];
  }
}

}  // namespace frugal::server
