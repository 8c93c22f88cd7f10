// FusedAdam and FusedAdamW against LibTorch's own Adam and AdamW (the independent reference):
// the same parameters and gradients, stepped side by side, stay equal up to float rounding;
// the state they keep is the reference's type, with the same step count and moments.
#include "worker/fused_adam.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tests/worker/optimizer_reference.h"

namespace mammosweep::worker {
namespace {

// Three parameters like a trial's: a channels_last convolution weight, a bias, and one that
// gets no gradient (a frozen layer that stayed in the group).
std::vector<torch::Tensor> make_params() {
  torch::manual_seed(3);
  return {torch::randn({8, 4, 3, 3}).contiguous(torch::MemoryFormat::ChannelsLast).requires_grad_(),
          torch::randn({8}).requires_grad_(), torch::randn({5}).requires_grad_()};
}

// Returns how many of the 12 steps the fused kernel took.
template <class Fused, class Reference, class State, class Options>
std::int64_t steps_match(const Options& options) {
  std::vector<torch::Tensor> fp = make_params(), rp = copies(fp);
  Fused fused(fp, options);
  Reference reference(rp, options);
  for (int step = 1; step <= 12; ++step) {
    for (std::size_t i = 0; i < 2; ++i) {  // the third parameter never gets a gradient
      const torch::Tensor g = torch::randn(fp[i].sizes()).contiguous(fp[i].suggest_memory_format());
      fp[i].mutable_grad() = g.clone();
      rp[i].mutable_grad() = g.clone();
    }
    fused.step();
    reference.step();
  }
  for (std::size_t i = 0; i < fp.size(); ++i) {
    SCOPED_TRACE("parameter " + std::to_string(i));
    EXPECT_LT(max_relative_difference(fp[i].detach(), rp[i].detach()), 1e-5);
  }
  const std::vector<torch::Tensor> initial = make_params();
  for (std::size_t i = 0; i < 2; ++i) {  // both moved, by more than the tolerance above
    EXPECT_GT(max_relative_difference(fp[i].detach(), initial[i].detach()), 1e-3);
  }
  EXPECT_TRUE(fp[2].detach().equal(initial[2].detach())) << "no gradient, no step";
  for (std::size_t i = 0; i < 2; ++i) {
    const auto& fs = static_cast<const State&>(*fused.state().at(fp[i].unsafeGetTensorImpl()));
    const auto& rs = static_cast<const State&>(*reference.state().at(rp[i].unsafeGetTensorImpl()));
    EXPECT_EQ(fs.step(), rs.step());
    EXPECT_EQ(fs.step(), 12);
    EXPECT_LT(max_relative_difference(fs.exp_avg(), rs.exp_avg()), 1e-5);
    EXPECT_LT(max_relative_difference(fs.exp_avg_sq(), rs.exp_avg_sq()), 1e-5);
  }
  EXPECT_EQ(fused.state().count(fp[2].unsafeGetTensorImpl()), 0u);
  return fused.fused_steps();
}

TEST(FusedAdamTest, StepsLikeLibTorchsAdam) {
  EXPECT_EQ((steps_match<FusedAdam, torch::optim::Adam, torch::optim::AdamParamState>(
                torch::optim::AdamOptions(1e-2))),
            12);
}

TEST(FusedAdamTest, StepsLikeLibTorchsAdamWithWeightDecay) {
  EXPECT_EQ((steps_match<FusedAdam, torch::optim::Adam, torch::optim::AdamParamState>(
                torch::optim::AdamOptions(1e-2).weight_decay(0.1))),
            12);
}

TEST(FusedAdamTest, AdamWStepsLikeLibTorchsAdamW) {
  EXPECT_EQ((steps_match<FusedAdamW, torch::optim::AdamW, torch::optim::AdamWParamState>(
                torch::optim::AdamWOptions(1e-2).weight_decay(0.1))),
            12);
}

TEST(FusedAdamTest, AmsgradTakesTheUnfusedStepAndStillMatches) {
  EXPECT_EQ((steps_match<FusedAdam, torch::optim::Adam, torch::optim::AdamParamState>(
                torch::optim::AdamOptions(1e-2).amsgrad(true))),
            0);
}

// One Adam step of `fp` (FusedAdam) and `rp` (LibTorch's Adam), whose gradients are set:
// checks that they agree and returns how many steps the fused kernel took (0 or 1).
std::int64_t one_step_matches(const std::vector<torch::Tensor>& fp, const std::vector<torch::Tensor>& rp) {
  const torch::optim::AdamOptions options(1e-2);
  FusedAdam fused(fp, options);
  torch::optim::Adam reference(rp, options);
  fused.step();
  reference.step();
  for (std::size_t i = 0; i < fp.size(); ++i) {
    EXPECT_LT(max_relative_difference(fp[i].detach(), rp[i].detach()), 1e-5) << "parameter " << i;
  }
  return fused.fused_steps();
}

// A trial in channels_last: the gradients ATen's convolution backward returns, for a 3x3
// and a 1x1 kernel. The 1x1 gradient comes back with contiguous strides (I, 1, 1, 1), the
// weight has ChannelsLast ones (I, 1, I, I): the same memory order, since a size-1 dimension
// is never stepped over, so the fused kernel must take it. The step still matches LibTorch's.
TEST(FusedAdamTest, ChannelsLastConvolutionGradientsTakeTheFusedStep) {
  torch::manual_seed(5);
  const auto cl = torch::MemoryFormat::ChannelsLast;
  std::vector<torch::Tensor> fp = {torch::randn({8, 4, 3, 3}).contiguous(cl).requires_grad_(),
                                   torch::randn({6, 8, 1, 1}).contiguous(cl).requires_grad_()};
  std::vector<torch::Tensor> rp = copies(fp);
  const torch::Tensor x = torch::randn({2, 4, 5, 5}).contiguous(cl);
  auto backward = [&x](const std::vector<torch::Tensor>& p) {
    torch::conv2d(torch::conv2d(x, p[0], {}, 1, 1), p[1]).square().sum().backward();
  };
  backward(fp);
  backward(rp);
  ASSERT_NE(fp[1].strides(), fp[1].grad().strides()) << "the case this test is about";
  EXPECT_EQ(one_step_matches(fp, rp), 1);
}

// A gradient in another memory order than its parameter (a 3x3 kernel, so no dimension of
// size 1 hides it) takes the unfused step, which still matches.
TEST(FusedAdamTest, GradientInAnotherMemoryOrderTakesTheUnfusedStep) {
  const auto [fp, rp] = gradient_in_another_order();
  EXPECT_EQ(one_step_matches(fp, rp), 0);
}

}  // namespace
}  // namespace mammosweep::worker
