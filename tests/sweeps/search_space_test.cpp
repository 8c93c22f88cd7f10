// A spec's searched parameters as a sampler's dimensions and back (sweeps/search_space.h):
// each Domain kind maps to the documented dimension, params_at writes typed values, and
// point_of reads a stored trial back to the same point (or refuses one outside the space).
#include "sweeps/search_space.h"

#include <gtest/gtest.h>

#include <cmath>

#include "sweeps/parse.h"
#include "sweeps/trial.h"

namespace mammosweep::sweeps {
namespace {

const char* kSpec = R"(name: s
method: bayes
max_trials: 5
training: {epochs: 4}
parameters:
  lr: {distribution: log_uniform, min: 1.0e-5, max: 0.1}
  dropout: {distribution: uniform, min: 0.1, max: 0.6}
  dense_units: {distribution: int_uniform, min: 16, max: 256}
  optimizer: {values: [adam, sgd]}
  batch_size: {value: 16}
  unfrozen_fraction: {values: [0.25, 0.5, 1.0]}
)";

TEST(SearchSpace, EachDomainKindMapsToItsDimension) {
  const SweepSpec spec = parse_spec(kSpec);
  const Space space = search_space(spec);
  ASSERT_EQ(space.size(), 5u);  // batch_size (value:) is not searched
  EXPECT_EQ(space[0].name, "lr");
  EXPECT_TRUE(space[0].log);
  EXPECT_EQ(space[0].low, 1e-5);
  EXPECT_EQ(space[0].high, 0.1);
  EXPECT_EQ(space[1].name, "dropout");
  EXPECT_FALSE(space[1].log);
  EXPECT_EQ(space[1].step, 0);
  EXPECT_EQ(space[2].step, 1);
  EXPECT_EQ(space[2].low, 16);
  EXPECT_EQ(space[2].high, 256);
  EXPECT_EQ(space[3].kind, Dimension::Kind::categorical);
  EXPECT_EQ(space[3].choices, 2);
  EXPECT_EQ(space[4].choices, 3);
}

TEST(SearchSpace, ParamsAtAndPointOfAreInverse) {
  const SweepSpec spec = parse_spec(kSpec);
  const Point x = {3e-4, 0.35, 128, 1, 2};
  const TrainingParams p = params_at(spec, x);
  EXPECT_EQ(p.lr, 3e-4);
  EXPECT_EQ(p.dropout, 0.35);
  EXPECT_EQ(p.dense_units, 128);
  EXPECT_EQ(p.optimizer, "sgd");
  EXPECT_EQ(p.unfrozen_fraction, 1.0);
  EXPECT_EQ(p.batch_size, 16);  // the value: parameter
  EXPECT_EQ(p.epochs, 4);       // the training default
  // Through the store's JSON and back, as a resumed sweep reads it.
  EXPECT_EQ(point_of(spec, params_from_json(params_to_json(p))), x);
  EXPECT_EQ(searched_name(spec, p), "lr=0.0003 dropout=0.35 dense_units=128 optimizer=sgd "
                                    "unfrozen_fraction=1");
}

TEST(SearchSpace, TrialsOutsideTheSpaceHaveNoPoint) {
  const SweepSpec spec = parse_spec(kSpec);
  TrainingParams p = params_at(spec, {3e-4, 0.35, 128, 1, 2});
  TrainingParams q = p;
  q.optimizer = "adamw";  // not a listed value
  EXPECT_FALSE(point_of(spec, q));
  q = p;
  q.lr = 0.5;  // beyond max
  EXPECT_FALSE(point_of(spec, q));
  q = p;
  q.batch_size = 32;  // another fixed value
  EXPECT_FALSE(point_of(spec, q));
}


// W&B's other distributions (a W&B sweep file): each kind's documented range, cut to the
// parameter's allowed values, q rounding as random search rounds, and a note where the
// search differs from the distribution's shape.
const char* kWandb = R"(program: train.py
method: bayes
run_cap: 5
metric: {name: val_auc, goal: maximize}
parameters:
  dropout: {distribution: normal, mu: 0.2, sigma: 0.1}
  weight_decay: {distribution: q_log_normal, mu: -7, sigma: 1, q: 0.0001}
  unfrozen_fraction: {distribution: beta, a: 2, b: 5}
  dense_units: {distribution: q_uniform, min: 64, max: 512, q: 64}
  lr: {distribution: q_log_uniform_values, min: 0.0006, max: 0.1, q: 0.0005}
  optimizer: {values: [adam, sgd], probabilities: [0.8, 0.2]}
)";

TEST(SearchSpace, WandbDistributionsMapToBoundedDimensions) {
  const SweepSpec spec = parse_spec(kWandb);
  const Space space = search_space(spec);
  ASSERT_EQ(space.size(), 6u);
  // normal: mu +- 4 sigma = [-0.2, 0.6], cut to dropout's [0, 1).
  EXPECT_EQ(space[0].low, 0.0);
  EXPECT_DOUBLE_EQ(space[0].high, 0.2 + 4 * 0.1);
  // log_normal: e^(mu +- 4 sigma), searched in log space.
  EXPECT_TRUE(space[1].log);
  EXPECT_DOUBLE_EQ(space[1].low, std::exp(-11.0));
  EXPECT_DOUBLE_EQ(space[1].high, std::exp(-3.0));
  // beta: its support [0, 1].
  EXPECT_EQ(space[2].low, 0.0);
  EXPECT_EQ(space[2].high, 1.0);
  EXPECT_EQ(space[3].low, 64);
  EXPECT_EQ(space[3].high, 512);
  EXPECT_TRUE(space[4].log);
  EXPECT_EQ(space[5].kind, Dimension::Kind::categorical);

  // q rounds the searched number; an integer parameter gets an integer.
  const TrainingParams p = params_at(spec, {0.25, 0.00123, 0.3, 100.0, 0.00077, 0});
  EXPECT_EQ(p.weight_decay, 0.0012);  // round(0.00123 / 0.0001) * 0.0001
  EXPECT_EQ(p.dense_units, 128);     // round(100 / 64) * 64
  EXPECT_EQ(p.lr, 0.001);            // round(0.00077 / 0.0005) * 0.0005
  // Rounding below the range steps one q back inside: round(0.0006 / 0.0005) * 0.0005 = 0.0005.
  EXPECT_EQ(params_at(spec, {0.25, 0.001, 0.3, 100.0, 0.0006, 0}).lr, 0.001);
  EXPECT_EQ(point_of(spec, params_from_json(params_to_json(p))),
            (Point{0.25, p.weight_decay, 0.3, 128, 0.001, 0}));

  // Notes name the search range where it differs from the distribution's shape.
  auto noted = [&](const std::string& text) {
    for (const auto& n : spec.notes)
      if (n.find(text) != std::string::npos) return true;
    return false;
  };
  EXPECT_TRUE(noted("parameters.dropout: method bayes searches normal over [0, 0.6]"));
  EXPECT_TRUE(noted("parameters.unfrozen_fraction: method bayes searches beta over [0, 1]"));
  EXPECT_TRUE(noted("parameters.optimizer: method bayes searches these values without their "
                    "probabilities"));
  EXPECT_FALSE(noted("parameters.dense_units"));
}

}  // namespace
}  // namespace mammosweep::sweeps
