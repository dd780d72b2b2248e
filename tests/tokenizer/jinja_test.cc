// The Jinja interpreter on each construct chat templates use (with the
// expected text worked out from Jinja's rules and Hugging Face's settings:
// trim_blocks and lstrip_blocks on), and on constructs it does not support:
// each gives a frugal::Error that names the construct.
#include "tokenizer/jinja.h"

#include <gtest/gtest.h>

#include "base/error.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace frugal::tokenizer {
namespace {

using json = nlohmann::ordered_json;

std::string render(const std::string& src, const json& ctx = json::object()) {
  return jinja::Template(src).render(ctx);
}

// The message of the error that parsing or rendering gives ("" when none).
std::string error_of(const std::string& src, const json& ctx = json::object()) {
  try {
    render(src, ctx);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Jinja, TextCommentsAndOutput) {
  EXPECT_EQ(render("plain text"), "plain text");
  EXPECT_EQ(render("a{# a comment #}b"), "ab");
  EXPECT_EQ(render("{{ x }}-{{ 'lit' }}-{{ 3 }}-{{ 2.5 }}", {{"x", "X"}}), "X-lit-3-2.5");
  EXPECT_EQ(render("[{{ missing }}]"), "[]");  // undefined prints as nothing
  // None prints as nothing, as @huggingface/jinja prints it (Python's Jinja
  // would print "None"; chat templates test content before printing it).
  EXPECT_EQ(render("{{ n }}|{{ t }}|{{ f }}", {{"t", true}, {"f", false}, {"n", nullptr}}), "|true|false");
  EXPECT_EQ(render("{{ \"dq\" }}{{ 'a\\nb' }}"), "dqa\nb");
}

TEST(Jinja, IfElifElse) {
  const std::string t = "{% if n > 1 %}many{% elif n == 1 %}one{% else %}none{% endif %}";
  EXPECT_EQ(render(t, {{"n", 5}}), "many");
  EXPECT_EQ(render(t, {{"n", 1}}), "one");
  EXPECT_EQ(render(t, {{"n", 0}}), "none");
  EXPECT_EQ(render("{% if missing %}y{% else %}n{% endif %}"), "n");
  EXPECT_EQ(render("{% if [] %}y{% else %}n{% endif %}{% if 'x' %}y{% endif %}"), "ny");
}

TEST(Jinja, ForLoopVariablesElseAndFilter) {
  json ctx = {{"xs", {"a", "b", "c"}}};
  EXPECT_EQ(render("{% for x in xs %}{{ loop.index }}{{ x }}{% if not loop.last %},{% endif %}{% endfor %}", ctx), "1a,2b,3c");
  EXPECT_EQ(render("{% for x in xs %}{{ loop.index0 }}{{ loop.first }}{{ loop.length }}{% endfor %}", ctx), "0true31false32false3");
  EXPECT_EQ(render("{% for x in xs %}{{ loop.revindex }}{{ loop.previtem }}{% endfor %}", ctx), "32a1b");
  EXPECT_EQ(render("{% for x in [] %}x{% else %}empty{% endfor %}"), "empty");
  EXPECT_EQ(render("{% for x in xs if x != 'b' %}{{ x }}{{ loop.index }}{% endfor %}", ctx), "a1c2");
  EXPECT_EQ(render("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}", {{"d", {{"p", 1}, {"q", 2}}}}), "p=1;q=2;");
  EXPECT_EQ(render("{% for x in xs %}{% if x == 'b' %}{% continue %}{% endif %}{{ x }}{% endfor %}", ctx), "ac");
  EXPECT_EQ(render("{% for x in xs %}{% if x == 'b' %}{% break %}{% endif %}{{ x }}{% endfor %}", ctx), "a");
  EXPECT_EQ(render("{% for c in 'hi' %}[{{ c }}]{% endfor %}"), "[h][i]");
  EXPECT_EQ(render("{% for i in range(3) %}{{ i }}{% endfor %}{% for i in range(1, 7, 2) %}{{ i }}{% endfor %}"), "012135");
}

TEST(Jinja, SetNamespaceAndScope) {
  EXPECT_EQ(render("{% set x = 2 * 3 %}{{ x }}"), "6");
  EXPECT_EQ(render("{% set a, b = [1, 2] %}{{ b }}{{ a }}"), "21");
  EXPECT_EQ(render("{% set s %}in {{ 1 + 1 }}{% endset %}[{{ s }}]"), "[in 2]");
  // A plain set inside a loop does not leak out of it; a namespace does.
  EXPECT_EQ(render("{% set n = 0 %}{% for x in [1, 2] %}{% set n = n + x %}{% endfor %}{{ n }}"), "0");
  EXPECT_EQ(render("{% set ns = namespace(n=0) %}{% for x in [1, 2] %}{% set ns.n = ns.n + x %}{% endfor %}{{ ns.n }}"), "3");
}

TEST(Jinja, Macros) {
  EXPECT_EQ(render("{% macro greet(name, p='Hi') %}{{ p }} {{ name }}{% endmacro %}{{ greet('Ann') }}/{{ greet('Bo', p='Yo') }}"),
            "Hi Ann/Yo Bo");
  EXPECT_NE(error_of("{% macro m(a) %}{% endmacro %}{{ m(b=1) }}").find("no parameter 'b'"), std::string::npos);
}

TEST(Jinja, FilterBlock) {
  EXPECT_EQ(render("{% filter upper %}abc {{ x }}{% endfilter %}", {{"x", "d"}}), "ABC D");
}

TEST(Jinja, WhitespaceControl) {
  // trim_blocks: the newline after a block tag goes; lstrip_blocks: the
  // spaces before it on its line go. "-" strips all white space on that side.
  EXPECT_EQ(render("{% if true %}\nyes\n{% endif %}\n"), "yes\n");
  EXPECT_EQ(render("a\n    {% if true %}b{% endif %}"), "a\nb");
  EXPECT_EQ(render("a  \n  {{- 'b' -}}  \n  c"), "abc");
  EXPECT_EQ(render("x {%- if true -%} y {%- endif %}"), "xy");
  EXPECT_EQ(render("{{ 'a' }}\n{{ 'b' }}"), "a\nb");  // expression tags keep their newline
}

TEST(Jinja, OperatorsAndLiterals) {
  EXPECT_EQ(render("{{ 7 // 2 }} {{ 7 % 3 }} {{ 2 ** 10 }} {{ 7 / 2 }} {{ -3 + 1 }} {{ 2 * 3 + 1 }}"), "3 1 1024 3.5 -2 7");
  EXPECT_EQ(render("{{ 'a' + 'b' }}{{ 'x' ~ 1 }}{{ 'ab' * 2 }}"), "abx1abab");
  EXPECT_EQ(render("{{ 1 < 2 and 2 <= 2 }} {{ 1 > 2 or not false }} {{ 'b' in 'abc' }} {{ 4 not in [1, 2] }}"),
            "true true true true");
  EXPECT_EQ(render("{{ [1, 2] + [3] }} {{ (1, 2)[1] }} {{ {'k': 'v'}['k'] }} {{ {'k': 'v'}.k }}"), "[1, 2, 3] 2 v v");
  EXPECT_EQ(render("{{ 'yes' if x else 'no' }}{{ 'y' if 0 }}|", {{"x", 1}}), "yes|");
  EXPECT_EQ(render("{{ 'hello'[1:3] }} {{ 'hello'[::-1] }} {{ [1, 2, 3][-1] }} {{ [1, 2, 3, 4][1:] }}"), "el olleh 3 [2, 3, 4]");
  EXPECT_EQ(render("{{ m.role }}{{ m['content'] }}{{ m.missing is defined }}", {{"m", {{"role", "user"}, {"content", "c"}}}}),
            "userc" "false");
}

TEST(Jinja, Filters) {
  EXPECT_EQ(render("{{ '  a b  ' | trim }}|{{ 'Ab' | upper }}{{ 'Ab' | lower }}|{{ 'hello world' | title }}|{{ 'abc' | capitalize }}"),
            "a b|ABab|Hello World|Abc");
  EXPECT_EQ(render("{{ xs | length }} {{ 'abcd' | length }} {{ xs | first }} {{ xs | last }} {{ xs | join('-') }}",
                   {{"xs", {"a", "b", "c"}}}),
            "3 4 a c a-b-c");
  EXPECT_EQ(render("{{ missing | default('dflt') }} {{ 'set' | default('dflt') }}"), "dflt set");
  EXPECT_EQ(render("{{ d | tojson }}", {{"d", {{"a", 1}, {"b", {true, nullptr, "q\"x"}}}}}),
            "{\"a\": 1, \"b\": [true, null, \"q\\\"x\"]}");
  EXPECT_EQ(render("{{ 'a-b' | replace('-', '+') }} {{ '42' | int + 1 }} {{ '2.5' | float }} {{ -3 | abs }} {{ 7 | string ~ '!' }}"),
            "a+b 43 2.5 3 7!");
  // A filter applies to the signed operand, as Jinja parses it: (-x) | abs.
  EXPECT_EQ(render("{{ -x | abs }} {{ -x | string | length }} {{ -x is number }}", {{"x", 4}}), "4 2 true");
  EXPECT_EQ(render("{{ [3, 1, 2] | reverse | list }} {{ [1, 1, 2, 1] | unique | list }}"), "[2, 1, 3] [1, 2]");
  EXPECT_EQ(render("{{ ms | map(attribute='role') | join(',') }}|{{ ms | selectattr('role', 'equalto', 'user') | map(attribute='c') | join }}|"
                   "{{ ms | rejectattr('role', 'equalto', 'user') | list | length }}",
                   {{"ms", {{{"role", "user"}, {"c", "1"}}, {{"role", "tool"}, {"c", "2"}}, {{"role", "user"}, {"c", "3"}}}}}),
            "user,tool,user|13|1");
  EXPECT_EQ(render("{% for k, v in d | dictsort %}{{ k }}{{ v }}{% endfor %}", {{"d", {{"b", 2}, {"a", 1}}}}), "a1b2");
  EXPECT_EQ(render("{{ 'a\nb' | indent(2) }}"), "a\n  b");
  EXPECT_EQ(render("{{ '<x>' | e }}"), "&lt;x&gt;");
}

TEST(Jinja, Tests) {
  EXPECT_EQ(render("{{ x is defined }}{{ y is undefined }}{{ n is none }}{{ x is string }}{{ 3 is number }}",
                   {{"x", "s"}, {"n", nullptr}}),
            "truetruetruetruetrue");
  EXPECT_EQ(render("{{ 3 is odd }}{{ 4 is even }}{{ 9 is divisibleby(3) }}{{ 2 is integer }}{{ 2.0 is float }}"),
            "truetruetruetruetrue");
  EXPECT_EQ(render("{{ d is mapping }}{{ xs is iterable }}{{ 'b' is in 'abc' }}{{ x is not none }}{{ true is boolean }}",
                   {{"d", json::object()}, {"xs", json::array()}, {"x", 1}}),
            "truetruetruetruetrue");
}

TEST(Jinja, StringAndContainerMethods) {
  EXPECT_EQ(render("{{ s.startswith('<th') }}{{ s.endswith('>') }}{{ s.strip('<>') }}", {{"s", "<think>"}}), "truetruethink");
  EXPECT_EQ(render("{{ 'a,b,c'.split(',') | length }}{{ ' x '.lstrip() }}|{{ 'abcb'.replace('b', 'B') }}{{ 'abc'.find('c') }}"),
            "3x |aBcB2");
  EXPECT_EQ(render("{{ 'hi'.upper() }}{{ '-'.join(['a', 'b']) }}{{ d.get('k', 'none') }}{{ d.keys() | list | length }}",
                   {{"d", {{"a", 1}}}}),
            "HIa-bnone1");
  EXPECT_EQ(render("{% set xs = [1] %}{% set _ = xs.append(2) %}{{ xs }}{{ xs.pop() }}{{ xs }}"), "[1, 2]2[1]");
}

TEST(Jinja, ChatMlTemplateThroughTheVocabulary) {
  gguf::Metadata md;
  md.set("tokenizer.ggml.tokens", gguf::Value::make_string_array({"<|endoftext|>", "<|im_start|>", "<|im_end|>"}));
  md.set("tokenizer.ggml.eos_token_id", gguf::Value::make_u32(2));
  md.set("tokenizer.chat_template",
         gguf::Value::make_string("{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
                                  "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}[{{ eos_token }}]"));
  std::vector<ChatMessage> msgs = {{"system", "Be brief.", ""}, {"user", "Hi", ""}};
  EXPECT_EQ(apply_chat_template(md, msgs, true),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n[<|im_end|>]");
  EXPECT_EQ(apply_chat_template(md, msgs, false),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n[<|im_end|>]");
}

TEST(Jinja, RaiseExceptionCarriesItsMessage) {
  std::string e = error_of("{% if messages | length == 0 %}{{ raise_exception('No messages given') }}{% endif %}",
                           {{"messages", json::array()}});
  EXPECT_NE(e.find("No messages given"), std::string::npos) << e;
}

// Each unsupported construct or bad template: a frugal::Error whose message
// names the construct (and the line, where there is one).
TEST(Jinja, UnsupportedConstructsAreNamed) {
  struct Case { std::string src, must_contain; };
  const std::vector<Case> cases = {
      {"{% include 'other.j2' %}", "include"},
      {"{% extends 'base' %}", "extends"},
      {"{% block b %}{% endblock %}", "block"},
      {"{% import 'm' as m %}", "import"},
      {"{% call m() %}{% endcall %}", "call"},
      {"{% for x in xs recursive %}{% endfor %}", "recursive"},
      {"{{ 'a b' | wordcount }}", "wordcount"},
      {"{{ 3 is prime }}", "prime"},
      {"{{ 'abc'.zfill(5) }}", "zfill"},
      {"{{ {'a': 1}.setdefault('b', 2) }}", "setdefault"},
      {"{{ [1].sort() }}", "sort"},
      {"{{ {'b': 1} | tojson(sort_keys=true) }}", "sort_keys"},
      {"{{ nosuchfunction(1) }}", "nosuchfunction"},
  };
  for (const Case& c : cases) {
    std::string e = error_of(c.src, {{"xs", json::array()}});
    EXPECT_NE(e.find(c.must_contain), std::string::npos) << c.src << " -> '" << e << "'";
  }
}

TEST(Jinja, SyntaxErrorsNameTheProblemAndLine) {
  struct Case { std::string src, must_contain; };
  const std::vector<Case> cases = {
      {"{% if x %}never closed", "endif"},
      {"{% for x in xs %}", "endfor"},
      {"line one\n{{ x ", "line 2"},
      {"{# never closed", "comment"},
      {"{{ 'open }}", "string literal"},
      {"{{ x $ y }}", "'$'"},
      {"{% endif %}", "endif"},
      {"{% for x xs %}{% endfor %}", "'in'"},
      {"{{ [1, 2 }}", "']'"},
      {"{{ 99999999999999999999999 }}", "out of range"},
  };
  for (const Case& c : cases) {
    std::string e = error_of(c.src, {{"xs", json::array()}});
    EXPECT_NE(e.find(c.must_contain), std::string::npos) << c.src << " -> '" << e << "'";
  }
}

TEST(Jinja, RuntimeErrorsNameTheOperation) {
  struct Case { std::string src, must_contain; };
  const std::vector<Case> cases = {
      {"{{ 1 // 0 }}", "division by zero"},
      {"{{ 'a' - 1 }}", "needs numbers"},
      {"{{ [1] + 'a' }}", "cannot add"},
      {"\n\n{{ [1][ 'x' ] }}", "line 3"},
      {"{% for x in 5 %}{% endfor %}", "cannot iterate"},
      {"{% set a, b = [1] %}", "unpack"},
      {"{{ 'a'[::0] }}", "step"},
      {"{% set x = 1 %}{% set x.y = 2 %}", "namespace"},
      {"{{ [].pop() }}", "empty list"},
      {"{{ range(0) | length }}{{ range(1, 2, 0) }}", "range"},
  };
  for (const Case& c : cases) {
    std::string e = error_of(c.src);
    EXPECT_NE(e.find(c.must_contain), std::string::npos) << c.src << " -> '" << e << "'";
  }
}

}  // namespace
}  // namespace frugal::tokenizer
