// The learning-rate schedules against values worked out by hand, and the optimizer factory.
#include "worker/optimizer.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <stdexcept>

namespace mammosweep::worker {
namespace {

TEST(LrSchedule, ConstantStepAndCosine) {
  sweeps::TrainingParams p;
  p.lr = 0.1;
  p.epochs = 4;
  p.lr_schedule = "none";
  EXPECT_DOUBLE_EQ(lr_at(p, 3), 0.1);
  p.lr_schedule = "step";
  p.lr_gamma = 0.5;
  p.lr_step_epochs = 2;  // epochs 1-2: 0.1, 3-4: 0.05, 5: 0.025
  EXPECT_DOUBLE_EQ(lr_at(p, 1), 0.1);
  EXPECT_DOUBLE_EQ(lr_at(p, 2), 0.1);
  EXPECT_DOUBLE_EQ(lr_at(p, 3), 0.05);
  EXPECT_DOUBLE_EQ(lr_at(p, 5), 0.025);
  p.lr_schedule = "cosine";  // (1 + cos(pi * k / 4)) / 2 for k = 0, 2, 4
  EXPECT_DOUBLE_EQ(lr_at(p, 1), 0.1);
  EXPECT_NEAR(lr_at(p, 3), 0.05, 1e-15);
  EXPECT_NEAR(lr_at(p, 5), 0.0, 1e-15);
}

TEST(Optimizer, FactoryBuildsEachNamedOptimizerWithTheTrialsLr) {
  std::vector<torch::Tensor> params{torch::zeros({2}, torch::requires_grad())};
  sweeps::TrainingParams p;
  p.lr = 0.003;
  for (const char* name : {"adam", "adamw", "rmsprop", "sgd"}) {
    p.optimizer = name;
    auto opt = make_optimizer(params, p);
    ASSERT_EQ(opt->param_groups().size(), 1u) << name;
    EXPECT_DOUBLE_EQ(opt->param_groups()[0].options().get_lr(), 0.003) << name;
  }
  p.optimizer = "lion";
  EXPECT_THROW(make_optimizer(params, p), std::invalid_argument);
}

}  // namespace
}  // namespace mammosweep::worker
