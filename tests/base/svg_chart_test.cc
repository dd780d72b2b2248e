// The SVG chart writer's building blocks: ticks, labels, escaping, and charts
// that parse as XML-safe fragments with one element per point, bar or cell.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "base/svg_chart.h"
#include "base/utf8.h"

namespace frugal::svg {
namespace {

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

TEST(SvgChart, NiceTicksAreRoundAndCoverTheRange) {
  EXPECT_EQ(nice_ticks(0, 10, 5), (std::vector<double>{0, 2, 4, 6, 8, 10}));
  EXPECT_EQ(nice_ticks(0.13, 0.91, 4), (std::vector<double>{0.2, 0.4, 0.6, 0.8}));
  auto t = nice_ticks(-3.5, 1234, 6);
  ASSERT_FALSE(t.empty());
  EXPECT_EQ(t.front(), 0);
  EXPECT_EQ(t[1], 500);  // 1234 / 6 is about 205: steps of 500
  EXPECT_TRUE(nice_ticks(1, 1).empty());
  EXPECT_TRUE(nice_ticks(0, NAN).empty());
}

TEST(SvgChart, LabelsAndEscaping) {
  EXPECT_EQ(tick_label(0.25), "0.25");
  EXPECT_EQ(tick_label(3000), "3000");
  EXPECT_EQ(tick_label(0.0003), "0.0003");
  EXPECT_EQ(tick_label(2e6), "2e+06");
  EXPECT_EQ(xml_escape("a<b & \"c\">"), "a&lt;b &amp; &quot;c&quot;&gt;");
}

TEST(SvgChart, ChartsDrawEverySeriesBarAndCell) {
  LineChart lc{"Loss <nats>", "step", "loss", {{"train", {0, 1, 2}, {3, 2, 1}, "", false},
                                               {"val", {0, 1, 2}, {NAN, 2.5, 1.5}, "", true}}};
  std::string s = draw_line_chart(lc, 0, 0, 600, 300);
  EXPECT_EQ(count(s, "class=\"series\""), 2u);
  EXPECT_EQ(count(s, "stroke-dasharray=\"6 3\""), 2u);  // the dashed path and its legend entry
  EXPECT_NE(s.find("Loss &lt;nats&gt;"), std::string::npos);
  EXPECT_EQ(s.find("nan"), std::string::npos);
  BarChart bc{"Speed", "log", "tok/s", {"moe", "dense"}, {{"", {}, {1200, 2000}, "", false}}};
  EXPECT_EQ(count(draw_bar_chart(bc, 0, 0, 600, 300), "class=\"bar\""), 2u);
  HeatMap hm{"Load", "expert", "layer", {"0", "1"}, {"0", "1", "2"}, {{0.2, 0.3, 0.5}, {0.4, 0.4, 0.2}}};
  EXPECT_EQ(count(draw_heat_map(hm, 0, 0, 600, 300), "class=\"cell\""), 6u);
  std::string doc = svg_document(600, 300, s);
  EXPECT_EQ(doc.rfind("<?xml", 0), 0u);
  EXPECT_NE(doc.find("xmlns=\"http://www.w3.org/2000/svg\""), std::string::npos);
}

// Labels are any bytes (file names, --label): the text stays valid UTF-8
// without the control characters that XML forbids.
TEST(SvgChart, EscapedTextIsValidXmlWhateverTheBytes) {
  const std::string e = xml_escape("caf\xe9 \x01<\xff>&\"\tok");
  EXPECT_TRUE(is_valid_utf8(e)) << e;
  EXPECT_EQ(e.find('\x01'), std::string::npos);
  EXPECT_NE(e.find("&lt;"), std::string::npos);
  EXPECT_NE(e.find("&amp;&quot;\tok"), std::string::npos);
}

// Steps from 1e17 on differ by less than the old half-unit padding could
// change, and values near the largest double overflow a plain difference:
// neither may put NaN or infinity into the drawing.
TEST(SvgChart, ExtremeRangesDrawFiniteCoordinates) {
  const double big = 1.7e308;
  const std::vector<std::pair<std::vector<double>, std::vector<double>>> cases = {
      {{1e17, 1e17 + 1}, {2, 1.5}},
      {{1e17, 1e17 + 64}, {2, 1.5}},
      {{-big, big}, {big, -big}},
      {{5, 5}, {big, big}},
  };
  for (const auto& [x, y] : cases) {
    LineChart lc{"t", "step", "y", {{"a", x, y, "", false}}};
    const std::string s = draw_line_chart(lc, 0, 0, 600, 300);
    EXPECT_EQ(s.find("nan"), std::string::npos) << s;
    EXPECT_EQ(s.find("inf"), std::string::npos) << s;
    BarChart bc{"b", "log", "y", {"a", "b"}, {{"", {}, y, "", false}}};
    const std::string b = draw_bar_chart(bc, 0, 0, 600, 300);
    EXPECT_EQ(b.find("nan"), std::string::npos) << b;
    EXPECT_EQ(b.find("inf"), std::string::npos) << b;
  }
  EXPECT_LE(nice_ticks(1e17, 1e17 + 64).size(), 20u);  // no endless loop where k + 1 == k
}

}  // namespace
}  // namespace frugal::svg
