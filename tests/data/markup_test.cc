// HTML/XML to text: what is kept, what is dropped, entities, breaks, and the
// pipeline reading .html files as markup.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "base/error.h"
#include "base/progress.h"
#include "data/corpus.h"
#include "data/documents.h"
#include "data/markup.h"

namespace frugal::data {
namespace {
namespace fs = std::filesystem;

// The shape of a page of Sphinx's HTML (Python's documentation in Debian's python3.11-doc).
constexpr const char* kSphinxPage = R"(<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8" /><title>4. More Control Flow Tools &#8212; Python 3.11 documentation</title>
    <script type="text/javascript">if (a < b && c > d) { document.write("<p>not text</p>"); }</script>
    <style>p { color: red; }</style>
  </head><body>
    <div class="related" role="navigation" aria-label="related navigation">
      <h3>Navigation</h3>
      <ul><li><a href="genindex.html" title="General Index">index</a></li></ul>
    </div>
  <section id="more-control-flow-tools">
<h1>4. More Control Flow Tools<a class="headerlink" href="#more-control-flow-tools">&para;</a></h1>
<p>Besides the <a class="reference internal" href="#while"><code class="xref std std-keyword docutils literal notranslate"><span class="pre">while</span></code></a>
statement just introduced, Python uses the usual flow control statements known
from other languages, with some&nbsp;twists.</p>
<div class="highlight-python3 notranslate"><div class="highlight"><pre><span></span><span class="gp">&gt;&gt;&gt; </span><span class="n">x</span> <span class="o">=</span> <span class="mi">42</span>
<span class="gp">&gt;&gt;&gt; </span><span class="k">if</span> <span class="n">x</span> <span class="o">&lt;</span> <span class="mi">0</span><span class="p">:</span>
</pre></div>
</div>
<p>There can be zero or more <code>elif</code> parts &mdash; and the <em>else</em> part is optional.<br/>
The keyword &lsquo;elif&rsquo; is short for &#x201C;else if&#x201D;.</p>
<ul>
<li><p>the first item of the list</p></li>
<li>the second item of the list</li>
</ul>
<!-- a comment <p>with a paragraph</p> -->
</section>
<div class="footer" role="contentinfo">&copy; Copyright 2001-2023, Python Software Foundation.</div>
</body></html>
)";

TEST(Markup, SphinxPageKeepsProseAndCodeDropsScriptsNavigationAndFooter) {
  const std::string text = markup_to_text(kSphinxPage);
  EXPECT_EQ(text,
            "4. More Control Flow Tools\xC2\xB6\n"
            "\n"
            "Besides the while statement just introduced, Python uses the usual flow control statements known "
            "from other languages, with some twists.\n"
            "\n"
            ">>> x = 42\n"
            ">>> if x < 0:\n"
            "\n"
            "\n"
            "There can be zero or more elif parts \xE2\x80\x94 and the else part is optional.\n"
            "The keyword \xE2\x80\x98" "elif\xE2\x80\x99 is short for \xE2\x80\x9C" "else if\xE2\x80\x9D.\n"
            "\n"
            "the first item of the list\n"
            "\n"
            "the second item of the list\n");
}

TEST(Markup, DropCodeLeavesOutPreBlocks) {
  MarkupOptions o;
  o.drop_code = true;
  const std::string text = markup_to_text(kSphinxPage, o);
  EXPECT_EQ(text.find(">>>"), std::string::npos) << text;
  EXPECT_NE(text.find("with some twists."), std::string::npos) << text;
  EXPECT_NE(text.find("There can be zero or more elif parts"), std::string::npos) << text;
}

// A verse of the World English Bible as SWORD's mod2imp exports it (OSIS):
// words wrapped in <w>, a footnote in <note>, paragraphs as milestone <div/>s.
TEST(Markup, OsisVersesLoseWordTagsAndNotesAndBreakAtMilestones) {
  const std::string osis =
      "<div sID=\"gen27\" type=\"x-p\"/><w lemma=\"strong:H0430\">God</w> <w lemma=\"strong:H0559\">said</w>, "
      "\xE2\x80\x9C<w lemma=\"strong:H1961\">Let</w> there be an expanse<note type=\"study\">or, sky</note>.\xE2\x80\x9D\n"
      "<w>God</w> made the expanse. <div eID=\"gen27\" type=\"x-p\"/>\n"
      "<div sID=\"gen28\" type=\"x-p\"/><title type=\"x-s\">The Third Day</title>The waters were gathered.\n";
  EXPECT_EQ(markup_to_text(osis),
            "God said, \xE2\x80\x9CLet there be an expanse.\xE2\x80\x9D God made the expanse.\n"
            "\n"
            "The Third Day\n"
            "\n"
            "The waters were gathered.\n");
}

TEST(Markup, EntitiesDecodedOrKept) {
  EXPECT_EQ(markup_to_text("a &amp; b &lt;c&gt; &#65;&#x42; &eacute; &bogus; & alone"),
            "a & b <c> AB \xC3\xA9 &bogus; & alone\n");
  EXPECT_EQ(markup_to_text("x&#0;y &#x110000;"), "x\xEF\xBF\xBDy \xEF\xBF\xBD\n");  // no NUL, nothing past U+10FFFF
  EXPECT_EQ(markup_to_text("soft&shy;hyphen"), "softhyphen\n");
}

TEST(Markup, MalformedMarkupNeverFails) {
  EXPECT_EQ(markup_to_text("1 < 2 and 3 <= 4"), "1 < 2 and 3 <= 4\n");
  EXPECT_EQ(markup_to_text("text <!-- never closed"), "text\n");
  EXPECT_EQ(markup_to_text("text <p class=\"never closed"), "text\n");
  EXPECT_EQ(markup_to_text("<script>never closed"), "\n");
  EXPECT_EQ(markup_to_text("<nav><nav>inner</nav>still nav</nav>after"), "after\n");
  EXPECT_EQ(markup_to_text("<p title='a > b'>quoted</p>"), "quoted\n");
  EXPECT_EQ(markup_to_text("<![CDATA[raw <b>]]> text"), "raw <b> text\n");
}

// A Bible module is 29 MB of short tagged words with hardly an '&' or ';':
// each scan for the next '<' or '&' or an entity's ';' must stay local, or
// this (1.6 MB) takes minutes instead of milliseconds.
TEST(Markup, LongTaggedTextInOnePass) {
  std::string osis, want;
  for (int i = 0; i < 100000; ++i) osis += "<w lemma=\"strong:H0430\">word</w> ";
  osis += "& end";
  for (int i = 0; i < 100000; ++i) want += "word ";
  want += "& end\n";
  EXPECT_EQ(markup_to_text(osis), want);
}

TEST(Markup, ModesAndFileNames) {
  EXPECT_TRUE(is_markup_file("/usr/share/doc/x/index.html", MarkupMode::kAuto));
  EXPECT_TRUE(is_markup_file("PAGE.HTM", MarkupMode::kAuto));
  EXPECT_TRUE(is_markup_file("web.xml", MarkupMode::kAuto));
  EXPECT_FALSE(is_markup_file("notes.txt", MarkupMode::kAuto));
  EXPECT_FALSE(is_markup_file("index.html", MarkupMode::kText));
  EXPECT_TRUE(is_markup_file("notes.txt", MarkupMode::kHtml));
  EXPECT_EQ(parse_markup_mode("html"), MarkupMode::kHtml);
  EXPECT_THROW(parse_markup_mode("markdown"), Error);
}

TEST(Markup, PipelineReadsHtmlFilesAsParagraphs) {
  Progress::set_enabled(false);
  const fs::path dir = fs::temp_directory_path() / ("frugal_markup_test_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "in");
  std::ofstream(dir / "in" / "page.html") << kSphinxPage;
  std::ofstream(dir / "in" / "plain.txt") << "<p>kept as written in a text file</p>\n";
  CorpusOptions o;
  o.inputs = {(dir / "in").string()};
  o.out_dir = (dir / "out").string();
  o.val_fraction = 0;
  o.markup_opts.drop_code = true;
  const CorpusStats st = build_corpus(o);
  EXPECT_EQ(st.files, 2u);
  EXPECT_EQ(st.markup_files, 1u);
  EXPECT_EQ(st.train_docs, 6u);  // heading, 2 paragraphs, 2 list items, the text file's line
  std::ifstream in(dir / "out" / "train.txt");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string out = ss.str();
  EXPECT_NE(out.find("\n<|endoftext|>\nThere can be zero or more elif parts"), std::string::npos) << out;
  EXPECT_NE(out.find("<p>kept as written in a text file</p>"), std::string::npos) << out;
  EXPECT_EQ(out.find("Copyright"), std::string::npos) << out;
  EXPECT_NE(format_stats(st).find("(1 read as HTML/XML)"), std::string::npos);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace frugal::data
