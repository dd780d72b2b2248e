// Structured output: a JSON Schema (or "any JSON object") compiled once per
// request into a graph of value nodes, and a byte-level matcher over it that
// says, byte by byte, whether the text so far can still become a value the
// schema accepts. The sampler masks the tokens whose bytes the matcher
// refuses (token_constraint.h), so the output always parses and matches.
//
// The text the matcher accepts is compact JSON: no whitespace except one
// optional space after ':' and ','; numbers without exponents and with at most
// 15 digits before and after the point; no \u escape of a surrogate. Every
// value it accepts is one the schema accepts, and the matcher never reaches a
// state from which no byte can go on (each object can still close, each string
// end), so a constrained completion always ends with whole JSON unless
// max_tokens cuts it first.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace frugal::runtime {

struct JsonNode {
  enum class Kind : uint8_t { kObject, kArray, kString, kNumber, kInteger, kLiteral, kUnion, kRef };
  Kind kind = Kind::kLiteral;
  // kObject: properties by their JSON-quoted names, sorted by those bytes
  // (keys are matched as literals); `free_values` >= 0: an object of any
  // string keys, each value that node (no properties then).
  std::vector<std::string> keys{};
  std::vector<int32_t> key_values{};
  uint64_t required = 0;  // bit i: keys[i] is required
  int32_t free_values = -1;
  // kArray: the items' node; kObject map: the keys' string node; kRef: the node it names
  int32_t items = -1;
  // kArray: items, kString: characters (code points, an escape counting as one)
  int64_t min_count = 0, max_count = INT64_MAX;
  // kLiteral: the compact JSON texts the value may be (enum, const, true, ...), sorted
  std::vector<std::string> literals{};
  // kUnion: the alternative that each first byte starts (-1: none)
  std::array<int32_t, 256> by_first_byte{};
};

// The compiled schema: nodes[root] is the whole value.
struct JsonGrammar {
  std::vector<JsonNode> nodes;
  int32_t root = 0;
  // Raw texts of which one must come before the value, matched as bytes
  // (special tokens included); empty: the value comes at once. A forced tool
  // call uses them for the function's name in its family's markers, each
  // followed by that function's arguments: lead_in_values[i] is the value's
  // grammar after lead_ins[i] (this one's nodes where it is null or absent).
  std::vector<std::string> lead_ins{};
  std::vector<std::shared_ptr<const JsonGrammar>> lead_in_values{};
};

// response_format {"type": "json_object"}: any JSON object.
JsonGrammar json_object_grammar();

// A JSON Schema: type (a name or a list), properties, required,
// additionalProperties (false, true or absent: no other keys are generated;
// a schema with no properties: a map of that value), items, minItems,
// maxItems, enum, const, minLength, maxLength, anyOf (alternatives that begin
// with different characters), $ref to "#", "#/$defs/NAME" or
// "#/definitions/NAME". Annotations (title, description, default, examples,
// $schema, $id, $comment) are ignored. Any other keyword, or a schema no
// value can match, -> frugal::Error naming it.
JsonGrammar compile_json_schema(const nlohmann::ordered_json& schema);

// Where the matcher stands: a stack of the values being read, innermost last.
class JsonMatcher {
 public:
  static constexpr int kMaxDepth = 32;  // nesting deeper than this is refused

  explicit JsonMatcher(const JsonGrammar& g);
  // A copy of only the frames in use (a whole copy moves kMaxDepth frames).
  void assign(const JsonMatcher& o);

  // Takes one byte; false (and the state unchanged in meaning, but the
  // matcher must then be discarded or restored from a copy) when no value of
  // the grammar continues that way.
  bool feed(uint8_t b);
  bool feed(std::string_view bytes);
  // The text so far is a whole value of the grammar.
  bool complete() const;
  // Whole, and no byte can follow (the closing brace of the top object): the
  // generation must end here.
  bool closed() const { return depth_ == 0 && started_; }
  // Inside a string's text, between characters: any run of characters
  // without '"', '\\' or control characters may follow, up to `room` of
  // them (false elsewhere).
  bool in_string_text(int64_t& room) const;

 private:
  struct Frame {
    int32_t node;
    uint8_t phase;
    uint8_t spaced;     // the optional space already taken
    uint8_t cont;       // UTF-8 continuation bytes still due in a string
    uint8_t cont_lo, cont_hi;  // the range of the next continuation byte
    uint8_t hex;        // \u digits read
    int32_t lo, hi, pos;  // literal or key candidates [lo, hi) matched to pos bytes
    int32_t key;        // the property whose value is being read
    int64_t count;      // characters, items, or digits
    uint64_t seen;      // properties already given
  };
  enum class Step { kTaken, kRefused, kEnded };  // kEnded: the frame is done, the byte is its parent's

  Step step(Frame& f, uint8_t b);
  Step step_object(Frame& f, const JsonNode& n, uint8_t b);
  Step step_array(Frame& f, const JsonNode& n, uint8_t b);
  Step step_string(Frame& f, const JsonNode& n, uint8_t b);
  Step step_number(Frame& f, bool integer, uint8_t b);
  Step step_literal(Frame& f, const JsonNode& n, uint8_t b);
  bool push(int32_t node);  // false: too deep
  bool frame_accepts(const Frame& f) const;  // the frame's value could end here

  const JsonGrammar* g_;
  std::array<Frame, kMaxDepth> stack_;
  int depth_ = 0;
  bool started_ = false;
};

}  // namespace frugal::runtime
