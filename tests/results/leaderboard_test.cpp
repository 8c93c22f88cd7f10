#include "results/leaderboard.h"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "results/sweep_fixture.h"
#include "results/trial_table.h"

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
// Paired columns: Model 2 is the reference; Model 3 stored no predictions and Model 1's are on
// 3 images, not Model 2's 8, so both tests are unavailable (n/a, with the reason in csv/json).
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

// Two trials on the same 4 images (labels 1, 1, 0, 0). Worked by hand:
//   A scores 0.9 0.8 0.2 0.1: perfect, V10 = V01 = (1, 1), AUC 1, no variance.
//   B scores 0.9 0.3 0.4 0.1: V10 = (2/2, 1/2), V01 = (1/2, 2/2), AUC 0.75.
//   Var(B - A) = var(1, 1/2)/2 + var(1/2, 1)/2 = 0.125/2 + 0.125/2 = 0.125 (sample variances),
//   se = 0.353553, difference -0.25, z = -0.707107, p = erfc(0.5) = 0.479500,
//   95% CI -0.25 -/+ 1.959964 * 0.353553 = [-0.942952, 0.442952].
TEST(Leaderboard, PairedColumns) {
  std::vector<TrialResult> trials(2);
  const std::vector<float> scores[2] = {{0.9f, 0.8f, 0.2f, 0.1f}, {0.9f, 0.3f, 0.4f, 0.1f}};
  const double auc[2] = {1.0, 0.75};
  for (int i = 0; i < 2; ++i) {
    trials[i].id = i == 0 ? "a" : "b";
    trials[i].name = i == 0 ? "A" : "B";
    trials[i].status = TrialStatus::done;
    trials[i].epochs = {testing::epoch(1, 0.5, 0.5, 0.5, 0.5, auc[i])};
    trials[i].best_val_predictions.labels = {1, 1, 0, 0};
    trials[i].best_val_predictions.scores = scores[i];
  }
  RankingOptions ro;
  ro.compute_cis = false;
  const Ranking ranking = rank_trials(trials, ro);
  const auto md = render_leaderboard(trials, ranking, "md");
  EXPECT_NE(md.find("| AUC diff vs ref [95% CI] | DeLong p |"), std::string::npos) << md;
  EXPECT_NE(md.find("| 0.500 | reference | - | done |"), std::string::npos) << md;
  EXPECT_NE(md.find("| 0.500 | -0.250 [-0.943, 0.443] | 0.480 | done |"), std::string::npos)
      << md;
  const auto doc = nlohmann::json::parse(render_leaderboard(trials, ranking, "json"));
  EXPECT_TRUE(doc["rows"][0]["auc_diff"].is_null());
  EXPECT_EQ(doc["rows"][0]["paired_note"], "reference");
  EXPECT_NEAR(doc["rows"][1]["auc_diff"].get<double>(), -0.25, 1e-6);
  EXPECT_NEAR(doc["rows"][1]["auc_diff_ci"][0].get<double>(), -0.942952, 1e-6);
  EXPECT_NEAR(doc["rows"][1]["auc_diff_ci"][1].get<double>(), 0.442952, 1e-6);
  EXPECT_NEAR(doc["rows"][1]["delong_p"].get<double>(), 0.479500, 1e-6);
  EXPECT_EQ(doc["rows"][1]["paired_note"], "");
  const auto csv = render_leaderboard(trials, ranking, "csv");
  EXPECT_NE(csv.find(",auc_diff,auc_diff_ci_lo,auc_diff_ci_hi,delong_p,status,paired_note,"),
            std::string::npos)
      << csv;
  EXPECT_NE(csv.find(",-0.25,-0.942952,0.442952,0.4795,done,,"), std::string::npos) << csv;

  // A 90% interval with alpha 0.1 changes the title: -0.25 -/+ 1.644854 * 0.353553.
  ro.selection.alpha = 0.1;
  const auto md90 = render_leaderboard(trials, rank_trials(trials, ro), "md");
  EXPECT_NE(md90.find("| AUC diff vs ref [90% CI] |"), std::string::npos) << md90;
  EXPECT_NE(md90.find("-0.250 [-0.832, 0.332]"), std::string::npos) << md90;

  // p < 0.001 prints as "<0.001" in md (the number stays in csv/json): B ranks every
  // positive below every negative, so each structural component is constant: se 0, p 0.
  trials[1].best_val_predictions.scores = {0.1f, 0.2f, 0.8f, 0.9f};
  trials[1].epochs[0].val.auc = 0.0;
  const Ranking far = rank_trials(trials, RankingOptions{});
  const auto md_far = render_leaderboard(trials, far, "md");
  EXPECT_NE(md_far.find("| -1.000 [-1.000, -1.000] | <0.001 |"), std::string::npos) << md_far;
  EXPECT_EQ(nlohmann::json::parse(render_leaderboard(trials, far, "json"))["rows"][1]["delong_p"],
            0.0);
}

// Importance over every ranked trial, in md, json and html, whatever --top shows: the same
// entries as parameter_importance (tested against known importances in importance_test.cpp).
TEST(Leaderboard, ParameterImportanceInEveryFormatButCsv) {
  std::vector<TrialResult> trials;
  for (int i = 0; i < 8; ++i) {
    TrialResult t = testing::sweep_fixture()[1];  // a done trial with val AUC rows
    t.id = "t" + std::to_string(i);
    t.name = "M" + std::to_string(i);
    t.params = {{"lr", std::to_string(0.001 * (i + 1))}, {"optimizer", i % 2 ? "adam" : "sgd"}};
    for (auto& e : t.epochs) e.val.auc = 0.5 + 0.05 * i + (i % 2 ? 0.001 : 0.0);
    trials.push_back(t);
  }
  const Ranking ranking = rank_trials(trials);
  const std::vector<ParamImportance> expected = parameter_importance(trial_table(trials, ranking));
  ASSERT_EQ(expected.size(), 2u);
  LeaderboardOptions top1;
  top1.top = 1;
  const auto json = nlohmann::json::parse(render_leaderboard(trials, ranking, "json", top1));
  ASSERT_EQ(json["importance"].size(), 2u);
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(json["importance"][i]["parameter"], expected[i].name);
    // json numbers carry 6 significant digits
    EXPECT_NEAR(json["importance"][i]["importance"].get<double>(), expected[i].importance, 1e-6);
    EXPECT_NEAR(json["importance"][i]["epsilon_squared"].get<double>(),
                expected[i].epsilon_squared, 1e-6);
  }
  EXPECT_EQ(expected[0].name, "lr");  // the metric rises with lr; optimizer barely matters
  const auto md = render_leaderboard(trials, ranking, "md", top1);
  EXPECT_NE(md.find("| lr | " + fmt::format("{:.3f}", expected[0].importance)), std::string::npos)
      << md;
  const auto html = render_leaderboard(trials, ranking, "html");
  EXPECT_NE(html.find("<h3>Parameter importance</h3>"), std::string::npos);
  EXPECT_NE(html.find("<tr><td>optimizer</td>"), std::string::npos) << html;
  EXPECT_EQ(render_leaderboard(trials, ranking, "csv").find("importance"), std::string::npos);
}

TEST(Leaderboard, UnknownFormatThrows) {
  EXPECT_THROW(make_reporter("xlsx"), std::invalid_argument);
  EXPECT_STREQ(make_reporter("markdown")->format(), "md");
}

}  // namespace
}  // namespace mammosweep::results
