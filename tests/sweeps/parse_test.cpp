// Spec parsing and validation: every error names file:line:column and what was expected.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sweeps/parse.h"
#include "sweeps/trial.h"
#include "tests/sweeps/spec_errors.h"

namespace mammosweep::sweeps {
namespace {

using ::testing::HasSubstr;
using test::errors_of;
using test::expect_one_error;

const char* kHead = "name: s\nmethod: variants\n";  // two lines; variants follow

TEST(Parse, MinimalVariantsSpec) {
  SweepSpec s = parse_spec(std::string(kHead) + "variants:\n  - name: a\n    lr: 0.001\n");
  EXPECT_EQ(s.name, "s");
  ASSERT_EQ(s.variants.size(), 1u);
  EXPECT_EQ(std::get<double>(s.variants[0].overrides.at("lr")), 0.001);
  EXPECT_EQ(s.training.epochs, 7);  // default
}

TEST(Parse, UnknownKeySuggestsNearest) {
  expect_one_error("name: s\nmethod: variants\ntraining:\n  dropuot: 0.3\nvariants: [{name: a}]\n",
                   4, 3, "did you mean 'dropout'?");
  expect_one_error("name: s\nmethd: variants\nvariants: [{name: a}]\n", 2, 1,
                   "did you mean 'method'?");
  expect_one_error("name: s\nvariants:\n  - name: a\n    brightness: 0.1\n", 4, 5,
                   "did you mean 'augmentation.brightness'?");
  expect_one_error("name: s\nvariants: [{name: a}]\ndata:\n  imagesize: 64\n", 4, 3,
                   "did you mean 'image_size'?");
}

TEST(Parse, WrongTypes) {
  expect_one_error("name: s\ntraining:\n  epochs: seven\nvariants: [{name: a}]\n", 3, 11,
                   "'epochs' expects an integer >= 1, got 'seven'");
  expect_one_error("name: s\ntraining:\n  epochs: 7.5\nvariants: [{name: a}]\n", 3, 11,
                   "expects an integer");
  expect_one_error("name: s\ntraining:\n  nesterov: maybe\nvariants: [{name: a}]\n", 3, 13,
                   "expects a boolean");
  expect_one_error("name: s\ntraining:\n  lr: [1, 2]\nvariants: [{name: a}]\n", 3, 7,
                   "got a list");
  expect_one_error("name: s\ntraining: 5\nvariants: [{name: a}]\n", 2, 11,
                   "training must be a mapping");
  expect_one_error("name: s\ntraining:\n  optimizer: adagrad\nvariants: [{name: a}]\n", 3, 14,
                   "one of adam, adamw, rmsprop or sgd");
}

// The fixed sections' real ranges: which end is included is part of the contract.
TEST(Parse, SectionRangesIncludeOrExcludeTheirEnds) {
  auto data = [](const std::string& kv) {
    return "name: s\ndata:\n  " + kv + "\nvariants: [{name: a}]\n";
  };
  expect_one_error(data("val_fraction: 0"), 3, 17,
                   "data.val_fraction expects a number in (0, 1), got '0'");
  expect_one_error(data("val_fraction: 1"), 3, 17, "data.val_fraction expects a number in (0, 1)");
  EXPECT_DOUBLE_EQ(parse_spec(data("val_fraction: 0.5")).data.val_fraction, 0.5);
  EXPECT_DOUBLE_EQ(parse_spec(data("test_fraction: 0")).data.test_fraction, 0.0);
  expect_one_error(data("test_fraction: 1"), 3, 18,
                   "data.test_fraction expects a number in [0, 1), got '1'");
  auto factor = [](const std::string& v) {
    return "name: s\nearly_stopping:\n  reduction_factor: " + v + "\nvariants: [{name: a}]\n";
  };
  const std::string factor_range = "early_stopping.reduction_factor expects a number in (1, ";
  expect_one_error(factor("1"), 3, 21, factor_range);
  EXPECT_DOUBLE_EQ(parse_spec(factor("1000000")).early_stopping.reduction_factor, 1e6);
  expect_one_error(factor("1000001"), 3, 21, factor_range);
}

// resources.gpus: CPU, a whole GPU, or a share 1/n of one (fractional GPUs, n <= 64).
TEST(Parse, ResourcesGpusAcceptsWholeOrOneOverN) {
  auto gpus = [](const std::string& v) {
    return "name: s\nresources:\n  gpus: " + v + "\nvariants: [{name: a}]\n";
  };
  EXPECT_EQ(parse_spec(gpus("0")).resources.gpus, 0.0);
  EXPECT_EQ(parse_spec(gpus("1")).resources.gpus, 1.0);
  EXPECT_EQ(parse_spec(gpus("0.25")).resources.gpus, 0.25);
  EXPECT_EQ(parse_spec(gpus("0.125")).resources.gpus, 0.125);
  // Written to 0.5%: the exact 1/n is stored.
  EXPECT_EQ(parse_spec(gpus("0.333")).resources.gpus, 1.0 / 3.0);
  EXPECT_EQ(parse_spec(gpus("0.015625")).resources.gpus, 1.0 / 64.0);
  EXPECT_EQ(parse_spec("name: s\nvariants: [{name: a}]\n").resources.gpus, 0.0);
  const std::string expects = "resources.gpus expects 0, 1 or a share 1/n of one GPU";
  expect_one_error(gpus("0.3"), 3, 9, expects + " (0.5, 0.25, 0.125, ..., n <= 64), got '0.3'");
  expect_one_error(gpus("0.4"), 3, 9, expects);
  expect_one_error(gpus("-0.5"), 3, 9, expects);
  expect_one_error(gpus("0.01"), 3, 9, expects);  // 1/100: n above 64
  expect_one_error(gpus("half"), 3, 9, expects);
  expect_one_error(gpus("2"), 3, 9, "use resources.replicas for more GPUs per trial");
  expect_one_error(gpus("1.5"), 3, 9, "a rank drives one GPU");
}

TEST(Parse, CheckpointRetention) {
  auto spec = [](const std::string& body) {
    return "name: s\ncheckpoints:\n" + body + "variants: [{name: a}]\n";
  };
  const SweepSpec d = parse_spec("name: s\nvariants: [{name: a}]\n");
  EXPECT_EQ(d.checkpoints.keep_top_trials, std::optional<int>(5));
  EXPECT_EQ(d.checkpoints.keep, CheckpointPolicy::Keep::best_and_last);
  SweepSpec s = parse_spec(spec("  keep_top_trials: 2\n  keep: last\n"));
  EXPECT_EQ(s.checkpoints.keep_top_trials, std::optional<int>(2));
  EXPECT_EQ(s.checkpoints.keep, CheckpointPolicy::Keep::last);
  s = parse_spec(spec("  keep_top_trials: all\n  keep: best\n"));
  EXPECT_FALSE(s.checkpoints.keep_top_trials.has_value());
  EXPECT_EQ(s.checkpoints.keep, CheckpointPolicy::Keep::best);
  expect_one_error(spec("  keep_top_trials: 0\n"), 3, 20,
                   "checkpoints.keep_top_trials expects an integer >= 1, or all");
  expect_one_error(spec("  keep_top_trials: many\n"), 3, 20, "got 'many'");
  expect_one_error(spec("  keep: newest\n"), 3, 9,
                   "checkpoints.keep expects one of best, last, best_and_last, got 'newest'");
  expect_one_error(spec("  keep_best: 3\n"), 3, 3, "unknown key 'keep_best' in checkpoints");
  expect_one_error("name: s\ncheckpoints: 5\nvariants: [{name: a}]\n", 2, 14, "checkpoints");
}

TEST(Parse, OutOfRangeValues) {
  auto one = [](const std::string& key, const std::string& value, const std::string& expected) {
    std::string text = "name: s\ntraining:\n  " + key + ": " + value + "\nvariants: [{name: a}]\n";
    expect_one_error(text, 3, static_cast<int>(key.size()) + 5, expected);
  };
  one("dropout", "1.0", "a number in [0, 1)");
  one("dropout", "-0.1", "a number in [0, 1)");
  one("unfrozen_fraction", "1.5", "a number in [0, 1]");
  one("lr", "0", "a number > 0");
  one("lr", "-1e-3", "a number > 0");
  one("epochs", "0", "an integer >= 1");
  one("batch_size", "0", "an integer >= 1");
  expect_one_error("name: s\ndata:\n  image_size: 16\nvariants: [{name: a}]\n", 3, 15,
                   "data.image_size expects an integer in [32, 4096], got '16'");
  // A bad value inside a values list is reported at that element.
  expect_one_error("name: s\nmethod: grid\nparameters:\n  dropout: {values: [0.3, 1.2]}\n", 4,
                   27, "'dropout' expects a number in [0, 1)");
}

TEST(Parse, EmptyValueLists) {
  expect_one_error("name: s\nmethod: grid\nparameters:\n  lr: {values: []}\n", 4, 16,
                   "non-empty list");
  expect_one_error("name: s\nmethod: variants\nvariants: []\n", 3, 11, "non-empty list");
}

TEST(Parse, GridCap) {
  // 5 * 5 * 3 = 75 trials > 64.
  std::string grid =
      "name: s\nmethod: grid\nparameters:\n  lr: {values: [1, 2, 3, 4, 5]}\n"
      "  dense_units: {values: [1, 2, 3, 4, 5]}\n  dropout: {values: [0.1, 0.2, 0.3]}\n";
  expect_one_error(grid, 4, 3, "the grid expands to 75 trials, more than the cap of 64; set "
                               "max_trials: 75 to allow it");
  EXPECT_NO_THROW(parse_spec(grid + "max_trials: 75\n"));
  expect_one_error(grid + "max_trials: 50\n", 4, 3, "more than max_trials 50");
}

TEST(Parse, DuplicateAndUnsafeVariantNames) {
  expect_one_error("name: s\nvariants:\n  - name: Model 1\n  - name: Model 1\n", 4, 11,
                   "duplicate variant name 'Model 1' (first used on line 3)");
  expect_one_error("name: s\nvariants:\n  - name: ../../etc\n", 3, 11, "is not allowed");
  expect_one_error("name: s\nvariants:\n  - name: a/b\n", 3, 11, "is not allowed");
  expect_one_error("name: ../escape\nvariants:\n  - name: a\n", 1, 7, "is not allowed");
}

TEST(Parse, MethodRules) {
  expect_one_error("name: s\nmethod: random\nparameters:\n  lr: {values: [0.1]}\n", 2, 9,
                   "method random needs max_trials");
  expect_one_error("name: s\nmethod: grid\nparameters:\n  lr: {distribution: uniform, min: 0.1, "
                   "max: 0.2}\n",
                   4, 3, "method grid needs value: or values:");
  expect_one_error("name: s\nmethod: random\nmax_trials: 2\nparameters:\n  lr: {distribution: "
                   "log_uniform, min: 0.1, max: 0.01}\n",
                   5, 50, "max (0.01) must be greater than min (0.1)");
  expect_one_error("name: s\nmethod: random\nmax_trials: 2\nparameters:\n  optimizer: "
                   "{distribution: uniform, min: 0, max: 1}\n",
                   5, 29, "distribution uniform does not fit it");
  expect_one_error("name: s\nmethod: bayesian\nvariants: [{name: a}]\n", 2, 9,
                   "method expects one of grid, random, variants, bayes");
  expect_one_error("name: s\nmethod: sobol\nvariants: [{name: a}]\n", 2, 9,
                   "method expects one of grid, random, variants, bayes");
}

TEST(Parse, BayesRules) {
  const std::string lr = "parameters:\n  lr: {distribution: log_uniform, min: 1.0e-5, max: 0.1}\n";
  SweepSpec spec = parse_spec("name: s\nmethod: bayes\nmax_trials: 30\n" + lr);
  EXPECT_EQ(spec.method, Method::bayes);
  EXPECT_EQ(*spec.max_trials, 30);
  EXPECT_EQ(spec.n_startup_trials, 10);  // Optuna's default
  EXPECT_TRUE(expand(spec).empty());     // proposed while the sweep runs
  spec = parse_spec("name: s\nmethod: bayes\nmax_trials: 30\nn_startup_trials: 0\n" + lr);
  EXPECT_EQ(spec.n_startup_trials, 0);
  expect_one_error("name: s\nmethod: bayes\n" + lr, 2, 9, "method bayes needs max_trials");
  expect_one_error("name: s\nmethod: bayes\nmax_trials: 3\nn_startup_trials: -1\n" + lr, 4, 19,
                   "n_startup_trials expects an integer >= 0");
  expect_one_error("name: s\nmethod: random\nmax_trials: 3\nn_startup_trials: 2\n" + lr, 4, 19,
                   "n_startup_trials: is only used with method bayes, but method is random");
  expect_one_error("name: s\nmethod: bayes\nmax_trials: 3\nparameters:\n  lr: {value: 0.1}\n", 5,
                   3, "method bayes needs at least one parameter to search");
  // An integer range without an integer (random used to draw 0 from it, outside the range).
  expect_one_error("name: s\nmethod: bayes\nmax_trials: 3\nparameters:\n  dropout: "
                   "{distribution: int_uniform, min: 0.2, max: 0.8}\n",
                   5, 55, "parameters.dropout: int_uniform draws integers, but [0.2, 0.8] "
                          "contains none");
  expect_one_error("name: s\nmethod: bayes\nmax_trials: 3\n", 1, 1,
                   "method bayes needs a parameters: mapping");
}

TEST(Parse, InvalidYamlNamesPosition) {
  auto ds = errors_of("name: s\ntraining:\n  lr: [1, 2\nvariants: []\n");
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_GE(ds[0].line, 3);
  EXPECT_GT(ds[0].column, 0);
  EXPECT_THAT(ds[0].message, HasSubstr("invalid YAML"));
}

TEST(Parse, AllErrorsReportedAtOnce) {
  auto ds = errors_of(
      "name: s\n"
      "training:\n"
      "  dropout: 2\n"          // line 3
      "  epochs: 0\n"           // line 4
      "  optimzer: adam\n"      // line 5
      "variants:\n"
      "  - name: a\n"
      "  - name: a\n");         // line 8
  ASSERT_EQ(ds.size(), 4u) << SpecError(ds).what();
  std::vector<int> lines;
  for (const auto& d : ds) lines.push_back(d.line);
  EXPECT_THAT(lines, ::testing::UnorderedElementsAre(3, 4, 5, 8));
  EXPECT_THAT(SpecError(ds).what(), HasSubstr("4 errors"));
}

TEST(Parse, MissingFileIsASpecError) {
  try {
    load_spec("/nonexistent/dir/spec.yaml");
    FAIL();
  } catch (const SpecError& e) {
    EXPECT_THAT(e.what(), HasSubstr("/nonexistent/dir/spec.yaml: error: cannot read the spec"));
  }
}

TEST(Parse, SafeNames) {
  EXPECT_TRUE(is_safe_name("Model 1"));
  EXPECT_TRUE(is_safe_name("lr=1e-4 dropout=0.3"));
  for (const char* bad : {"", ".", "..", "a/b", "a\\b", ".hidden", "x..y", "tab\tname"}) {
    EXPECT_FALSE(is_safe_name(bad)) << bad;
  }
}

TEST(Parse, DidYouMean) {
  EXPECT_EQ(did_you_mean("learning_rat", {"lr", "learning_rate"}), "learning_rate");
  EXPECT_EQ(did_you_mean("zzzzzz", {"lr", "epochs"}), "");
}

}  // namespace
}  // namespace mammosweep::sweeps

namespace mammosweep::sweeps {
namespace {

// selection: rule, alpha and threshold, with the defaults when the section is absent.
TEST(Selection, ParsesEveryForm) {
  const std::string two = "variants: [{name: a, lr: 0.001}, {name: b, lr: 0.01}]\n";
  SweepSpec s = parse_spec("name: s\n" + two);
  EXPECT_EQ(s.selection.rule, SelectionSpec::Rule::best);
  EXPECT_DOUBLE_EQ(s.selection.alpha, 0.05);
  EXPECT_EQ(s.selection.threshold.kind, ThresholdRule::Kind::fixed);
  EXPECT_DOUBLE_EQ(s.selection.threshold.value, 0.5);

  s = parse_spec("name: s\nselection:\n  rule: one_se\n  alpha: 0.1\n  threshold: youden\n" + two);
  EXPECT_EQ(s.selection.rule, SelectionSpec::Rule::one_se);
  EXPECT_DOUBLE_EQ(s.selection.alpha, 0.1);
  EXPECT_EQ(s.selection.threshold.kind, ThresholdRule::Kind::youden);
  EXPECT_STREQ(to_string(s.selection.rule), "one_se");

  s = parse_spec("name: s\nselection: {threshold: sensitivity@0.9}\n" + two);
  EXPECT_EQ(s.selection.threshold.kind, ThresholdRule::Kind::sensitivity);
  EXPECT_DOUBLE_EQ(s.selection.threshold.value, 0.9);
  EXPECT_EQ(to_string(s.selection.threshold), "sensitivity@0.9");
  s = parse_spec("name: s\nselection: {threshold: specificity@0.95}\n" + two);
  EXPECT_EQ(s.selection.threshold.kind, ThresholdRule::Kind::specificity);
  EXPECT_DOUBLE_EQ(s.selection.threshold.value, 0.95);
  s = parse_spec("name: s\nselection: {threshold: 0.35}\n" + two);
  EXPECT_EQ(s.selection.threshold.kind, ThresholdRule::Kind::fixed);
  EXPECT_DOUBLE_EQ(s.selection.threshold.value, 0.35);
  s = parse_spec("name: s\nselection: {threshold: 1}\n" + two);
  EXPECT_DOUBLE_EQ(s.selection.threshold.value, 1.0);
}

TEST(Selection, BadValuesNamePositionAndSuggest) {
  const std::string v = "variants: [{name: a, lr: 0.001}, {name: b, lr: 0.01}]\n";
  expect_one_error("name: s\nselection:\n  rule: one-se\n" + v, 3, 9,
                   "selection.rule expects best or one_se, got 'one-se' (did you mean 'one_se'?)");
  expect_one_error("name: s\nselection:\n  rule: [best]\n" + v, 3, 9,
                   "selection.rule expects best or one_se, got a list");
  expect_one_error("name: s\nselection:\n  alpha: 0.5\n" + v, 3, 10,
                   "selection.alpha expects a number in (0, 0.5), got '0.5'");
  expect_one_error("name: s\nselection:\n  alpha: 0\n" + v, 3, 10, "selection.alpha expects");
  expect_one_error("name: s\nselection:\n  alpah: 0.01\n" + v, 3, 3,
                   "unknown key 'alpah' in selection (did you mean 'alpha'?)");
  expect_one_error("name: s\nselection:\n  threshold: 1.5\n" + v, 3, 14,
                   "selection.threshold expects a number in [0, 1], youden, sensitivity@X or "
                   "specificity@X with 0 < X < 1, got '1.5'");
  expect_one_error("name: s\nselection:\n  threshold: sensitivty@0.9\n" + v, 3, 14,
                   "(did you mean 'sensitivity@0.9'?)");
  expect_one_error("name: s\nselection:\n  threshold: yuoden\n" + v, 3, 14,
                   "(did you mean 'youden'?)");
  expect_one_error("name: s\nselection:\n  threshold: specificity@1\n" + v, 3, 14,
                   "selection.threshold specificity@X expects a target rate X with 0 < X < 1, "
                   "got '1'");
  expect_one_error("name: s\nselection:\n  threshold: sensitivity@high\n" + v, 3, 14,
                   "got 'high'");
  expect_one_error("name: s\nselection: one_se\n" + v, 2, 12, "selection must be a mapping");
}

// one_se needs at least two trials to compare: a spec that expands to one is refused.
TEST(Selection, OneSeNeedsTwoTrials) {
  expect_one_error("name: s\nselection:\n  rule: one_se\nvariants: [{name: a}]\n", 3, 9,
                   "selection.rule one_se picks among the trials that are not significantly "
                   "worse than the best one, but this spec expands to 1 trial");
  // Two variants with identical parameters merge into one trial.
  expect_one_error("name: s\nselection: {rule: one_se}\n"
                   "variants: [{name: a, lr: 0.01}, {name: b, lr: 0.01}]\n",
                   2, 19, "expands to 1 trial");
  // A grid of one value is one trial; of two values, two.
  expect_one_error("name: s\nmethod: grid\nselection: {rule: one_se}\n"
                   "parameters:\n  lr: {values: [0.01]}\n",
                   3, 19, "expands to 1 trial");
  EXPECT_NO_THROW(parse_spec("name: s\nmethod: grid\nselection: {rule: one_se}\n"
                             "parameters:\n  lr: {values: [0.01, 0.001]}\n"));
  EXPECT_NO_THROW(parse_spec("name: s\nselection: {rule: best}\nvariants: [{name: a}]\n"));
}

TEST(Overrides, ApplyAndValidate) {
  const std::string path = std::string(MAMMOSWEEP_SOURCE_DIR) + "/sweeps/week7.yaml";
  SweepSpec s = load_spec(path, {"data.image_size=64", "training.epochs=2",
                                 "training.augmentation.hflip=false", "data.root=/x/y"});
  EXPECT_EQ(s.data.image_size, 64);
  EXPECT_EQ(s.data.root, "/x/y");
  EXPECT_EQ(s.training.epochs, 2);
  EXPECT_FALSE(s.training.augmentation.hflip);
  EXPECT_EQ(s.variants.size(), 3u);
  EXPECT_NE(s.source_text.find("# --set data.image_size=64"), std::string::npos);
  EXPECT_NE(s.source_text, load_spec(path).source_text);
  // Invalid values are validated like the file's own.
  try {
    load_spec(path, {"data.image_size=8"});
    FAIL();
  } catch (const SpecError& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("data.image_size expects an integer in [32, 4096]"));
  }
  EXPECT_THROW(load_spec(path, {"no_equals_sign"}), SpecError);
  EXPECT_THROW(load_spec(path, {"training.dropuot=0.1"}), SpecError);
}

}  // namespace
}  // namespace mammosweep::sweeps
