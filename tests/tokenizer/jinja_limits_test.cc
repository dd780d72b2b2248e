// Hostile chat templates: each used to overflow the stack (SIGSEGV), loop
// for hours or exhaust memory; each must now end in a frugal::Error that
// says what was too deep or too large, while templates of normal depth
// still render.
#include <gtest/gtest.h>

#include <string>

#include "base/error.h"
#include "tokenizer/jinja.h"
#include "tokenizer/jinja_limits.h"

namespace frugal::tokenizer {
namespace {

using json = nlohmann::ordered_json;

std::string repeat(const std::string& s, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

// The error message of parsing and rendering (fails the test when there is none).
std::string error_of(const std::string& src, const json& ctx = json::object()) {
  try {
    jinja::Template(src).render(ctx);
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error for a template of " << src.size() << " bytes";
  return "";
}

void expect_error(const std::string& src, const std::string& words, const json& ctx = json::object()) {
  const std::string what = error_of(src, ctx);
  EXPECT_NE(what.find(words), std::string::npos) << what;
  EXPECT_NE(what.find("chat template"), std::string::npos) << what;
}

TEST(JinjaLimits, DeepExpressionsAreRefusedWhenParsed) {
  expect_error("{{ " + repeat("(", 5000) + "1" + repeat(")", 5000) + " }}", "nested too deeply");
  expect_error("{{ 1" + repeat(" + 1", 10000) + " }}", "nested too deeply");
  expect_error("{{ " + repeat("[", 5000) + repeat("]", 5000) + " }}", "nested too deeply");
  expect_error("{{ 'x'" + repeat(" | trim", 20000) + " }}", "nested too deeply");
  expect_error("{{ " + repeat("not ", 10000) + "true }}", "nested too deeply");
  expect_error("{{ " + repeat("- ", 10000) + "1 }}", "nested too deeply");
  expect_error("{{ x" + repeat(".a", 10000) + " }}", "nested too deeply");
  expect_error("{{ f" + repeat("(", 5000) + repeat(")", 5000) + " }}", "nested too deeply");
  expect_error("{{ {" + repeat("'a': {", 5000) + repeat("}", 5000) + "} }}", "nested too deeply");
  expect_error(repeat("{% if true %}", 5000) + repeat("{% endif %}", 5000), "nested too deeply");
}

TEST(JinjaLimits, NormalDepthStillRenders) {
  EXPECT_EQ(jinja::Template("{{ " + repeat("(", 50) + "1" + repeat(")", 50) + " }}").render(json::object()), "1");
  EXPECT_EQ(jinja::Template("{{ 0" + repeat(" + 1", 100) + " }}").render(json::object()), "100");
  EXPECT_EQ(jinja::Template("{{ 'x'" + repeat(" | upper", 100) + " }}").render(json::object()), "X");
}

TEST(JinjaLimits, ATooLongSourceIsRefused) {
  expect_error(std::string(jinja::limits::kMaxSourceBytes + 1, 'a'), "longer than");
}

TEST(JinjaLimits, RecursionWhileRenderingIsBounded) {
  // A macro that calls itself: the depth of its body times the calls.
  expect_error("{% macro m(n) %}{{ m(n + 1) }}{% endmacro %}{{ m(0) }}", "too deep");
}

TEST(JinjaLimits, ValuesCannotHoldThemselvesOrNestWithoutEnd) {
  expect_error("{% set x = [] %}{{ x.append(x) }}{{ x }}", "contain itself");
  expect_error("{% set ns = namespace(a=1) %}{% set ns.self = ns %}{{ ns }}", "contain itself");
  expect_error("{% set ns = namespace(x=[]) %}{% for i in range(100000) %}{% set ns.x = [ns.x] %}{% endfor %}",
               "nest more than");
  // Parsed in one piece: copying a JSON value this deep would itself recurse too deeply.
  const json deep = json::parse("{\"messages\": " + repeat("[", 5000) + repeat("]", 5000) + "}");
  expect_error("{{ messages }}", "nest more than", deep);
}

TEST(JinjaLimits, SizeAndTimeAreBounded) {
  // A string doubled 40 times, a list doubled 40 times.
  expect_error("{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
               "longer than");
  expect_error("{% set ns = namespace(s=[1]) %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
               "longer than");
}

TEST(JinjaLimits, StringOperationsAreBounded) {
  expect_error("{{ 'abcdefgh' * 999999 * 1 }}{{ ('x' * 999999) * 999999 }}", "too long");
  expect_error("{{ ('x' * 999999) | replace('x', 'yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy') }}",
               "too long");
}

TEST(JinjaLimits, TimeIsBounded) {
  // Nested loops of 10^12 iterations (an iteration is a step even with an empty body).
  expect_error("{% for i in range(10000) %}{% for j in range(10000) %}{% for k in range(10000) %}{% endfor %}"
               "{% endfor %}{% endfor %}",
               "steps");
}

}  // namespace
}  // namespace frugal::tokenizer

namespace frugal::tokenizer {
namespace {

std::string render(const std::string& src) { return jinja::Template(src).render(json::object()); }

TEST(JinjaLimits, IntegersThatOverflowContinueAsFloats) {
  // Found by the chat template fuzzer: `2 ** 90` overflowed int64 (undefined behaviour).
  EXPECT_EQ(render("{{ 2 ** 10 }}|{{ (-1) ** 65 }}|{{ 0 ** 0 }}"), "1024|-1|1");
  EXPECT_EQ(render("{{ 2 ** 90 }}"), "1.2379400392853803e+27");
  // Whole floats below 1e21 print with ".0" (jinja_value.h).
  EXPECT_EQ(render("{{ 9223372036854775807 + 1 }}"), "9223372036854775808.0");
  EXPECT_EQ(render("{{ -9223372036854775807 - 2 }}"), "-9223372036854775808.0");
  EXPECT_EQ(render("{{ 3037000500 * 3037000500 }}"), "9223372037000249344.0");
  EXPECT_EQ(render("{{ (-9223372036854775807 - 1) // -1 }}"), "9223372036854775808.0");
  EXPECT_EQ(render("{{ -(-9223372036854775807 - 1) }}"), "9223372036854775808.0");
}

}  // namespace
}  // namespace frugal::tokenizer
