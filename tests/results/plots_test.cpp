#include "results/plots.h"

#include <gtest/gtest.h>

#include <cctype>
#include <regex>
#include <stdexcept>
#include <vector>

#include "results/sweep_fixture.h"

namespace mammosweep::results {
namespace {

// A tiny XML well-formedness checker: tags balanced and properly nested, attribute values
// quoted, every '&' starts an entity, no raw '<' in text. Skips <!DOCTYPE ...> and comments.
// Returns "" when well-formed, else a message with the byte offset.
std::string xml_problem(const std::string& s) {
  std::vector<std::string> stack;
  std::size_t i = 0;
  auto err = [&](const std::string& what) { return what + " at offset " + std::to_string(i); };
  auto is_name = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == ':' ||
           c == '.';
  };
  while (i < s.size()) {
    if (s[i] == '&') {
      const auto semi = s.find(';', i);
      if (semi == std::string::npos || semi - i > 8) return err("bare '&'");
      i = semi + 1;
      continue;
    }
    if (s[i] == '>') return err("raw '>' outside a tag");
    if (s[i] != '<') {
      ++i;
      continue;
    }
    if (s.compare(i, 4, "<!--") == 0) {
      const auto end = s.find("-->", i);
      if (end == std::string::npos) return err("unclosed comment");
      i = end + 3;
      continue;
    }
    if (s.compare(i, 2, "<!") == 0) {
      i = s.find('>', i) + 1;
      continue;
    }
    const bool closing = s.compare(i, 2, "</") == 0;
    i += closing ? 2 : 1;
    std::size_t start = i;
    while (i < s.size() && is_name(s[i])) ++i;
    const std::string name = s.substr(start, i - start);
    if (name.empty()) return err("tag without a name");
    if (closing) {
      while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
      if (i >= s.size() || s[i] != '>') return err("malformed closing tag </" + name);
      if (stack.empty() || stack.back() != name) {
        return err("</" + name + "> closes <" + (stack.empty() ? "nothing" : stack.back()) + ">");
      }
      stack.pop_back();
      ++i;
      continue;
    }
    for (;;) {  // attributes
      while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
      if (i >= s.size()) return err("unterminated tag <" + name);
      if (s[i] == '>') {
        stack.push_back(name);
        ++i;
        break;
      }
      if (s.compare(i, 2, "/>") == 0) {
        i += 2;
        break;
      }
      start = i;
      while (i < s.size() && is_name(s[i])) ++i;
      if (i == start) return err("bad attribute in <" + name);
      if (i >= s.size() || s[i] != '=') return err("attribute without value in <" + name);
      ++i;
      if (i >= s.size() || (s[i] != '"' && s[i] != '\'')) return err("unquoted attribute in <" + name);
      const char q = s[i];
      const auto end = s.find(q, i + 1);
      if (end == std::string::npos) return err("unterminated attribute value");
      if (s.substr(i + 1, end - i - 1).find('<') != std::string::npos) return err("'<' in attribute");
      i = end + 1;
    }
  }
  if (!stack.empty()) return "unclosed <" + stack.back() + ">";
  return "";
}

std::size_t count(const std::string& s, const std::string& part) {
  std::size_t n = 0;
  for (auto p = s.find(part); p != std::string::npos; p = s.find(part, p + 1)) ++n;
  return n;
}

TEST(XmlChecker, CatchesBrokenDocuments) {
  EXPECT_EQ(xml_problem("<a x=\"1\"><b/>t &amp; u</a>"), "");
  EXPECT_NE(xml_problem("<a><b></a></b>"), "");
  EXPECT_NE(xml_problem("<a x=1></a>"), "");
  EXPECT_NE(xml_problem("<a>"), "");
  EXPECT_NE(xml_problem("<a>x & y</a>"), "");
}

TEST(Plots, NiceTicks) {
  EXPECT_EQ(nice_ticks(0, 1), (std::vector<double>{0, 0.2, 0.4, 0.6, 0.8, 1.0}));
  EXPECT_EQ(nice_ticks(0.31, 0.72), (std::vector<double>{0.3, 0.4, 0.5, 0.6, 0.7, 0.8}));
  EXPECT_EQ(nice_ticks(0, 37), (std::vector<double>{0, 10, 20, 30, 40}));
  EXPECT_EQ(nice_ticks(2, 2), (std::vector<double>{1, 1.5, 2, 2.5, 3}));
}

// Plot area: 640 x 360 minus margins left 60, right 150, top 40, bottom 50 -> 430 x 270.
// With axes fixed to [0, 1] x [0, 1]: (0,0) -> (60, 310), (1,1) -> (490, 40), (0.5,0.25)
// -> (60 + 215, 310 - 67.5) = (275, 242.5).
TEST(Plots, PointsLandWhereComputedByHand) {
  Series s;
  s.label = "diag";
  s.x = {0.0, 0.5, 1.0};
  s.y = {0.0, 0.25, 1.0};
  ChartOptions o;
  o.title = "T & <test>";
  o.x_min = 0.0;
  o.x_max = 1.0;
  o.y_min = 0.0;
  o.y_max = 1.0;
  const auto svg = line_chart_svg({s}, o);
  EXPECT_EQ(xml_problem(svg), "");
  EXPECT_NE(svg.find("points=\"60.00,310.00 275.00,242.50 490.00,40.00\""), std::string::npos)
      << svg;
  EXPECT_NE(svg.find("T &amp; &lt;test&gt;"), std::string::npos);
  EXPECT_NE(svg.find(">diag</text>"), std::string::npos);  // legend
  EXPECT_NE(svg.find(">0.4</text>"), std::string::npos);   // a tick label
}

TEST(Plots, NanBreaksTheLine) {
  Series s;
  s.label = "gappy";
  s.x = {1, 2, 3, 4, 5};
  s.y = {0.1, 0.2, kNaN, 0.4, 0.5};
  const auto svg = line_chart_svg({s}, ChartOptions{});
  EXPECT_EQ(xml_problem(svg), "");
  EXPECT_EQ(count(svg, "<polyline"), 2u);
  EXPECT_EQ(count(svg, "<circle"), 4u);
  Series bad;
  bad.x = {1, 2};
  bad.y = {1};
  EXPECT_THROW(line_chart_svg({bad}, ChartOptions{}), std::invalid_argument);
}

TEST(Plots, TrialChartsHaveOneLinePerTrialAndSplit) {
  const auto trials = testing::sweep_fixture();
  const auto ranking = rank_trials(trials);
  // Three trials have epochs (Model 4 failed before its first epoch): 3 x (train, val).
  for (const auto& svg : {accuracy_chart_svg(trials, ranking), loss_chart_svg(trials, ranking)}) {
    EXPECT_EQ(xml_problem(svg), "") << svg;
    EXPECT_EQ(count(svg, "<g class=\"series\""), 6u);
    EXPECT_EQ(count(svg, "<polyline"), 6u);
    EXPECT_EQ(count(svg, "<circle"), 16u);  // 2 x (3 + 3 + 2) epochs
  }
  // Precision is set at every epoch; recall only at the selected epochs (one point per
  // trial, drawn as a marker without a line).
  const auto pr = precision_recall_chart_svg(trials, ranking);
  EXPECT_EQ(xml_problem(pr), "") << pr;
  EXPECT_EQ(count(pr, "<g class=\"series\""), 6u);
  EXPECT_EQ(count(pr, "<polyline"), 3u);
  EXPECT_EQ(count(pr, "<circle"), 8u + 3u);
  EXPECT_NE(pr.find(">Model 2 recall</text>"), std::string::npos);
}

TEST(Plots, RocOfWinner) {
  const auto trials = testing::sweep_fixture();
  const auto roc = roc_chart_svg(trials[1]);  // Model 2: perfect separation
  ASSERT_TRUE(roc.has_value());
  EXPECT_EQ(xml_problem(*roc), "");
  // Curve (0,0) -> (0,1) -> (1,1) on a 520 x 400 chart: plot 310 x 310 at (60, 40).
  EXPECT_NE(roc->find("points=\"60.00,350.00 60.00,40.00 370.00,40.00\""), std::string::npos)
      << *roc;
  EXPECT_NE(roc->find("val AUC 1.000"), std::string::npos);
  EXPECT_FALSE(roc_chart_svg(trials[2]).has_value());  // no predictions stored
}

TEST(Plots, HtmlReportIsSelfContainedAndWellFormed) {
  const auto trials = testing::sweep_fixture();
  const auto ranking = rank_trials(trials);
  const auto html = html_report(trials, ranking);
  EXPECT_EQ(xml_problem(html), "");
  EXPECT_EQ(count(html, "<svg"), 6u);  // 3 curves, parallel coordinates, history, ROC
  EXPECT_NE(html.find("Model 2 is the model of the week"), std::string::npos);
  EXPECT_NE(html.find("<table class=\"leaderboard\">"), std::string::npos);
  EXPECT_NE(html.find("failed: CUDA out of memory"), std::string::npos);
  // The paired comparison with the reference (Model 2): columns, their explanation, the rule.
  EXPECT_NE(html.find("<th>AUC diff vs ref [95% CI]</th><th>DeLong p</th>"), std::string::npos);
  EXPECT_NE(html.find("<td class=\"num\">reference</td>"), std::string::npos);
  EXPECT_NE(html.find("AUC diff vs ref: the trial's val AUC minus that of Model 2 (the "
                      "reference"),
            std::string::npos);
  EXPECT_NE(html.find("Selection rule: best.</p>"), std::string::npos);
  // Nothing to fetch: no scripts, stylesheets, images or links to other documents.
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find("<img"), std::string::npos);
  EXPECT_EQ(html.find("href="), std::string::npos);
  EXPECT_EQ(html.find("src="), std::string::npos);
  EXPECT_EQ(count(html, "http"), count(html, "xmlns=\"http://www.w3.org/2000/svg\""));
}

}  // namespace
}  // namespace mammosweep::results
