// Tests for worker/frozen_prefix: the BatchNorm-folded frozen prefix against the model's own
// unfolded forward_units, with BatchNorm statistics far from the identity.
#include "worker/frozen_prefix.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "worker/resnet50.h"

namespace mw = mammosweep::worker;

namespace {

class FrozenPrefixTest : public ::testing::Test {
 protected:
  void SetUp() override { torch::set_num_threads(2); }
};

/// A model whose BatchNorms are far from the identity (as after ImageNet training), so that a
/// fold that dropped or misplaced any of gamma, beta, mean or var would show.
mw::ResNet50 model_with_batchnorm_statistics(double unfrozen_fraction) {
  mw::ResNet50Options o;
  o.unfrozen_fraction = unfrozen_fraction;
  o.dense_units = 16;
  o.seed = 3;
  mw::ResNet50 model(o);
  torch::NoGradGuard no_grad;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(11);
  for (const auto& item : model->named_modules()) {
    if (auto* bn = item.value()->as<torch::nn::BatchNorm2d>()) {
      bn->weight.uniform_(0.5, 1.5, gen);
      bn->bias.normal_(0.0, 0.2, gen);
      bn->running_mean.normal_(0.0, 0.3, gen);
      bn->running_var.uniform_(0.3, 3.0, gen);
    }
  }
  return model;
}

/// max |a - b| / max |b|: the error relative to the output's scale.
double relative_error(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>() / b.abs().max().item<double>();
}

TEST_F(FrozenPrefixTest, MatchesTheUnfoldedUnitsWithin1e5OfTheirScale) {
  mw::ResNet50 model = model_with_batchnorm_statistics(0.0);  // all 17 backbone units frozen
  ASSERT_EQ(model->frozen_units(), mw::ResNet50Impl::kUnits - 1);
  model->train();  // frozen BatchNorms stay in eval mode in training too
  torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::randn({3, 3, 64, 64}, torch::TensorOptions().dtype(torch::kFloat));
  for (int units : {1, 2, 4, 8, 14, 17}) {
    const mw::FrozenPrefix prefix(*model, units);
    ASSERT_EQ(prefix.units(), units);
    const torch::Tensor folded = prefix.forward(x);
    const torch::Tensor unfolded = model->forward_units(x, 0, units);
    ASSERT_EQ(folded.sizes(), unfolded.sizes()) << units;
    EXPECT_LE(relative_error(folded, unfolded), 1e-5) << units << " units";
  }
}

TEST_F(FrozenPrefixTest, LogitsThroughTheFoldEqualTheModelsWithin1e5) {
  mw::ResNet50 model = model_with_batchnorm_statistics(0.5);
  const int units = model->frozen_units();
  ASSERT_GT(units, 1);
  model->eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::randn({4, 3, 64, 64});
  const mw::FrozenPrefix prefix(*model, units);
  const torch::Tensor logits = model->forward_units(prefix.forward(x), units, mw::ResNet50Impl::kUnits);
  EXPECT_LE(relative_error(logits, model->forward(x)), 1e-5);
}

// On the CPU the folded units run in ChannelsLast (frozen_prefix.h); what comes out has the
// memory format that went in, so the trainable units run in the trial's own format, with the
// model's weights in either format.
TEST_F(FrozenPrefixTest, OutputHasTheInputsMemoryFormat) {
  for (const auto format : {torch::MemoryFormat::Contiguous, torch::MemoryFormat::ChannelsLast}) {
    SCOPED_TRACE(format == torch::MemoryFormat::ChannelsLast ? "channels_last" : "contiguous");
    mw::ResNet50 model = model_with_batchnorm_statistics(0.3);
    {
      torch::NoGradGuard no_grad;
      for (auto& t : model->parameters()) {
        if (t.dim() == 4) t.set_data(t.contiguous(format));
      }
    }
    model->eval();
    torch::NoGradGuard no_grad;
    const int units = model->frozen_units();
    const mw::FrozenPrefix prefix(*model, units);
    const torch::Tensor x = torch::randn({2, 3, 64, 64}).contiguous(format);
    const torch::Tensor folded = prefix.forward(x);
    ASSERT_GT(folded.size(2), 1);  // so the two formats differ in memory
    EXPECT_TRUE(folded.is_contiguous(format));
    EXPECT_LE(relative_error(folded, model->forward_units(x, 0, units)), 1e-5);
  }
}

TEST_F(FrozenPrefixTest, RefusesUnitsThatTrainAndPassesImagesThroughWhenEmpty) {
  mw::ResNet50 model = model_with_batchnorm_statistics(0.5);
  const int frozen = model->frozen_units();
  EXPECT_THROW(mw::FrozenPrefix(*model, frozen + 1), std::invalid_argument);
  EXPECT_THROW(mw::FrozenPrefix(*model, -1), std::invalid_argument);
  const torch::Tensor x = torch::randn({1, 3, 32, 32});
  EXPECT_TRUE(mw::FrozenPrefix().forward(x).is_same(x));
  EXPECT_TRUE(mw::FrozenPrefix(*model, 0).forward(x).is_same(x));
}

TEST_F(FrozenPrefixTest, UnfoldedRunsTheModelsOwnUnitsBitForBit) {
  mw::ResNet50 model = model_with_batchnorm_statistics(0.5);
  model->train();
  const int units = model->frozen_units();
  const mw::FrozenPrefix prefix(*model, units, /*fold=*/false);
  EXPECT_EQ(prefix.units(), units);
  const torch::Tensor x = torch::randn({2, 3, 64, 64});
  const torch::Tensor out = prefix.forward(x);
  EXPECT_FALSE(out.requires_grad());
  EXPECT_TRUE(torch::equal(out, model->forward_units(x, 0, units)));
  EXPECT_FALSE(torch::equal(out, mw::FrozenPrefix(*model, units).forward(x)));  // folding rounds
}

TEST_F(FrozenPrefixTest, HasNoAutogradGraphAndTouchesNoWeight) {
  mw::ResNet50 model = model_with_batchnorm_statistics(0.5);
  model->train();
  const auto before = model->state_dict();
  std::vector<torch::Tensor> copies;
  for (const auto& [k, v] : before) copies.push_back(v.clone());
  const mw::FrozenPrefix prefix(*model, model->frozen_units());
  const torch::Tensor out = prefix.forward(torch::randn({2, 3, 64, 64}));
  EXPECT_FALSE(out.requires_grad());
  for (std::size_t i = 0; i < before.size(); ++i) {
    EXPECT_TRUE(torch::equal(before[i].second, copies[i])) << before[i].first;
  }
}

}  // namespace
