// Jinja subset: lexing into text and tag tokens, then recursive-descent
// parsing with Jinja's operator precedence.
#include "tokenizer/jinja_parser.h"

#include <algorithm>
#include <cctype>
#include <string>

#include "base/error.h"
#include "tokenizer/jinja_limits.h"

namespace frugal::tokenizer::jinja {
namespace {

// Hugging Face renders chat templates with trim_blocks and lstrip_blocks and
// drops one trailing newline; these are applied to the source first.
std::string preprocess(std::string_view in) {
  std::string s(in);
  if (!s.empty() && s.back() == '\n') s.pop_back();
  // lstrip_blocks: blanks between a line start and a block or comment tag go.
  std::string out;
  for (size_t i = 0; i < s.size();) {
    if (i == 0 || s[i - 1] == '\n') {
      size_t j = i;
      while (j < s.size() && (s[j] == ' ' || s[j] == '\t')) ++j;
      if (j + 1 < s.size() && s[j] == '{' && (s[j + 1] == '%' || s[j + 1] == '#' || s[j + 1] == '-')) i = j;
    }
    out += s[i++];
    // (a blank run not followed by a tag is copied character by character)
  }
  // trim_blocks: the first newline after a block or comment tag goes.
  std::string res;
  for (size_t i = 0; i < out.size(); ++i) {
    res += out[i];
    if (out[i] == '}' && i > 0 && (out[i - 1] == '%' || out[i - 1] == '#' || out[i - 1] == '-') &&
        i + 1 < out.size() && out[i + 1] == '\n')
      ++i;
  }
  return res;
}

struct Token {
  enum class Kind { Text, OutOpen, OutClose, StmtOpen, StmtClose, Name, Int, Float, String, Op };
  Kind kind;
  std::string text;
  int line;
};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::vector<Token> lex(const std::string& s) {
  std::vector<Token> toks;
  size_t i = 0;
  int line = 1;
  bool trim_next_text = false;
  auto count_lines = [&](size_t from, size_t to) {
    for (size_t k = from; k < to; ++k) line += s[k] == '\n';
  };
  while (i < s.size()) {
    // Text up to the next tag opener.
    size_t open = i;
    while (open < s.size() && !(s[open] == '{' && open + 1 < s.size() &&
                                (s[open + 1] == '{' || s[open + 1] == '%' || s[open + 1] == '#')))
      ++open;
    std::string text = s.substr(i, open - i);
    if (trim_next_text) {
      size_t k = 0;
      while (k < text.size() && is_space(text[k])) ++k;
      text.erase(0, k);
      trim_next_text = false;
    }
    bool trim_before = open + 2 < s.size() && s[open + 2] == '-';
    if (trim_before)
      while (!text.empty() && is_space(text.back())) text.pop_back();
    if (!text.empty()) toks.push_back({Token::Kind::Text, text, line});
    count_lines(i, open);
    if (open >= s.size()) break;
    char kind = s[open + 1];
    i = open + 2 + (trim_before ? 1 : 0);
    if (kind == '#') {
      size_t close = s.find("#}", i);
      if (close == std::string::npos) fail("chat template: line ", line, ": comment '{#' is never closed");
      trim_next_text = close > 0 && s[close - 1] == '-';
      count_lines(i, close + 2);
      i = close + 2;
      continue;
    }
    const bool is_out = kind == '{';
    toks.push_back({is_out ? Token::Kind::OutOpen : Token::Kind::StmtOpen, "", line});
    const char closer = is_out ? '}' : '%';
    for (;;) {
      while (i < s.size() && is_space(s[i])) { line += s[i] == '\n'; ++i; }
      if (i >= s.size()) fail("chat template: line ", line, ": tag is never closed");
      char c = s[i];
      // Closer, with optional '-'.
      if (c == '-' && i + 2 < s.size() + 0 && s[i + 1] == closer && s[i + 2] == '}') {
        trim_next_text = true;
        i += 3;
        break;
      }
      if (c == closer && i + 1 < s.size() && s[i + 1] == '}') {
        i += 2;
        break;
      }
      if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
        size_t k = i;
        while (k < s.size() && (std::isalnum(static_cast<unsigned char>(s[k])) || s[k] == '_')) ++k;
        toks.push_back({Token::Kind::Name, s.substr(i, k - i), line});
        i = k;
      } else if (std::isdigit(static_cast<unsigned char>(c))) {
        size_t k = i;
        while (k < s.size() && (std::isdigit(static_cast<unsigned char>(s[k])) || s[k] == '_')) ++k;
        bool is_float = false;
        if (k + 1 < s.size() && s[k] == '.' && std::isdigit(static_cast<unsigned char>(s[k + 1]))) {
          is_float = true;
          ++k;
          while (k < s.size() && std::isdigit(static_cast<unsigned char>(s[k]))) ++k;
        }
        std::string num;
        for (size_t q = i; q < k; ++q)
          if (s[q] != '_') num += s[q];
        toks.push_back({is_float ? Token::Kind::Float : Token::Kind::Int, num, line});
        i = k;
      } else if (c == '\'' || c == '"') {
        std::string str;
        size_t k = i + 1;
        for (;; ++k) {
          if (k >= s.size()) fail("chat template: line ", line, ": string literal is never closed");
          if (s[k] == c) break;
          if (s[k] == '\\' && k + 1 < s.size()) {
            char e = s[++k];
            switch (e) {
              case 'n': str += '\n'; break;
              case 't': str += '\t'; break;
              case 'r': str += '\r'; break;
              case 'b': str += '\b'; break;
              case 'f': str += '\f'; break;
              case '\\': str += '\\'; break;
              case '\'': str += '\''; break;
              case '"': str += '"'; break;
              default: str += '\\'; str += e;
            }
            continue;
          }
          line += s[k] == '\n';
          str += s[k];
        }
        toks.push_back({Token::Kind::String, str, line});
        i = k + 1;
      } else {
        static const char* kOps[] = {"//", "**", "==", "!=", "<=", ">=", "(", ")", "[", "]", "{", "}", ".", ",",
                                     ":", "|", "~", "+", "-", "*", "/", "%", "=", "<", ">"};
        bool found = false;
        for (const char* op : kOps) {
          size_t n = std::char_traits<char>::length(op);
          if (s.compare(i, n, op) == 0) {
            toks.push_back({Token::Kind::Op, op, line});
            i += n;
            found = true;
            break;
          }
        }
        if (!found) fail("chat template: line ", line, ": unexpected character '", std::string(1, c), "'");
      }
    }
    toks.push_back({is_out ? Token::Kind::OutClose : Token::Kind::StmtClose, "", line});
  }
  return toks;
}

class Parser {
 public:
  explicit Parser(std::vector<Token> toks) : t_(std::move(toks)) {}

  Body parse_all() {
    std::string end;
    Body b = parse_body({}, end);
    return b;
  }

 private:
  std::vector<Token> t_;
  size_t p_ = 0;
  int nesting_ = 0;

  // Counts one level of parser recursion for as long as it lives.
  class Nest {
   public:
    explicit Nest(Parser& p) : p_(p) {
      if (++p_.nesting_ > limits::kMaxParseNesting)
        fail("chat template: line ", p_.line(), ": nested too deeply (more than ", limits::kMaxParseNesting, " levels)");
    }
    ~Nest() { --p_.nesting_; }
    Nest(const Nest&) = delete;
    Nest& operator=(const Nest&) = delete;

   private:
    Parser& p_;
  };

  // Records a finished node's depth; a tree deeper than the evaluator may
  // recurse is refused here, while it is still cheap to free.
  ExprPtr seal(ExprPtr e) {
    int below = 0;
    for (const ExprPtr& a : e->args)
      if (a) below = std::max(below, a->depth);
    for (const auto& kv : e->kwargs)
      if (kv.second) below = std::max(below, kv.second->depth);
    e->depth = below + 1;
    if (e->depth > limits::kMaxExpressionDepth)
      fail("chat template: line ", e->line, ": expression nested too deeply (more than ", limits::kMaxExpressionDepth,
           " levels)");
    return e;
  }

  const Token& peek(size_t k = 0) const {
    static const Token kEnd{Token::Kind::StmtClose, "<end of template>", 0};
    return p_ + k < t_.size() ? t_[p_ + k] : kEnd;
  }
  int line() const { return peek().line; }
  bool at_end() const { return p_ >= t_.size(); }
  bool is_op(const char* op, size_t k = 0) const { return peek(k).kind == Token::Kind::Op && peek(k).text == op; }
  bool is_name(const char* n, size_t k = 0) const { return peek(k).kind == Token::Kind::Name && peek(k).text == n; }
  void expect_op(const char* op) {
    if (!is_op(op)) fail("chat template: line ", line(), ": expected '", op, "', found '", peek().text, "'");
    ++p_;
  }
  std::string expect_name() {
    if (peek().kind != Token::Kind::Name) fail("chat template: line ", line(), ": expected a name, found '", peek().text, "'");
    return t_[p_++].text;
  }
  void expect_stmt_close() {
    if (peek().kind != Token::Kind::StmtClose)
      fail("chat template: line ", line(), ": expected '%}', found '", peek().text, "'");
    ++p_;
  }

  // Statements until one of `ends` (a tag name) is reached; that tag's name
  // is returned in `end` with the parser just after the tag name.
  Body parse_body(const std::vector<std::string>& ends, std::string& end) {
    Nest nest(*this);
    Body body;
    while (!at_end()) {
      const Token& tk = peek();
      if (tk.kind == Token::Kind::Text) {
        auto s = std::make_unique<Stmt>();
        s->kind = Stmt::Kind::Text;
        s->text = tk.text;
        s->line = tk.line;
        body.push_back(std::move(s));
        ++p_;
      } else if (tk.kind == Token::Kind::OutOpen) {
        ++p_;
        auto s = std::make_unique<Stmt>();
        s->kind = Stmt::Kind::Output;
        s->line = tk.line;
        s->expr = parse_expr();
        if (peek().kind != Token::Kind::OutClose)
          fail("chat template: line ", line(), ": expected '}}', found '", peek().text, "'");
        ++p_;
        body.push_back(std::move(s));
      } else if (tk.kind == Token::Kind::StmtOpen) {
        ++p_;
        std::string tag = expect_name();
        for (const std::string& e : ends)
          if (tag == e) { end = tag; return body; }
        StmtPtr s = parse_statement(tag, tk.line);
        if (s) body.push_back(std::move(s));
      } else {
        fail("chat template: line ", tk.line, ": unexpected '", tk.text, "'");
      }
    }
    if (!ends.empty()) fail("chat template: missing '{% ", ends.back(), " %}' at the end of the template");
    return body;
  }

  StmtPtr parse_statement(const std::string& tag, int ln) {
    auto s = std::make_unique<Stmt>();
    s->line = ln;
    if (tag == "if") {
      s->kind = Stmt::Kind::If;
      s->conditions.push_back(parse_expr());
      expect_stmt_close();
      for (;;) {
        std::string end;
        s->bodies.push_back(parse_body({"elif", "else", "endif"}, end));
        if (end == "elif") {
          s->conditions.push_back(parse_expr());
          expect_stmt_close();
        } else if (end == "else") {
          expect_stmt_close();
          s->bodies.push_back(parse_body({"endif"}, end));
          expect_stmt_close();
          break;
        } else {
          expect_stmt_close();
          break;
        }
      }
    } else if (tag == "for") {
      s->kind = Stmt::Kind::For;
      s->targets.push_back(expect_name());
      while (is_op(",")) { ++p_; s->targets.push_back(expect_name()); }
      if (!is_name("in")) fail("chat template: line ", line(), ": expected 'in' in for loop");
      ++p_;
      s->expr = parse_ternary_free();
      if (is_name("if")) { ++p_; s->filter = parse_ternary_free(); }
      if (is_name("recursive")) fail("chat template: line ", ln, ": recursive for loops are not supported");
      expect_stmt_close();
      std::string end;
      s->bodies.push_back(parse_body({"else", "endfor"}, end));
      if (end == "else") {
        expect_stmt_close();
        s->bodies.push_back(parse_body({"endfor"}, end));
      }
      expect_stmt_close();
    } else if (tag == "set") {
      s->targets.push_back(expect_name());
      if (is_op(".")) { ++p_; s->target_attr = expect_name(); }
      while (is_op(",")) { ++p_; s->targets.push_back(expect_name()); }
      if (is_op("=")) {
        ++p_;
        s->kind = Stmt::Kind::Set;
        s->expr = parse_expr();
        expect_stmt_close();
      } else {
        s->kind = Stmt::Kind::SetBlock;
        expect_stmt_close();
        std::string end;
        s->bodies.push_back(parse_body({"endset"}, end));
        expect_stmt_close();
      }
    } else if (tag == "macro") {
      s->kind = Stmt::Kind::Macro;
      s->text = expect_name();
      expect_op("(");
      while (!is_op(")")) {
        std::string pname = expect_name();
        ExprPtr def;
        if (is_op("=")) { ++p_; def = parse_expr(); }
        s->params.emplace_back(pname, std::move(def));
        if (is_op(",")) ++p_;
        else if (!is_op(")")) fail("chat template: line ", line(), ": expected ',' or ')' in macro parameters");
      }
      ++p_;
      expect_stmt_close();
      std::string end;
      s->bodies.push_back(parse_body({"endmacro"}, end));
      expect_stmt_close();
    } else if (tag == "break" || tag == "continue") {
      s->kind = tag == "break" ? Stmt::Kind::Break : Stmt::Kind::Continue;
      expect_stmt_close();
    } else if (tag == "filter") {
      s->kind = Stmt::Kind::FilterBlock;
      // The filter is applied to the block's text: parsed as `x | name(args)`.
      auto f = std::make_unique<Expr>();
      f->kind = Expr::Kind::Filter;
      f->line = ln;
      f->name = expect_name();
      f->args.push_back(nullptr);  // the block text goes here
      if (is_op("(")) parse_call_args(*f);
      s->expr = seal(std::move(f));
      expect_stmt_close();
      std::string end;
      s->bodies.push_back(parse_body({"endfilter"}, end));
      expect_stmt_close();
    } else if (tag == "generation" || tag == "endgeneration") {
      expect_stmt_close();  // training-time marker: renders nothing
      return nullptr;
    } else {
      fail("chat template: line ", ln, ": the tag '{% ", tag, " %}' is not supported");
    }
    return s;
  }

  ExprPtr make(Expr::Kind k, int ln) {
    auto e = std::make_unique<Expr>();
    e->kind = k;
    e->line = ln;
    return e;
  }

  // expr := or_expr ['if' or_expr ['else' expr]]
  ExprPtr parse_expr() {
    Nest nest(*this);
    ExprPtr e = parse_or();
    if (is_name("if")) {
      int ln = line();
      ++p_;
      auto t = make(Expr::Kind::Ternary, ln);
      ExprPtr cond = parse_or();
      ExprPtr other;
      if (is_name("else")) { ++p_; other = parse_expr(); }
      else { other = make(Expr::Kind::Literal, ln); }  // undefined
      t->args.push_back(std::move(cond));
      t->args.push_back(std::move(e));
      t->args.push_back(std::move(other));
      return seal(std::move(t));
    }
    return e;
  }
  // For-loop iterables and filters: no ternary (its 'if' belongs to the loop).
  ExprPtr parse_ternary_free() { return parse_or(); }

  ExprPtr binary(const std::string& op, ExprPtr l, ExprPtr r, int ln) {
    auto b = make(Expr::Kind::Binary, ln);
    b->name = op;
    b->args.push_back(std::move(l));
    b->args.push_back(std::move(r));
    return seal(std::move(b));
  }
  ExprPtr parse_or() {
    ExprPtr l = parse_and();
    while (is_name("or")) { int ln = line(); ++p_; l = binary("or", std::move(l), parse_and(), ln); }
    return l;
  }
  ExprPtr parse_and() {
    ExprPtr l = parse_not();
    while (is_name("and")) { int ln = line(); ++p_; l = binary("and", std::move(l), parse_not(), ln); }
    return l;
  }
  ExprPtr parse_not() {
    if (is_name("not")) {
      Nest nest(*this);
      int ln = line();
      ++p_;
      auto u = make(Expr::Kind::Unary, ln);
      u->name = "not";
      u->args.push_back(parse_not());
      return seal(std::move(u));
    }
    return parse_compare();
  }
  ExprPtr parse_compare() {
    ExprPtr l = parse_math1();
    for (;;) {
      int ln = line();
      std::string op;
      if (peek().kind == Token::Kind::Op &&
          (peek().text == "==" || peek().text == "!=" || peek().text == "<" || peek().text == ">" ||
           peek().text == "<=" || peek().text == ">=")) {
        op = peek().text;
        ++p_;
      } else if (is_name("in")) {
        op = "in";
        ++p_;
      } else if (is_name("not") && is_name("in", 1)) {
        op = "not in";
        p_ += 2;
      } else {
        return l;
      }
      l = binary(op, std::move(l), parse_math1(), ln);
    }
  }
  ExprPtr parse_math1() {
    ExprPtr l = parse_concat();
    while (is_op("+") || is_op("-")) {
      int ln = line();
      std::string op = t_[p_++].text;
      l = binary(op, std::move(l), parse_concat(), ln);
    }
    return l;
  }
  ExprPtr parse_concat() {
    ExprPtr l = parse_math2();
    while (is_op("~")) { int ln = line(); ++p_; l = binary("~", std::move(l), parse_math2(), ln); }
    return l;
  }
  ExprPtr parse_math2() {
    ExprPtr l = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      int ln = line();
      std::string op = t_[p_++].text;
      l = binary(op, std::move(l), parse_pow(), ln);
    }
    return l;
  }
  ExprPtr parse_pow() {
    ExprPtr l = parse_unary();
    while (is_op("**")) { int ln = line(); ++p_; l = binary("**", std::move(l), parse_unary(), ln); }
    return l;
  }
  // As in Jinja, a filter or test applies to the signed operand: `-3 | abs` is 3.
  ExprPtr parse_unary(bool with_filters = true) {
    ExprPtr e;
    if (is_op("-") || is_op("+")) {
      Nest nest(*this);
      int ln = line();
      auto u = make(Expr::Kind::Unary, ln);
      u->name = t_[p_++].text;
      u->args.push_back(parse_unary(false));
      e = seal(std::move(u));
    } else {
      e = parse_postfix(parse_primary());
    }
    return with_filters ? parse_filters_and_tests(std::move(e)) : std::move(e);
  }

  void parse_call_args(Expr& call) {
    expect_op("(");
    while (!is_op(")")) {
      if (peek().kind == Token::Kind::Name && is_op("=", 1)) {
        std::string k = t_[p_].text;
        p_ += 2;
        call.kwargs.emplace_back(k, parse_expr());
      } else {
        call.args.push_back(parse_expr());
      }
      if (is_op(",")) ++p_;
      else if (!is_op(")")) fail("chat template: line ", line(), ": expected ',' or ')' in call arguments");
    }
    ++p_;
  }

  ExprPtr parse_postfix(ExprPtr e) {
    for (;;) {
      int ln = line();
      if (is_op(".")) {
        ++p_;
        auto a = make(Expr::Kind::Attr, ln);
        if (peek().kind == Token::Kind::Int) a->name = t_[p_++].text;  // x.0
        else a->name = expect_name();
        a->args.push_back(std::move(e));
        e = seal(std::move(a));
      } else if (is_op("[")) {
        ++p_;
        ExprPtr parts[3];
        int colons = 0;
        if (!is_op(":")) parts[0] = parse_expr();
        while (is_op(":") && colons < 2) {
          ++p_;
          ++colons;
          if (!is_op(":") && !is_op("]")) parts[colons] = parse_expr();
        }
        expect_op("]");
        auto x = make(colons ? Expr::Kind::Slice : Expr::Kind::Index, ln);
        x->args.push_back(std::move(e));
        if (!colons && !parts[0]) fail("chat template: line ", ln, ": empty subscript '[]'");
        for (int k = 0; k < (colons ? 3 : 1); ++k) x->args.push_back(std::move(parts[k]));
        e = seal(std::move(x));
      } else if (is_op("(")) {
        auto c = make(Expr::Kind::Call, ln);
        c->args.push_back(std::move(e));
        parse_call_args(*c);
        e = seal(std::move(c));
      } else {
        return e;
      }
    }
  }

  ExprPtr parse_filters_and_tests(ExprPtr e) {
    for (;;) {
      int ln = line();
      if (is_op("|")) {
        ++p_;
        auto f = make(Expr::Kind::Filter, ln);
        f->name = expect_name();
        f->args.push_back(std::move(e));
        if (is_op("(")) parse_call_args(*f);
        e = parse_postfix(seal(std::move(f)));
      } else if (is_name("is")) {
        ++p_;
        auto t = make(Expr::Kind::Test, ln);
        if (is_name("not")) { ++p_; t->negated = true; }
        // `none`, `true` and `false` are test names here.
        t->name = expect_name();
        t->args.push_back(std::move(e));
        if (is_op("(")) {
          parse_call_args(*t);
        } else if (peek().kind == Token::Kind::String || peek().kind == Token::Kind::Int ||
                   peek().kind == Token::Kind::Float ||
                   (peek().kind == Token::Kind::Name && !is_name("and") && !is_name("or") && !is_name("if") &&
                    !is_name("else") && !is_name("is") && !is_name("in") && !is_name("not"))) {
          t->args.push_back(parse_primary());  // `x is divisibleby 3`, `x is sameas y`
        }
        e = seal(std::move(t));
      } else {
        return e;
      }
    }
  }

  ExprPtr parse_primary() {
    const Token& tk = peek();
    int ln = tk.line;
    switch (tk.kind) {
      case Token::Kind::String: {
        std::string s = tk.text;
        ++p_;
        while (peek().kind == Token::Kind::String) s += t_[p_++].text;  // adjacent literals join
        auto e = make(Expr::Kind::Literal, ln);
        e->value = Value::string(s);
        return e;
      }
      case Token::Kind::Int: {
        auto e = make(Expr::Kind::Literal, ln);
        try {
          e->value = Value::integer(std::stoll(tk.text));
        } catch (const std::exception&) {
          fail("chat template: line ", ln, ": integer literal ", tk.text, " is out of range");
        }
        ++p_;
        return e;
      }
      case Token::Kind::Float: {
        auto e = make(Expr::Kind::Literal, ln);
        e->value = Value::number(std::stod(tk.text));
        ++p_;
        return e;
      }
      case Token::Kind::Name: {
        ++p_;
        auto e = make(Expr::Kind::Literal, ln);
        if (tk.text == "true" || tk.text == "True") { e->value = Value::boolean(true); return e; }
        if (tk.text == "false" || tk.text == "False") { e->value = Value::boolean(false); return e; }
        if (tk.text == "none" || tk.text == "None") { e->value = Value::none(); return e; }
        e->kind = Expr::Kind::Name;
        e->name = tk.text;
        return e;
      }
      case Token::Kind::Op: {
        if (tk.text == "(") {
          ++p_;
          if (is_op(")")) { ++p_; return make(Expr::Kind::Tuple, ln); }
          ExprPtr first = parse_expr();
          if (is_op(")")) { ++p_; return first; }
          auto t = make(Expr::Kind::Tuple, ln);
          t->args.push_back(std::move(first));
          while (is_op(",")) {
            ++p_;
            if (is_op(")")) break;
            t->args.push_back(parse_expr());
          }
          expect_op(")");
          return seal(std::move(t));
        }
        if (tk.text == "[") {
          ++p_;
          auto l = make(Expr::Kind::List, ln);
          while (!is_op("]")) {
            l->args.push_back(parse_expr());
            if (is_op(",")) ++p_;
            else if (!is_op("]")) fail("chat template: line ", line(), ": expected ',' or ']' in list");
          }
          ++p_;
          return seal(std::move(l));
        }
        if (tk.text == "{") {
          ++p_;
          auto d = make(Expr::Kind::Dict, ln);
          while (!is_op("}")) {
            d->args.push_back(parse_expr());
            expect_op(":");
            d->args.push_back(parse_expr());
            if (is_op(",")) ++p_;
            else if (!is_op("}")) fail("chat template: line ", line(), ": expected ',' or '}' in dict");
          }
          ++p_;
          return seal(std::move(d));
        }
        break;
      }
      default: break;
    }
    fail("chat template: line ", ln, ": unexpected '", tk.text.empty() ? "end of tag" : tk.text, "' in an expression");
  }
};

}  // namespace

Body parse_template(std::string_view source) {
  if (source.size() > limits::kMaxSourceBytes)
    fail("chat template: ", source.size(), " bytes is longer than the ", limits::kMaxSourceBytes, " allowed");
  return Parser(lex(preprocess(source))).parse_all();
}

}  // namespace frugal::tokenizer::jinja
