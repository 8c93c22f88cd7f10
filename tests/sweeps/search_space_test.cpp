// A spec's searched parameters as a sampler's dimensions and back (sweeps/search_space.h):
// each Domain kind maps to the documented dimension, params_at writes typed values, and
// point_of reads a stored trial back to the same point (or refuses one outside the space).
#include "sweeps/search_space.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace mammosweep::sweeps
