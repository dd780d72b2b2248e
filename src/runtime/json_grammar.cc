#include "runtime/json_grammar.h"

#include <algorithm>
#include <bitset>
#include <map>
#include <set>

#include "base/error.h"

namespace frugal::runtime {

using json = nlohmann::ordered_json;
using Kind = JsonNode::Kind;

namespace {

// Keywords that only describe: they change nothing in what is generated.
const std::set<std::string> kAnnotations = {"title", "description", "default", "examples", "$schema", "$id", "$comment"};
// Keywords the compiler enforces.
const std::set<std::string> kEnforced = {"type",     "properties", "required",  "additionalProperties",
                                         "items",    "minItems",   "maxItems",  "enum",
                                         "const",    "minLength",  "maxLength", "anyOf",
                                         "$ref",     "$defs",      "definitions"};

constexpr size_t kMaxProperties = 64;  // the matcher keeps the properties given in a 64-bit set

class Compiler {
 public:
  explicit Compiler(const json& root) : root_(root) {}

  JsonGrammar run() {
    const int32_t root = compile(root_, "#");
    for (int32_t id = 0; id < static_cast<int32_t>(g_.nodes.size()); ++id) follow(id);  // no cycle of $refs alone
    return take(root);
  }
  JsonGrammar take(int32_t root) {
    g_.root = root;
    return std::move(g_);
  }

  int32_t any() {
    if (any_ >= 0) return any_;
    any_ = add({});
    const int32_t obj = add({.kind = Kind::kObject});
    const int32_t arr = add({.kind = Kind::kArray});
    const int32_t str = add({.kind = Kind::kString});
    g_.nodes[static_cast<size_t>(obj)].free_values = any_;
    g_.nodes[static_cast<size_t>(obj)].items = str;
    g_.nodes[static_cast<size_t>(arr)].items = any_;
    const int32_t lit = add({.kind = Kind::kLiteral, .literals = {"false", "null", "true"}});
    const int32_t num = add({.kind = Kind::kNumber});
    set_union(any_, {obj, arr, str, lit, num}, "#");
    return any_;
  }

  int32_t object_of_any() {
    const int32_t obj = add({.kind = Kind::kObject});
    const int32_t str = add({.kind = Kind::kString});
    const int32_t values = any();
    g_.nodes[static_cast<size_t>(obj)].free_values = values;
    g_.nodes[static_cast<size_t>(obj)].items = str;
    return obj;
  }

 private:
  int32_t add(JsonNode n) {
    g_.nodes.push_back(std::move(n));
    return static_cast<int32_t>(g_.nodes.size() - 1);
  }
  JsonNode& node(int32_t id) { return g_.nodes[static_cast<size_t>(id)]; }

  // The node a chain of $refs ends at (stopping before a definition still
  // being compiled); a chain that comes back to itself names no value.
  int32_t follow(int32_t id) {
    for (size_t steps = 0; node(id).kind == Kind::kRef && !compiling_.count(node(id).items); ++steps) {
      if (steps > g_.nodes.size()) fail("the schema: a $ref that leads only to $refs back to itself names no value");
      id = node(id).items;
    }
    return id;
  }

  [[noreturn]] static void refuse(const std::string& where, const std::string& what) {
    fail("the schema at ", where, ": ", what);
  }

  // The bytes a value of node `id` may begin with.
  std::bitset<256> first_bytes(int32_t id) {
    std::bitset<256> b;
    const JsonNode& n = node(id);
    switch (n.kind) {
      case Kind::kObject: b.set('{'); break;
      case Kind::kArray: b.set('['); break;
      case Kind::kString: b.set('"'); break;
      case Kind::kNumber:
      case Kind::kInteger:
        b.set('-');
        for (int c = '0'; c <= '9'; ++c) b.set(static_cast<size_t>(c));
        break;
      case Kind::kLiteral:
        for (const std::string& l : n.literals) b.set(static_cast<uint8_t>(l[0]));
        break;
      case Kind::kUnion:
        for (size_t c = 0; c < 256; ++c)
          if (n.by_first_byte[c] >= 0) b.set(c);
        break;
      case Kind::kRef:
        if (compiling_.count(n.items)) fail("the schema: a $ref to a definition that contains it cannot be an alternative of anyOf");
        return first_bytes(n.items);
    }
    return b;
  }

  // Makes `id` the union of `alts`: each first byte must lead to one alternative.
  void set_union(int32_t id, std::vector<int32_t> alts, const std::string& where) {
    // An integer beside a number adds nothing the number does not take.
    const bool has_number = std::any_of(alts.begin(), alts.end(), [&](int32_t a) { return node(a).kind == Kind::kNumber; });
    if (has_number) std::erase_if(alts, [&](int32_t a) { return node(a).kind == Kind::kInteger; });
    std::array<int32_t, 256> by{};
    by.fill(-1);
    for (int32_t a : alts) {
      const int32_t target = follow(a);
      const JsonNode& n = node(target);
      if (n.kind == Kind::kUnion) {  // flattened: a union's alternatives are never unions
        for (size_t c = 0; c < 256; ++c)
          if (n.by_first_byte[c] >= 0) {
            if (by[c] >= 0 && by[c] != n.by_first_byte[c])
              refuse(where, "two alternatives both begin with '" + std::string(1, char(c)) + "' (alternatives must begin differently)");
            by[c] = n.by_first_byte[c];
          }
        continue;
      }
      const std::bitset<256> f = first_bytes(target);
      for (size_t c = 0; c < 256; ++c)
        if (f.test(c)) {
          if (by[c] >= 0 && by[c] != target)
            refuse(where, "two alternatives both begin with '" + std::string(1, char(c)) + "' (alternatives must begin differently)");
          by[c] = target;
        }
    }
    node(id) = JsonNode{.kind = Kind::kUnion, .by_first_byte = by};
  }

  int64_t count(const json& s, const char* key, int64_t def, const std::string& where) {
    if (!s.contains(key)) return def;
    if (!s[key].is_number_integer() || s[key].get<int64_t>() < 0)
      refuse(where, std::string(key) + " must be a non-negative integer");
    return s[key].get<int64_t>();
  }

  int32_t compile(const json& s, const std::string& where) {
    const int32_t id = add({});
    compile_into(id, s, where);
    return id;
  }

  const json& resolve(const std::string& ref, const std::string& where) {
    if (ref == "#") return root_;
    for (const char* base : {"#/$defs/", "#/definitions/"}) {
      const std::string b = base;
      if (ref.rfind(b, 0) != 0) continue;
      const std::string name = ref.substr(b.size());
      const std::string section = b.substr(2, b.size() - 3);
      if (root_.contains(section) && root_[section].is_object() && root_[section].contains(name))
        return root_[section][name];
      refuse(where, "$ref \"" + ref + "\" names no definition");
    }
    refuse(where, "$ref \"" + ref + "\": only \"#\", \"#/$defs/NAME\" and \"#/definitions/NAME\" are supported");
  }

  void compile_into(int32_t id, const json& s, const std::string& where) {
    if (s.is_boolean()) {
      if (!s.get<bool>()) refuse(where, "the schema false matches no value");
      node(id) = JsonNode{.kind = Kind::kRef, .items = any()};
      return;
    }
    if (!s.is_object()) refuse(where, "a schema must be an object");
    for (const auto& [key, value] : s.items())
      if (!kAnnotations.count(key) && !kEnforced.count(key))
        refuse(where, "the keyword \"" + key + "\" is not supported (supported: type, properties, required, "
                      "additionalProperties, items, minItems, maxItems, enum, const, minLength, maxLength, anyOf, $ref, $defs)");
    if (s.contains("$ref")) {
      if (!s["$ref"].is_string()) refuse(where, "$ref must be a string");
      const std::string ref = s["$ref"].get<std::string>();
      auto it = refs_.find(ref);
      if (it == refs_.end()) {
        it = refs_.emplace(ref, add({})).first;
        const int32_t target = it->second;
        compiling_.insert(target);
        compile_into(target, resolve(ref, where), ref);
        compiling_.erase(target);
      }
      node(id) = JsonNode{.kind = Kind::kRef, .items = it->second};
      return;
    }
    if (s.contains("enum") || s.contains("const")) {
      std::vector<std::string> lits;
      if (s.contains("const")) lits.push_back(s["const"].dump());
      if (s.contains("enum")) {
        if (!s["enum"].is_array() || s["enum"].empty()) refuse(where, "enum must be a non-empty array");
        for (const json& v : s["enum"]) lits.push_back(v.dump());
      }
      std::sort(lits.begin(), lits.end());
      lits.erase(std::unique(lits.begin(), lits.end()), lits.end());
      node(id) = JsonNode{.kind = Kind::kLiteral, .literals = std::move(lits)};
      return;
    }
    if (s.contains("anyOf")) {
      if (!s["anyOf"].is_array() || s["anyOf"].empty()) refuse(where, "anyOf must be a non-empty array");
      std::vector<int32_t> alts;
      for (size_t i = 0; i < s["anyOf"].size(); ++i)
        alts.push_back(compile(s["anyOf"][i], where + "/anyOf/" + std::to_string(i)));
      return set_union(id, alts, where);
    }
    std::vector<std::string> types;
    if (s.contains("type")) {
      if (s["type"].is_string()) types.push_back(s["type"].get<std::string>());
      else if (s["type"].is_array() && !s["type"].empty())
        for (const json& t : s["type"]) {
          if (!t.is_string()) refuse(where, "type must be a name or a list of names");
          types.push_back(t.get<std::string>());
        }
      else refuse(where, "type must be a name or a list of names");
    } else if (s.contains("properties") || s.contains("additionalProperties") || s.contains("required")) {
      types = {"object"};
    } else if (s.contains("items")) {
      types = {"array"};
    } else {
      node(id) = JsonNode{.kind = Kind::kRef, .items = any()};
      return;
    }
    if (types.size() == 1) return compile_type(id, types[0], s, where);
    std::vector<int32_t> alts;
    for (const std::string& t : types) {
      const int32_t a = add({});
      compile_type(a, t, s, where);
      alts.push_back(a);
    }
    set_union(id, alts, where);
  }

  void compile_type(int32_t id, const std::string& type, const json& s, const std::string& where) {
    if (type == "string") {
      const int64_t lo = count(s, "minLength", 0, where), hi = count(s, "maxLength", INT64_MAX, where);
      if (lo > hi) refuse(where, "minLength is above maxLength");
      node(id) = JsonNode{.kind = Kind::kString, .min_count = lo, .max_count = hi};
    } else if (type == "number" || type == "integer") {
      node(id) = JsonNode{.kind = type == "number" ? Kind::kNumber : Kind::kInteger};
    } else if (type == "boolean") {
      node(id) = JsonNode{.kind = Kind::kLiteral, .literals = {"false", "true"}};
    } else if (type == "null") {
      node(id) = JsonNode{.kind = Kind::kLiteral, .literals = {"null"}};
    } else if (type == "array") {
      const int64_t lo = count(s, "minItems", 0, where), hi = count(s, "maxItems", INT64_MAX, where);
      if (lo > hi) refuse(where, "minItems is above maxItems");
      const int32_t items = s.contains("items") ? compile(s["items"], where + "/items") : any();
      node(id) = JsonNode{.kind = Kind::kArray, .items = items, .min_count = lo, .max_count = hi};
    } else if (type == "object") {
      compile_object(id, s, where);
    } else {
      refuse(where, "unknown type \"" + type + "\"");
    }
  }

  void compile_object(int32_t id, const json& s, const std::string& where) {
    const json props = s.contains("properties") ? s["properties"] : json::object();
    if (!props.is_object()) refuse(where, "properties must be an object");
    if (props.size() > kMaxProperties)
      refuse(where, "more than " + std::to_string(kMaxProperties) + " properties in one object");
    std::set<std::string> required;
    if (s.contains("required")) {
      if (!s["required"].is_array()) refuse(where, "required must be an array of names");
      for (const json& r : s["required"]) {
        if (!r.is_string() || !props.contains(r.get<std::string>()))
          refuse(where, "required names " + r.dump() + ", which is not among the properties");
        required.insert(r.get<std::string>());
      }
    }
    const json extra = s.contains("additionalProperties") ? s["additionalProperties"] : json(true);
    if (!extra.is_boolean() && !extra.is_object()) refuse(where, "additionalProperties must be a boolean or a schema");
    if (props.empty() && extra != false) {
      // A map: any keys, each value of one schema.
      const int32_t values = extra.is_object() ? compile(extra, where + "/additionalProperties") : any();
      const int32_t key = add({.kind = Kind::kString});
      node(id) = JsonNode{.kind = Kind::kObject, .free_values = values, .items = key};
      return;
    }
    // Properties in the order of their quoted names, for the key matcher.
    std::vector<std::pair<std::string, std::string>> named;  // (quoted, name)
    for (const auto& [name, sub] : props.items()) named.emplace_back(json(name).dump(), name);
    std::sort(named.begin(), named.end());
    JsonNode n{.kind = Kind::kObject};
    for (size_t i = 0; i < named.size(); ++i) {
      n.keys.push_back(named[i].first);
      n.key_values.push_back(compile(props[named[i].second], where + "/properties/" + named[i].second));
      if (required.count(named[i].second)) n.required |= uint64_t(1) << i;
    }
    node(id) = std::move(n);
  }

  const json& root_;
  JsonGrammar g_;
  int32_t any_ = -1;
  std::map<std::string, int32_t> refs_;
  std::set<int32_t> compiling_;  // definitions being compiled (a $ref to one is recursive)
};

bool is_digit(uint8_t b) { return b >= '0' && b <= '9'; }
bool is_hex(uint8_t b) { return is_digit(b) || (b >= 'a' && b <= 'f') || (b >= 'A' && b <= 'F'); }

constexpr int64_t kMaxDigits = 15;  // before and after the point: a value never runs on

}  // namespace

JsonGrammar json_object_grammar() {
  const json none = json::object();
  Compiler c{none};
  const int32_t root = c.object_of_any();
  return c.take(root);
}

JsonGrammar compile_json_schema(const json& schema) {
  Compiler c{schema};
  return c.run();
}

// ---- JsonMatcher ----------------------------------------------------------------

JsonMatcher::JsonMatcher(const JsonGrammar& g) : g_(&g) {}

void JsonMatcher::assign(const JsonMatcher& o) {
  g_ = o.g_;
  depth_ = o.depth_;
  started_ = o.started_;
  std::copy(o.stack_.begin(), o.stack_.begin() + depth_, stack_.begin());
}

bool JsonMatcher::push(int32_t node) {
  if (depth_ == kMaxDepth) return false;
  while (g_->nodes[static_cast<size_t>(node)].kind == Kind::kRef) node = g_->nodes[static_cast<size_t>(node)].items;
  stack_[static_cast<size_t>(depth_++)] = Frame{.node = node, .phase = 0, .spaced = 0, .cont = 0, .cont_lo = 0,
                                                .cont_hi = 0, .hex = 0, .lo = 0, .hi = 0, .pos = 0, .key = -1,
                                                .count = 0, .seen = 0};
  return true;
}

bool JsonMatcher::feed(std::string_view bytes) {
  for (char c : bytes)
    if (!feed(static_cast<uint8_t>(c))) return false;
  return true;
}

bool JsonMatcher::feed(uint8_t b) {
  if (depth_ == 0) {
    if (started_) return false;  // the value is closed: nothing may follow
    started_ = true;
    push(g_->root);
  }
  // A step that pushes a child, or a value that ends without taking the byte
  // (a number), hands the same byte on; the loop ends within 2 * depth turns.
  while (depth_ > 0) {
    const int before = depth_;
    switch (step(stack_[static_cast<size_t>(depth_ - 1)], b)) {
      case Step::kTaken:
        if (depth_ < before) return true;  // taken and closed: step popped the frame
        if (depth_ > before) continue;     // a child was pushed to read this byte
        return true;
      case Step::kRefused: return false;
      case Step::kEnded: --depth_; continue;
    }
  }
  return false;  // the top value ended and this byte follows it
}

bool JsonMatcher::frame_accepts(const Frame& f) const {
  const JsonNode& n = g_->nodes[static_cast<size_t>(f.node)];
  switch (n.kind) {
    case Kind::kNumber:
    case Kind::kInteger: return f.phase == 2 || f.phase == 3 || f.phase == 5;
    case Kind::kLiteral: return f.phase == 1 && n.literals[static_cast<size_t>(f.lo)].size() == static_cast<size_t>(f.pos);
    default: return false;
  }
}

bool JsonMatcher::in_string_text(int64_t& room) const {
  if (depth_ == 0) return false;
  const Frame& f = stack_[static_cast<size_t>(depth_ - 1)];
  const JsonNode& n = g_->nodes[static_cast<size_t>(f.node)];
  if (n.kind != Kind::kString || f.phase != 1 || f.cont != 0) return false;
  room = n.max_count - f.count;
  return true;
}

bool JsonMatcher::complete() const { return closed() || (depth_ == 1 && frame_accepts(stack_[0])); }

JsonMatcher::Step JsonMatcher::step(Frame& f, uint8_t b) {
  const JsonNode& n = g_->nodes[static_cast<size_t>(f.node)];
  switch (n.kind) {
    case Kind::kObject: return step_object(f, n, b);
    case Kind::kArray: return step_array(f, n, b);
    case Kind::kString: return step_string(f, n, b);
    case Kind::kNumber: return step_number(f, false, b);
    case Kind::kInteger: return step_number(f, true, b);
    case Kind::kLiteral: return step_literal(f, n, b);
    case Kind::kUnion: {
      const int32_t alt = n.by_first_byte[b];
      if (alt < 0) return Step::kRefused;
      --depth_;  // the frame becomes the alternative's
      push(alt);
      return step(stack_[static_cast<size_t>(depth_ - 1)], b);
    }
    case Kind::kRef: break;  // resolved by push()
  }
  return Step::kRefused;
}

// Phases: 0 before '{'; 1 after '{'; 2 in a key; 3 before ':'; 4 before the
// value; 5 after a value; 6 after ','.
JsonMatcher::Step JsonMatcher::step_object(Frame& f, const JsonNode& n, uint8_t b) {
  const bool map = n.free_values >= 0;
  const int32_t n_keys = static_cast<int32_t>(n.keys.size());
  const uint64_t all = n_keys == 64 ? ~uint64_t(0) : (uint64_t(1) << n_keys) - 1;
  const bool may_close = map || (f.seen & n.required) == n.required;
  const bool may_add = map || (f.seen & all) != all;
  auto start_key = [&]() -> Step {
    if (map) {
      f.phase = 3;
      if (!push(n.items)) return Step::kRefused;
      return Step::kTaken;  // the key string reads this '"'
    }
    f.phase = 2;
    f.lo = 0;
    f.hi = n_keys;
    f.pos = 0;
    return step_object(f, n, b);
  };
  auto close = [&]() {
    --depth_;
    return Step::kTaken;
  };
  switch (f.phase) {
    case 0:
      if (b != '{') return Step::kRefused;
      f.phase = 1;
      return Step::kTaken;
    case 1:
      if (b == '}' && may_close) return close();
      if (b == '"' && may_add) return start_key();
      return Step::kRefused;
    case 2: {
      // Narrow the candidates to the keys not yet given that go on with b.
      int32_t lo = -1, hi = -1;
      bool open = false;
      for (int32_t i = f.lo; i < f.hi; ++i) {
        const std::string& k = n.keys[static_cast<size_t>(i)];
        if (k.size() <= static_cast<size_t>(f.pos) || static_cast<uint8_t>(k[static_cast<size_t>(f.pos)]) != b) continue;
        if (lo < 0) lo = i;
        hi = i + 1;
        if (!(f.seen >> i & 1)) open = true;
      }
      if (!open) return Step::kRefused;
      f.lo = lo;
      f.hi = hi;
      ++f.pos;
      // The closing quote ends exactly one key.
      if (n.keys[static_cast<size_t>(lo)].size() == static_cast<size_t>(f.pos) && b == '"' && f.pos > 1) {
        f.key = lo;
        f.seen |= uint64_t(1) << lo;
        f.phase = 3;
      }
      return Step::kTaken;
    }
    case 3:
      if (b != ':') return Step::kRefused;
      f.phase = 4;
      f.spaced = 0;
      return Step::kTaken;
    case 4:
      if (b == ' ' && !f.spaced) {
        f.spaced = 1;
        return Step::kTaken;
      }
      f.phase = 5;
      if (!push(map ? n.free_values : n.key_values[static_cast<size_t>(f.key)])) return Step::kRefused;
      return Step::kTaken;  // the value's frame reads b
    case 5:
      if (b == '}' && may_close) return close();
      if (b == ',' && may_add) {
        f.phase = 6;
        f.spaced = 0;
        return Step::kTaken;
      }
      return Step::kRefused;
    case 6:
      if (b == ' ' && !f.spaced) {
        f.spaced = 1;
        return Step::kTaken;
      }
      if (b == '"') return start_key();
      return Step::kRefused;
  }
  return Step::kRefused;
}

// Phases: 0 before '['; 1 after '['; 2 after an item; 3 after ','.
JsonMatcher::Step JsonMatcher::step_array(Frame& f, const JsonNode& n, uint8_t b) {
  auto item = [&]() {
    ++f.count;
    f.phase = 2;
    return push(n.items) ? Step::kTaken : Step::kRefused;  // the item's frame reads b
  };
  switch (f.phase) {
    case 0:
      if (b != '[') return Step::kRefused;
      f.phase = 1;
      return Step::kTaken;
    case 1:
      if (b == ']' && n.min_count == 0) {
        --depth_;
        return Step::kTaken;
      }
      if (b == ']' || n.max_count == 0) return Step::kRefused;
      return item();
    case 2:
      if (b == ']' && f.count >= n.min_count) {
        --depth_;
        return Step::kTaken;
      }
      if (b == ',' && f.count < n.max_count) {
        f.phase = 3;
        f.spaced = 0;
        return Step::kTaken;
      }
      return Step::kRefused;
    case 3:
      if (b == ' ' && !f.spaced) {
        f.spaced = 1;
        return Step::kTaken;
      }
      if (b == ']') return Step::kRefused;
      return item();
  }
  return Step::kRefused;
}

// Phases: 0 before '"'; 1 in the text; 2 after '\'; 3 in \u's hex digits.
// `hex` also notes a \u escape starting with 'd' (a surrogate if 8-f follows).
JsonMatcher::Step JsonMatcher::step_string(Frame& f, const JsonNode& n, uint8_t b) {
  switch (f.phase) {
    case 0:
      if (b != '"') return Step::kRefused;
      f.phase = 1;
      return Step::kTaken;
    case 1:
      if (f.cont > 0) {
        if (b < f.cont_lo || b > f.cont_hi) return Step::kRefused;
        --f.cont;
        f.cont_lo = 0x80;
        f.cont_hi = 0xBF;
        return Step::kTaken;
      }
      if (b == '"') {
        if (f.count < n.min_count) return Step::kRefused;
        --depth_;
        return Step::kTaken;
      }
      if (f.count >= n.max_count || b < 0x20) return Step::kRefused;
      if (b == '\\') {
        f.phase = 2;
        return Step::kTaken;
      }
      // One character begins: its UTF-8 continuation bytes (Unicode Table 3-7).
      if (b < 0x80) {
      } else if (b >= 0xC2 && b <= 0xDF) {
        f.cont = 1, f.cont_lo = 0x80, f.cont_hi = 0xBF;
      } else if (b >= 0xE0 && b <= 0xEF) {
        f.cont = 2, f.cont_lo = b == 0xE0 ? 0xA0 : 0x80, f.cont_hi = b == 0xED ? 0x9F : 0xBF;
      } else if (b >= 0xF0 && b <= 0xF4) {
        f.cont = 3, f.cont_lo = b == 0xF0 ? 0x90 : 0x80, f.cont_hi = b == 0xF4 ? 0x8F : 0xBF;
      } else {
        return Step::kRefused;
      }
      ++f.count;
      return Step::kTaken;
    case 2:
      if (b == 'u') {
        f.phase = 3;
        f.hex = 0;
        return Step::kTaken;
      }
      if (b != '"' && b != '\\' && b != '/' && b != 'b' && b != 'f' && b != 'n' && b != 'r' && b != 't')
        return Step::kRefused;
      ++f.count;
      f.phase = 1;
      return Step::kTaken;
    case 3: {
      if (!is_hex(b)) return Step::kRefused;
      const int digits = f.hex & 7;
      const bool d = f.hex & 8;
      if (digits == 1 && d && !(b >= '0' && b <= '7')) return Step::kRefused;  // D800-DFFF: a surrogate
      f.hex = static_cast<uint8_t>((digits + 1) | ((digits == 0 && (b == 'd' || b == 'D')) || d ? 8 : 0));
      if (digits + 1 == 4) {
        ++f.count;
        f.phase = 1;
      }
      return Step::kTaken;
    }
  }
  return Step::kRefused;
}

// Phases: 0 start; 1 after '-'; 2 after a leading 0; 3 in the integer
// digits; 4 after '.'; 5 in the fraction. 2, 3 and 5 may end the number.
JsonMatcher::Step JsonMatcher::step_number(Frame& f, bool integer, uint8_t b) {
  const bool accepting = f.phase == 2 || f.phase == 3 || f.phase == 5;
  auto other = [&] { return accepting ? Step::kEnded : Step::kRefused; };
  switch (f.phase) {
    case 0:
    case 1:
      if (b == '-' && f.phase == 0) {
        f.phase = 1;
        return Step::kTaken;
      }
      if (!is_digit(b)) return Step::kRefused;
      f.phase = b == '0' ? 2 : 3;
      f.count = 1;
      return Step::kTaken;
    case 2:
    case 3:
      if (is_digit(b) && f.phase == 3 && f.count < kMaxDigits) {
        ++f.count;
        return Step::kTaken;
      }
      if (b == '.' && !integer) {
        f.phase = 4;
        return Step::kTaken;
      }
      return other();
    case 4:
      if (!is_digit(b)) return Step::kRefused;
      f.phase = 5;
      f.count = 1;
      return Step::kTaken;
    case 5:
      if (is_digit(b) && f.count < kMaxDigits) {
        ++f.count;
        return Step::kTaken;
      }
      return other();
  }
  return Step::kRefused;
}

// Phase 0 before the first byte, 1 after: the literals [lo, hi) match pos bytes.
JsonMatcher::Step JsonMatcher::step_literal(Frame& f, const JsonNode& n, uint8_t b) {
  if (f.phase == 0) {
    f.phase = 1;
    f.lo = 0;
    f.hi = static_cast<int32_t>(n.literals.size());
    f.pos = 0;
  }
  const size_t pos = static_cast<size_t>(f.pos);
  int32_t lo = -1, hi = -1;
  for (int32_t i = f.lo; i < f.hi; ++i) {
    const std::string& l = n.literals[static_cast<size_t>(i)];
    if (l.size() <= pos || static_cast<uint8_t>(l[pos]) != b) continue;
    if (lo < 0) lo = i;
    hi = i + 1;
  }
  if (lo < 0) return frame_accepts(f) ? Step::kEnded : Step::kRefused;
  f.lo = lo;
  f.hi = hi;
  ++f.pos;
  // One literal left and all of it read: nothing can follow within it.
  if (hi - lo == 1 && n.literals[static_cast<size_t>(lo)].size() == pos + 1) {
    --depth_;
    return Step::kTaken;
  }
  return Step::kTaken;
}

}  // namespace frugal::runtime
