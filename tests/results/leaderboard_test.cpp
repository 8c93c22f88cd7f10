#include "results/leaderboard.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "results/sweep_fixture.h"

namespace mammosweep::results {
namespace {

std::string golden_path(const std::string& name) {
  return std::string(MAMMOSWEEP_SOURCE_DIR) + "/tests/results/golden/" + name;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Compares `actual` with the golden file exactly. On a mismatch the actual text is written
// next to the test's temp dir for a diff (never over the golden file).
void expect_golden(const std::string& actual, const std::string& name) {
  const std::string expected = read_file(golden_path(name));
  if (actual != expected) {
    const std::string out = ::testing::TempDir() + "actual-" + name;
    std::ofstream(out, std::ios::binary) << actual;
    ADD_FAILURE() << "output differs from " << golden_path(name) << "; actual written to "
                  << out << "\n--- actual ---\n"
                  << actual;
  }
}

class LeaderboardGolden : public ::testing::Test {
 protected:
  std::vector<TrialResult> trials = testing::sweep_fixture();
  Ranking ranking = rank_trials(trials);
};

// trials.md, trials.csv and epochs_top2.md were written by hand from the fixture's comments
// (sweep_fixture.h): order Model 2 (AUC 1.0) > Model 3 (0.7) > Model 1 (0.5); Model 4 failed.
TEST_F(LeaderboardGolden, TrialsMarkdown) { expect_golden(render_leaderboard(trials, ranking, "md"), "trials.md"); }
TEST_F(LeaderboardGolden, TrialsCsv) { expect_golden(render_leaderboard(trials, ranking, "csv"), "trials.csv"); }
TEST_F(LeaderboardGolden, TrialsJson) { expect_golden(render_leaderboard(trials, ranking, "json"), "trials.json"); }
TEST_F(LeaderboardGolden, TrialsHtml) { expect_golden(render_leaderboard(trials, ranking, "html"), "trials.html"); }

TEST_F(LeaderboardGolden, EpochsTopTwo) {
  LeaderboardOptions o;
  o.view = LeaderboardView::epochs;
  o.top = 2;
  expect_golden(render_leaderboard(trials, ranking, "md", o), "epochs_top2.md");
  expect_golden(render_leaderboard(trials, ranking, "csv", o), "epochs_top2.csv");
}

TEST_F(LeaderboardGolden, JsonParsesAndKeepsStatus) {
  const auto doc = nlohmann::json::parse(render_leaderboard(trials, ranking, "json"));
  ASSERT_EQ(doc["rows"].size(), 4u);
  EXPECT_EQ(doc["rows"][0]["name"], "Model 2");
  EXPECT_EQ(doc["rows"][3]["status"], "failed");
  EXPECT_TRUE(doc["rows"][3]["rank"].is_null());
  EXPECT_TRUE(doc["rows"][3]["params"]["augmentation.hflip"].is_null());
  EXPECT_DOUBLE_EQ(doc["rows"][2]["val_auc_ci"][1].get<double>(), 1.0);
}

TEST_F(LeaderboardGolden, TopOneKeepsFailedTrialsListed) {
  LeaderboardOptions o;
  o.top = 1;
  const auto table = build_leaderboard(trials, ranking, o);
  int ranked = 0;
  for (const auto& r : table.rows) ranked += r.ranked ? 1 : 0;
  EXPECT_EQ(ranked, 1);
  EXPECT_EQ(table.rows.size(), 2u);  // Model 2 + failed Model 4
  ASSERT_EQ(table.notes.size(), 1u);  // Model 3 (stopped early) is not listed any more
  EXPECT_EQ(table.notes[0].name, "Model 4");
}

TEST(Leaderboard, EscapesSpecialCharacters) {
  auto trials = testing::sweep_fixture();
  trials[1].name = "a|b, \"c\" <d>";
  const auto ranking = rank_trials(trials);
  const auto md = render_leaderboard(trials, ranking, "md");
  EXPECT_NE(md.find("| a\\|b, \"c\" <d> |"), std::string::npos) << md;
  const auto csv = render_leaderboard(trials, ranking, "csv");
  EXPECT_NE(csv.find("\n1,\"a|b, \"\"c\"\" <d>\",t002,"), std::string::npos) << csv;
  const auto html = render_leaderboard(trials, ranking, "html");
  EXPECT_NE(html.find("<td>a|b, &quot;c&quot; &lt;d&gt;</td>"), std::string::npos) << html;
}

TEST(Leaderboard, SameParamsEverywhereAreHidden) {
  auto trials = testing::sweep_fixture();
  for (auto& t : trials) t.params = {{"lr", "0.1"}, {"optimizer", "sgd"}};
  const auto table = build_leaderboard(trials, rank_trials(trials));
  for (const auto& c : table.columns) EXPECT_NE(c.kind, ColumnKind::param) << c.key;
}

TEST(Leaderboard, UnknownFormatThrows) {
  EXPECT_THROW(make_reporter("xlsx"), std::invalid_argument);
  EXPECT_STREQ(make_reporter("markdown")->format(), "md");
}

}  // namespace
}  // namespace mammosweep::results
