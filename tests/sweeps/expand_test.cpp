// Expansion into trials, trial ids, and the trial text round trip.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iterator>
#include <set>

#include "sweeps/parse.h"
#include "sweeps/trial.h"

namespace mammosweep::sweeps {
namespace {

TEST(Expand, Week7MatchesTheReport) {
  SweepSpec spec = load_spec(std::string(MAMMOSWEEP_SOURCE_DIR) + "/sweeps/week7.yaml");
  auto trials = expand(spec);
  ASSERT_EQ(trials.size(), 3u);
  struct Row {
    const char* name;
    double unfrozen;
    int dense;
    double dropout;
    const char* optimizer;
    double lr;
  };
  // The table in the foundation issue, from the report's section 2.
  const Row expected[] = {{"Model 1", 0.5, 1024, 0.5, "adam", 1e-4},
                          {"Model 2", 0.6, 512, 0.3, "adam", 5e-5},
                          {"Model 3", 0.7, 1024, 0.4, "rmsprop", 1e-4}};
  for (int i = 0; i < 3; ++i) {
    const Trial& t = trials[i];
    EXPECT_EQ(t.name, expected[i].name);
    EXPECT_EQ(t.params.unfrozen_fraction, expected[i].unfrozen);
    EXPECT_EQ(t.params.dense_units, expected[i].dense);
    EXPECT_EQ(t.params.dropout, expected[i].dropout);
    EXPECT_EQ(t.params.optimizer, expected[i].optimizer);
    EXPECT_EQ(t.params.lr, expected[i].lr);
    EXPECT_EQ(t.params.epochs, 7);
    EXPECT_EQ(t.params.loss, "cross_entropy");
  }
}

TEST(Expand, GridCountsAndOrder) {
  SweepSpec spec = parse_spec(
      "name: g\nmethod: grid\nparameters:\n  dense_units: {values: [256, 1024]}\n"
      "  dropout: {values: [0.3, 0.4, 0.5]}\n  lr: {value: 0.001}\n");
  auto trials = expand(spec);
  ASSERT_EQ(trials.size(), 6u);
  // First parameter varies slowest.
  EXPECT_EQ(trials[0].params.dense_units, 256);
  EXPECT_EQ(trials[0].params.dropout, 0.3);
  EXPECT_EQ(trials[1].params.dropout, 0.4);
  EXPECT_EQ(trials[3].params.dense_units, 1024);
  for (const auto& t : trials) EXPECT_EQ(t.params.lr, 0.001);
  std::set<std::string> ids;
  for (const auto& t : trials) ids.insert(t.id);
  EXPECT_EQ(ids.size(), 6u);
  EXPECT_EQ(trials[0].name, "dense_units=256 dropout=0.3");
  EXPECT_EQ(differing_params(trials), (std::vector<std::string>{"dense_units", "dropout"}));
}

TEST(Expand, ExampleSpecsExpand) {
  auto grid = expand(load_spec(std::string(MAMMOSWEEP_SOURCE_DIR) + "/sweeps/grid-example.yaml"));
  EXPECT_EQ(grid.size(), 12u);
  auto random =
      expand(load_spec(std::string(MAMMOSWEEP_SOURCE_DIR) + "/sweeps/random-example.yaml"));
  EXPECT_EQ(random.size(), 16u);
}

std::string random_spec(int seed) {
  return "name: r\nmethod: random\nmax_trials: 20\nseed: " + std::to_string(seed) +
         "\nparameters:\n  lr: {distribution: log_uniform, min: 1.0e-5, max: 1.0e-2}\n"
         "  dropout: {distribution: uniform, min: 0.1, max: 0.6}\n"
         "  dense_units: {distribution: int_uniform, min: 16, max: 64}\n"
         "  optimizer: {values: [adam, sgd]}\n";
}

TEST(Expand, RandomIsDeterministicPerSeedAndInRange) {
  auto a = expand(parse_spec(random_spec(1)));
  auto b = expand(parse_spec(random_spec(1)));
  auto c = expand(parse_spec(random_spec(2)));
  ASSERT_EQ(a.size(), 20u);
  ASSERT_EQ(c.size(), 20u);
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(a[i] == b[i]);
  int same = 0;
  for (std::size_t i = 0; i < a.size(); ++i) same += a[i].id == c[i].id;
  EXPECT_LT(same, 2);
  std::set<std::string> optimizers;
  double log_sum = 0;
  for (const auto& t : a) {
    EXPECT_GE(t.params.lr, 1e-5);
    EXPECT_LE(t.params.lr, 1e-2);
    EXPECT_GE(t.params.dropout, 0.1);
    EXPECT_LT(t.params.dropout, 0.6);
    EXPECT_GE(t.params.dense_units, 16);
    EXPECT_LE(t.params.dense_units, 64);
    optimizers.insert(t.params.optimizer);
    log_sum += std::log10(t.params.lr);
  }
  EXPECT_EQ(optimizers.size(), 2u);
  // log-uniform over [1e-5, 1e-2]: mean exponent -3.5, well away from the linear mean (~-2.3).
  EXPECT_NEAR(log_sum / 20, -3.5, 0.6);
}

TEST(TrialId, StableUnderReorderingAndPosition) {
  SweepSpec a = parse_spec(
      "name: s\ntraining: {epochs: 3, batch_size: 8}\nvariants:\n"
      "  - {name: x, lr: 0.001, dropout: 0.2}\n  - {name: y, lr: 0.01}\n");
  SweepSpec b = parse_spec(
      "variants:\n  - {name: y, lr: 0.01}\n  - {dropout: 0.2, name: renamed, lr: 1.0e-3}\n"
      "training: {batch_size: 8, epochs: 3}\nname: other\nseed: 99\n");
  auto ta = expand(a), tb = expand(b);
  ASSERT_EQ(ta.size(), 2u);
  ASSERT_EQ(tb.size(), 2u);
  EXPECT_EQ(ta[0].id, tb[1].id);  // same parameters, other position, name and key order
  EXPECT_EQ(ta[1].id, tb[0].id);
  EXPECT_NE(ta[0].id, ta[1].id);
  // Any parameter change changes the id.
  TrainingParams p = ta[0].params;
  p.augmentation.saturation += 0.01;
  EXPECT_NE(trial_id(p), ta[0].id);
}

TEST(TrialId, IdenticalTrialsAreMerged) {
  auto t = expand(parse_spec("name: s\nvariants:\n  - {name: a, lr: 0.1}\n  - {name: b, lr: 0.1}\n"));
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].name, "a");
}

TEST(TrialText, RoundTripsExactly) {
  auto trials = expand(parse_spec(random_spec(7)));
  for (const auto& t : trials) {
    std::string text = to_text(t);
    Trial back = trial_from_text(text);
    EXPECT_TRUE(back == t) << text;
    EXPECT_EQ(to_text(back), text);
    EXPECT_EQ(trial_id(back.params), t.id);
    EXPECT_EQ(back.params.lr, t.params.lr);  // bit-exact double
  }
}

TEST(TrialText, RejectsBadText) {
  EXPECT_THROW(trial_from_text("{"), std::invalid_argument);
  EXPECT_THROW(params_from_json(R"({"dropout": 3.0})"), std::invalid_argument);
  EXPECT_THROW(params_from_json(R"({"no_such": 1})"), std::invalid_argument);
}

}  // namespace
}  // namespace mammosweep::sweeps

namespace mammosweep::sweeps {
namespace {

TEST(Docs, SweepSpecDocumentsEveryParameter) {
  std::ifstream in(std::string(MAMMOSWEEP_SOURCE_DIR) + "/docs/sweep-spec.md");
  std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_FALSE(doc.empty());
  for (const auto& def : param_defs()) {
    EXPECT_NE(doc.find("| `" + def.name + "` |"), std::string::npos)
        << def.name << " is missing from docs/sweep-spec.md's parameter table";
  }
}

}  // namespace
}  // namespace mammosweep::sweeps
