// Syntax tree of a parsed Jinja template: expressions and statements.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tokenizer/jinja_value.h"

namespace frugal::tokenizer::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum class Kind {
    Literal,   // value
    Name,      // name
    Attr,      // args[0].name
    Index,     // args[0][args[1]]
    Slice,     // args[0][args[1]:args[2]:args[3]] (null parts allowed)
    Call,      // args[0](args[1..], kwargs)
    Filter,    // args[0] | name(args[1..], kwargs)
    Test,      // args[0] is [not] name(args[1..])
    Unary,     // name ("not", "-", "+") args[0]
    Binary,    // args[0] name args[1]  (or, and, ==, in, not in, +, ~, ...)
    List,      // [args...]
    Tuple,     // (args...)
    Dict,      // {kwargs keys are expressions: args alternate key, value}
    Ternary,   // args[1] if args[0] else args[2]
  };
  Kind kind = Kind::Literal;
  Value value;
  std::string name;
  std::vector<ExprPtr> args;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  bool negated = false;
  int line = 0;
  int depth = 1;  // of the tree below and including this node (the parser bounds it)
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct Stmt {
  enum class Kind { Text, Output, If, For, Set, SetBlock, Macro, Break, Continue, FilterBlock };
  Kind kind = Kind::Text;
  int line = 0;
  std::string text;                 // Text
  ExprPtr expr;                     // Output value, Set value, For iterable, FilterBlock filter
  // If: conditions[i] guards bodies[i]; a trailing extra body is the else.
  std::vector<ExprPtr> conditions;
  std::vector<Body> bodies;
  // For: loop variables, optional `if` filter, body = bodies[0], else = bodies[1].
  std::vector<std::string> targets;  // For / Set (one name, several for unpacking)
  std::string target_attr;           // Set: `set ns.attr = ...` (targets[0] = ns)
  ExprPtr filter;
  // Macro: name in text, parameters with optional defaults, body = bodies[0].
  std::vector<std::pair<std::string, ExprPtr>> params;
};

}  // namespace frugal::tokenizer::jinja
