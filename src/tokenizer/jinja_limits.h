// Bounds on what a chat template may ask of the parser and the evaluator.
// A GGUF file from anywhere carries its own template, and `chat`, `serve` and
// `tokenize --chat-jsonl` render it: the parser and evaluator recurse, so
// without bounds 5,000 nested parentheses or 10,000 chained '+' overflow the
// stack, and a loop that doubles a string exhausts memory. Real templates
// stay far below every bound (nesting under 20, a few KB of source).
#pragma once
#include <cstddef>

namespace frugal::tokenizer::jinja::limits {

inline constexpr size_t kMaxSourceBytes = size_t(1) << 20;
// Recursion of the parser: expression levels (parentheses, lists, calls,
// unary operators) and statement blocks ({% if %} inside {% for %} ...).
inline constexpr int kMaxParseNesting = 256;
// Depth of one expression's syntax tree: a chain of 300 '+' or of 300
// filters is as deep as 300 nested parentheses once parsed.
inline constexpr int kMaxExpressionDepth = 256;
// Recursion of the evaluator: expressions, statement blocks and macro calls
// together (a recursive macro multiplies the depth of its body).
inline constexpr int kMaxEvalNesting = 512;
// Nesting of lists and dicts built while rendering or passed in the context.
inline constexpr int kMaxValueDepth = 128;
// Largest string or list one expression may produce, and largest output.
inline constexpr size_t kMaxStringBytes = size_t(64) << 20;
inline constexpr size_t kMaxListItems = size_t(1) << 20;
inline constexpr size_t kMaxOutputBytes = size_t(64) << 20;
// Expressions, statements and loop iterations evaluated in one render: a
// base plus a share per value of the context, so that a long conversation
// always renders while a template that would loop for hours (nested range()
// loops) ends in an error within about a second.
inline constexpr long long kBaseSteps = 100'000;
inline constexpr long long kStepsPerContextValue = 200;

}  // namespace frugal::tokenizer::jinja::limits
