// W&B sweep files: W&B's keys with W&B's meaning, and mammosweep's own specs unchanged.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "sweeps/parse.h"
#include "sweeps/trial.h"
#include "tests/sweeps/spec_errors.h"

namespace mammosweep::sweeps {
namespace {

using ::testing::HasSubstr;

std::vector<Diagnostic> errors_of(const std::string& text) { return test::errors_of(text, "w.yaml"); }
void expect_one_error(const std::string& text, int line, int col, const std::string& fragment) {
  test::expect_one_error(text, line, col, fragment, "w.yaml");
}

const Domain& domain(const SweepSpec& s, const std::string& name) {
  for (const auto& [n, d] : s.parameters) {
    if (n == name) return d;
  }
  throw std::runtime_error("no parameter " + name);
}

bool has_note(const SweepSpec& s, const std::string& fragment) {
  for (const auto& n : s.notes) {
    if (n.find(fragment) != std::string::npos) return true;
  }
  return false;
}

// A W&B file is recognised by a key only W&B has; `program:` is the usual one.
const std::string kWandb =
    "program: train.py\nmethod: random\nrun_cap: 4\nmetric: {name: val_auc, goal: maximize}\n"
    "parameters:\n";
const std::string kNative =
    "name: s\nmethod: random\nmax_trials: 4\nparameters:\n";

TEST(Wandb, LogUniformTakesExponentsOnlyInWandbFiles) {
  const std::string lr = "  lr: {distribution: log_uniform, min: -9.2103, max: -6.9078}\n";
  SweepSpec w = parse_spec(kWandb + lr, "w.yaml");
  const Domain& d = domain(w, "lr");
  EXPECT_EQ(d.kind, Domain::Kind::log_uniform);
  EXPECT_NEAR(d.min, std::exp(-9.2103), 1e-15);
  EXPECT_NEAR(d.max, std::exp(-6.9078), 1e-15);
  EXPECT_TRUE(has_note(w, "w.yaml:6:22: note: parameters.lr: log_uniform takes exponents"));
  EXPECT_TRUE(has_note(w, "'program' at line 1"));
  // The same key in a mammosweep spec keeps its meaning: values.
  SweepSpec n = parse_spec(kNative + "  lr: {distribution: log_uniform, min: 1.0e-5, max: 1.0e-3}\n");
  EXPECT_EQ(domain(n, "lr").min, 1e-5);
  EXPECT_EQ(domain(n, "lr").max, 1e-3);
  EXPECT_TRUE(n.notes.empty());
  // Exponents in a mammosweep spec: an error that points at the W&B meaning.
  expect_one_error(kNative + "  lr: {distribution: log_uniform, min: -9.2, max: -6.9}\n", 5, 40,
                   "W&B's log_uniform takes exponents");
}

TEST(Wandb, EveryDistributionMapsOntoADomain) {
  struct Case {
    std::string yaml;
    Domain::Kind kind;
    double min, max, q;
  };
  const double e = std::exp(1.0);
  const std::vector<Case> cases{
      {"{distribution: uniform, min: 0.1, max: 0.5}", Domain::Kind::uniform, 0.1, 0.5, 0},
      {"{min: 0.1, max: 0.5}", Domain::Kind::uniform, 0.1, 0.5, 0},  // W&B infers uniform
      {"{distribution: q_uniform, min: 0.1, max: 0.5, q: 0.05}", Domain::Kind::uniform, 0.1, 0.5,
       0.05},
      {"{distribution: q_uniform, min: 0.1, max: 0.5}", Domain::Kind::uniform, 0.1, 0.5, 1},
      {"{distribution: log_uniform_values, min: 0.01, max: 0.5}", Domain::Kind::log_uniform, 0.01,
       0.5, 0},
      {"{distribution: q_log_uniform_values, min: 0.01, max: 0.5, q: 0.01}",
       Domain::Kind::log_uniform, 0.01, 0.5, 0.01},
      {"{distribution: log_uniform, min: -2, max: -1}", Domain::Kind::log_uniform, 1 / (e * e),
       1 / e, 0},
      {"{distribution: q_log_uniform, min: -2, max: -1, q: 0.1}", Domain::Kind::log_uniform,
       1 / (e * e), 1 / e, 0.1},
      // log(1/X) ~ U(min, max): X log-uniform on [e^-max, e^-min].
      {"{distribution: inv_log_uniform, min: 1, max: 2}", Domain::Kind::log_uniform,
       1 / (e * e), 1 / e, 0},
      // log(1/X) ~ U(log(1/max), log(1/min)): X log-uniform on [min, max].
      {"{distribution: inv_log_uniform_values, min: 0.01, max: 0.5}", Domain::Kind::log_uniform,
       0.01, 0.5, 0},
  };
  for (const auto& c : cases) {
    SweepSpec s = parse_spec(kWandb + "  dropout: " + c.yaml + "\n", "w.yaml");
    const Domain& d = domain(s, "dropout");
    EXPECT_EQ(d.kind, c.kind) << c.yaml;
    EXPECT_NEAR(d.min, c.min, 1e-12) << c.yaml;
    EXPECT_NEAR(d.max, c.max, 1e-12) << c.yaml;
    EXPECT_EQ(d.q, c.q) << c.yaml;
  }
  SweepSpec s = parse_spec(kWandb +
                           "  dropout: {distribution: normal, mu: 0.4, sigma: 0.1}\n"
                           "  weight_decay: {distribution: q_log_normal, mu: -9, sigma: 1, q: 0.0001}\n"
                           "  momentum: {distribution: beta, a: 2, b: 5}\n"
                           "  label_smoothing: {distribution: q_beta, q: 0.05}\n"
                           "  dense_units: {distribution: q_normal, mu: 512, sigma: 64, q: 32}\n"
                           "  epochs: {min: 2, max: 4}\n"
                           "  optimizer: {distribution: categorical, values: [adam, sgd]}\n"
                           "  lr_schedule: {values: [none, cosine], probabilities: [0.25, 0.75]}\n"
                           "  batch_size: {distribution: constant, value: 16}\n",
                           "w.yaml");
  EXPECT_EQ(domain(s, "dropout").kind, Domain::Kind::normal);
  EXPECT_EQ(domain(s, "dropout").mu, 0.4);
  EXPECT_EQ(domain(s, "weight_decay").kind, Domain::Kind::log_normal);
  EXPECT_EQ(domain(s, "weight_decay").q, 0.0001);
  EXPECT_EQ(domain(s, "momentum").a, 2);
  EXPECT_EQ(domain(s, "label_smoothing").b, 1);  // W&B's defaults a = b = 1
  EXPECT_EQ(domain(s, "dense_units").q, 32);
  EXPECT_EQ(domain(s, "epochs").kind, Domain::Kind::int_uniform);  // integer min and max
  EXPECT_EQ(domain(s, "optimizer").values.size(), 2u);
  EXPECT_EQ(domain(s, "lr_schedule").weights, (std::vector<double>{0.25, 0.75}));
  EXPECT_EQ(domain(s, "batch_size").kind, Domain::Kind::value);
  EXPECT_TRUE(has_note(s, "lies outside dropout's range"));  // normal(0.4, 0.1) vs [0, 1)
  // Every draw is a valid value of its parameter.
  for (const auto& t : expand(s)) {
    EXPECT_EQ(t.params.dense_units % 32, 0);
    EXPECT_GE(t.params.dropout, 0);
    EXPECT_LT(t.params.dropout, 1);
    EXPECT_EQ(t.params.batch_size, 16);
  }
}

TEST(Wandb, DistributionErrorsNameTheirPlace) {
  expect_one_error(kWandb + "  dense_units: {distribution: uniform, min: 64, max: 512}\n", 6, 31,
                   "use int_uniform, or q_uniform with an integer q");
  expect_one_error(kWandb + "  dropout: {distribution: normal, mu: 5, sigma: 0.1}\n", 6, 27,
                   "puts 0% of its draws in dropout's range");
  expect_one_error(kWandb + "  dropout: {distribution: q_uniform, min: 0.1, max: 0.9, q: 0.5}\n",
                   6, 53, "reaches 1 after rounding by q");
  expect_one_error(kWandb + "  dropout: {distribution: normal, min: 0, sigma: 0.1}\n", 6, 40,
                   "distribution normal takes mu, sigma, not min:");
  expect_one_error(kWandb + "  dropout: {distribution: normall}\n", 6, 27,
                   "unknown distribution 'normall' (did you mean 'normal'?)");
  expect_one_error(kWandb + "  dropout: {distribution: gaussian}\n", 6, 27,
                   "distribution expects one of beta, categorical,");
  expect_one_error(kWandb + "  optimizer: {values: [adam, sgd], probabilities: [0.5, 0.6]}\n",
                   6, 51, "sum to 1");
  expect_one_error(kWandb + "  epochs: {distribution: int_uniform, min: 1.5, max: 4}\n", 6, 44,
                   "int_uniform expects integer min and max");
}

TEST(Wandb, EarlyTerminateBecomesAshaWithWandbsBrackets) {
  auto rungs_of = [](const std::string& et) {
    return parse_spec(kWandb + "  lr: {values: [0.001]}\nearly_terminate: " + et + "\n", "w.yaml")
        .early_stopping;
  };
  EarlyStopping es = rungs_of("{type: hyperband, min_iter: 3}");
  EXPECT_EQ(es.policy, "asha");
  EXPECT_EQ(es.reduction_factor, 3);  // W&B's default eta
  EXPECT_EQ(es.grace_epochs, 3);
  ASSERT_GE(es.rungs.size(), 4u);
  EXPECT_EQ(std::vector<int>(es.rungs.begin(), es.rungs.begin() + 4),
            (std::vector<int>{3, 9, 27, 81}));
  // max_iter 27, s 2: 27/3 = 9 and 27/9 = 3. max_iter 30: int(10), int(3.33).
  EXPECT_EQ(rungs_of("{type: hyperband, max_iter: 27, s: 2, eta: 3}").rungs,
            (std::vector<int>{3, 9}));
  EXPECT_EQ(rungs_of("{type: hyperband, max_iter: 30, s: 2}").rungs, (std::vector<int>{3, 10}));
  // s larger than the brackets that fit: 5/2 = 2, 5/4 = 1, 5/8 < 1 stops.
  EXPECT_EQ(rungs_of("{type: hyperband, max_iter: 5, s: 5, eta: 2}").rungs,
            (std::vector<int>{1, 2}));
  expect_one_error(kWandb + "  lr: {values: [0.001]}\nearly_terminate: {type: hyperband, "
                            "max_iter: 27}\n",
                   7, 46, "max_iter needs s:");
  expect_one_error(kWandb + "  lr: {values: [0.001]}\nearly_terminate: {type: median, "
                            "min_iter: 3}\n",
                   7, 25, "expects one of hyperband");
  expect_one_error(kWandb + "  lr: {values: [0.001]}\nearly_terminate: {type: hyperband, "
                            "min_iter: 3}\nearly_stopping: {policy: asha}\n",
                   7, 18, "not both");
}

TEST(Wandb, RunCapBoundsRandomAndGrid) {
  SweepSpec r = parse_spec(kWandb + "  lr: {distribution: log_uniform_values, min: 1.0e-5, "
                                    "max: 1.0e-3}\n",
                           "w.yaml");
  EXPECT_EQ(r.run_cap, 4);
  EXPECT_EQ(expand(r).size(), 4u);  // random: run_cap draws when max_trials is not given
  // Grid: W&B runs the first run_cap grid points; a grid over the cap of 64 is fine then.
  SweepSpec g = parse_spec(
      "program: t.py\nmethod: grid\nrun_cap: 5\nmetric: {name: val_loss}\nparameters:\n"
      "  dense_units: {values: [64, 128, 256, 512, 1024, 2048, 4096, 8192, 16, 32]}\n"
      "  epochs: {distribution: int_uniform, min: 1, max: 10}\n",
      "w.yaml");
  auto trials = expand(g);
  ASSERT_EQ(trials.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(trials[i].params.dense_units, 64);
    EXPECT_EQ(trials[i].params.epochs, i + 1);  // int_uniform enumerated, as W&B's grid does
  }
}

TEST(Wandb, GridEnumeratesQUniformAsArange) {
  SweepSpec g = parse_spec("name: s\nmethod: grid\nparameters:\n"
                           "  dropout: {distribution: q_uniform, min: 0.1, max: 0.5, q: 0.1}\n");
  auto trials = expand(g);
  ASSERT_EQ(trials.size(), 4u);  // 0.1, 0.2, 0.3, 0.4: numpy.arange excludes max
  EXPECT_EQ(trials[2].params.dropout, 0.3);
}

TEST(Wandb, MetricGoalAndTarget) {
  SweepSpec s = parse_spec(
      "program: t.py\nmethod: random\nrun_cap: 2\nmetric: {name: val_auc, goal: maximize, "
      "target: 0.9, impute: worst}\nparameters:\n  lr: {values: [0.001]}\n",
      "w.yaml");
  EXPECT_EQ(s.metric.target, 0.9);
  EXPECT_TRUE(has_note(s, "metric.impute is used by W&B's bayes search only"));
  // W&B's default goal is minimize: a maximized metric must say so.
  expect_one_error("program: t.py\nmethod: random\nrun_cap: 2\nmetric: {name: val_auc}\n"
                   "parameters:\n  lr: {values: [0.001]}\n",
                   4, 9, "metric.goal is required in a W&B sweep file");
  // val_loss: both default to minimize.
  EXPECT_EQ(parse_spec("program: t.py\nmethod: random\nrun_cap: 2\nmetric: {name: val_loss}\n"
                       "parameters:\n  lr: {values: [0.001]}\n",
                       "w.yaml")
                .metric.goal,
            Goal::minimize);
}

TEST(Wandb, ServerKeysAreAcceptedWithANote) {
  SweepSpec s = parse_spec(
      "program: train.py\ncommand: [\"${env}\", python, \"${program}\", \"${args}\"]\n"
      "entity: lab\nproject: mammo\nmethod: random\nrun_cap: 2\n"
      "metric: {name: val_loss, goal: minimize}\nparameters:\n  lr: {values: [0.001]}\n",
      "/some/dir/my-sweep.yaml");
  EXPECT_EQ(s.name, "my-sweep");  // W&B's name is optional: the file's name
  EXPECT_TRUE(has_note(s, "my-sweep.yaml:1:10: note: 'program' tells W&B's agent"));
  EXPECT_TRUE(has_note(s, "my-sweep.yaml:2:10: note: 'command'"));
  EXPECT_TRUE(has_note(s, "my-sweep.yaml:3:9: note: 'entity'"));
  EXPECT_TRUE(has_note(s, "my-sweep.yaml:4:10: note: 'project'"));
  expect_one_error("program: t.py\nmethod: random\nrun_cap: 2\nmetric: {name: val_loss}\n"
                   "metrics: [{name: val_loss}, {name: val_auc}]\nparameters:\n  lr: {values: [0.001]}\n",
                   5, 10, "ranks trials by one metric");
}

TEST(Wandb, NestedParametersBecomeDottedNames) {
  SweepSpec s = parse_spec(kWandb + "  augmentation:\n    parameters:\n      brightness: "
                                    "{values: [0.1, 0.3]}\n",
                           "w.yaml");
  ASSERT_EQ(s.parameters.size(), 1u);
  EXPECT_EQ(s.parameters[0].first, "augmentation.brightness");
}

TEST(Wandb, MethodBayesWithRunCapAsItsBudget) {
  SweepSpec s = parse_spec("program: t.py\nmethod: bayes\nrun_cap: 2\nmetric: {name: val_loss}\n"
                           "parameters:\n  lr: {values: [0.001, 0.01]}\n", "w.yaml");
  EXPECT_EQ(s.method, Method::bayes);
  EXPECT_EQ(trial_budget(s), 2);
}

TEST(Wandb, UnknownKeyListsEachKeyOnce) {
  auto ds = errors_of("name: s\nzzzzzzzzzzzzzzzzzz: 1\nvariants: [{name: a}]\n");
  ASSERT_EQ(ds.size(), 1u);
  const std::string& m = ds[0].message;
  ASSERT_THAT(m, HasSubstr("expected one of: "));
  std::size_t count = 0;
  for (std::size_t at = m.find("method"); at != std::string::npos; at = m.find("method", at + 1)) {
    ++count;
  }
  EXPECT_EQ(count, 1u) << m;
}

TEST(Wandb, TheExampleFileParses) {
  SweepSpec s = load_spec(std::string(MAMMOSWEEP_SOURCE_DIR) + "/sweeps/wandb-example.yaml");
  EXPECT_EQ(s.method, Method::random);
  EXPECT_EQ(s.early_stopping.policy, "asha");
  EXPECT_EQ(expand(s).size(), static_cast<std::size_t>(*s.run_cap));
  EXPECT_TRUE(has_note(s, "'program'"));
}

// The same file with W&B's `method: bayes` runs too: every one of its distributions
// (q_uniform, q_log_uniform_values, exponent log_uniform, beta) is a search dimension. Read
// as `run wandb-example.yaml --set method=bayes` reads it: the notes the override causes are
// kept too (positioned in the merged document).
TEST(Wandb, TheExampleFileRunsWithMethodBayes) {
  SweepSpec s =
      load_spec(std::string(MAMMOSWEEP_SOURCE_DIR) + "/sweeps/wandb-example.yaml", {"method=bayes"});
  EXPECT_EQ(s.method, Method::bayes);
  EXPECT_EQ(trial_budget(s), *s.run_cap);
  EXPECT_TRUE(has_note(s, "parameters.augmentation.brightness: method bayes searches beta over "
                          "[0, 1]"));
  EXPECT_TRUE(has_note(s, "'program'"));
}

}  // namespace
}  // namespace mammosweep::sweeps
