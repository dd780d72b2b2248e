// SVG charts: 1-2-5 ticks that cover the range, escaped text, one polyline per
// series and one bar per value, and no points drawn for non-finite values.
#include "base/svg_chart.h"

#include <gtest/gtest.h>

#include <cmath>

namespace frugal::svg {
namespace {

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

void expect_ticks(const std::vector<double>& got, const std::vector<double>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-12) << i;
}

TEST(SvgChart, NiceTicksUseOneTwoFiveSteps) {
  expect_ticks(nice_ticks(0, 10, 5), {0, 2, 4, 6, 8, 10});
  expect_ticks(nice_ticks(0.13, 0.61, 5), {0.2, 0.3, 0.4, 0.5, 0.6});
  expect_ticks(nice_ticks(-3, 3, 3), {-2, 0, 2});
  expect_ticks(nice_ticks(0.1, 0.5, 4), {0.1, 0.2, 0.3, 0.4, 0.5});
  EXPECT_TRUE(nice_ticks(1, 1).empty());
  EXPECT_TRUE(nice_ticks(0, NAN).empty());
}

TEST(SvgChart, EscapesText) { EXPECT_EQ(escape_xml("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;"); }

TEST(SvgChart, LineChartDrawsEverySeriesAndSkipsNonFinitePoints) {
  LineChart c{"loss <train>", "step", "nats", {}, false};
  c.series.push_back({"a", {0, 1, 2}, {3, 2, 1}, false});
  c.series.push_back({"b", {0, 1, 2}, {3, NAN, 2}, true});
  const std::string g = line_chart(c, 600, 300);
  EXPECT_EQ(count(g, "<polyline"), 2u);
  EXPECT_NE(g.find("loss &lt;train&gt;"), std::string::npos);
  EXPECT_EQ(g.find("nan"), std::string::npos);
  EXPECT_NE(g.find("stroke-dasharray"), std::string::npos);
  const std::string doc = document({g, g}, 600, 300);
  EXPECT_EQ(doc.rfind("<?xml", 0), 0u);
  EXPECT_NE(doc.find("height=\"600\""), std::string::npos);
}

TEST(SvgChart, EmptyChartSaysNoData) {
  LineChart c{"t", "x", "y", {{"s", {1}, {NAN}, false}}, true};
  EXPECT_NE(line_chart(c, 400, 250).find("no data"), std::string::npos);
}

TEST(SvgChart, BarChartHasABarPerValue) {
  BarChart b{"tok/s", "t/s", {"pp512", "tg128"}, {}};
  b.series.push_back({"frugal", {}, {100, 20}, false});
  b.series.push_back({"peer", {}, {50, NAN}, false});
  EXPECT_EQ(count(bar_chart(b, 600, 300), "class=\"bar\""), 3u);
}

}  // namespace
}  // namespace frugal::svg
