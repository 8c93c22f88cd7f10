// FusedRMSprop against LibTorch's own RMSprop (the independent reference): the same parameters
// and gradients, stepped side by side, stay equal up to float rounding; the state it keeps is
// the reference's type, with the same step count and running square.
#include "worker/fused_rmsprop.h"

#include <ATen/Parallel.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "tests/worker/optimizer_reference.h"

namespace mammosweep::worker {
namespace {

using torch::optim::RMSpropOptions;
using torch::optim::RMSpropParamState;

// A trial's kinds of parameter: a channels_last convolution weight, a bias, one large enough
// to be split across threads, and one that gets no gradient (a frozen layer left in the group).
std::vector<torch::Tensor> make_params() {
  torch::manual_seed(3);
  return {torch::randn({8, 4, 3, 3}).contiguous(torch::MemoryFormat::ChannelsLast).requires_grad_(),
          torch::randn({8}).requires_grad_(), torch::randn({300000}).requires_grad_(),
          torch::randn({5}).requires_grad_()};
}

// Steps FusedRMSprop and LibTorch's RMSprop 12 times on the same gradients (2 threads), checks
// they agree, and returns how many steps the fused loop took.
std::int64_t steps_match(const RMSpropOptions& options) {
  at::set_num_threads(2);
  std::vector<torch::Tensor> fp = make_params(), rp = copies(fp);
  const std::size_t with_grad = fp.size() - 1;  // the last parameter never gets a gradient
  FusedRMSprop fused(fp, options);
  torch::optim::RMSprop reference(rp, options);
  for (int step = 1; step <= 12; ++step) {
    for (std::size_t i = 0; i < with_grad; ++i) {
      const torch::Tensor g = torch::randn(fp[i].sizes()).contiguous(fp[i].suggest_memory_format());
      fp[i].mutable_grad() = g.clone();
      rp[i].mutable_grad() = g.clone();
    }
    const auto version = fp[0]._version();
    fused.step();
    reference.step();
    EXPECT_GT(fp[0]._version(), version) << "an in-place step bumps the version counter";
  }
  const std::vector<torch::Tensor> initial = make_params();
  for (std::size_t i = 0; i < with_grad; ++i) {
    SCOPED_TRACE("parameter " + std::to_string(i));
    EXPECT_LT(max_relative_difference(fp[i].detach(), rp[i].detach()), 1e-5);
    // Moved by more than the tolerance above.
    EXPECT_GT(max_relative_difference(fp[i].detach(), initial[i].detach()), 1e-3);
    const auto& fs = static_cast<const RMSpropParamState&>(*fused.state().at(fp[i].unsafeGetTensorImpl()));
    const auto& rs = static_cast<const RMSpropParamState&>(*reference.state().at(rp[i].unsafeGetTensorImpl()));
    EXPECT_EQ(fs.step(), 12);
    EXPECT_EQ(fs.step(), rs.step());
    EXPECT_LT(max_relative_difference(fs.square_avg(), rs.square_avg()), 1e-5);
    EXPECT_EQ(fs.square_avg().strides(), fp[i].strides());
  }
  EXPECT_TRUE(fp[with_grad].detach().equal(initial[with_grad].detach())) << "no gradient, no step";
  EXPECT_EQ(fused.state().count(fp[with_grad].unsafeGetTensorImpl()), 0u);
  return fused.fused_steps();
}

// Keras' RMSprop, as worker/optimizer.cpp builds it for the report's Model 3.
RMSpropOptions keras() { return RMSpropOptions(1e-2).alpha(0.9).eps(1e-7); }

TEST(FusedRMSpropTest, StepsLikeLibTorchsRMSprop) { EXPECT_EQ(steps_match(keras()), 12); }

TEST(FusedRMSpropTest, StepsLikeLibTorchsRMSpropWithWeightDecay) {
  EXPECT_EQ(steps_match(keras().weight_decay(0.1)), 12);
}

TEST(FusedRMSpropTest, MomentumAndCenteredTakeLibTorchsStepAndStillMatch) {
  EXPECT_EQ(steps_match(keras().momentum(0.9)), 0);
  EXPECT_EQ(steps_match(keras().centered(true)), 0);
}

// A gradient in another memory order than its parameter (a 3x3 kernel, so no dimension of
// size 1 hides it) takes LibTorch's step, which still matches.
TEST(FusedRMSpropTest, GradientInAnotherMemoryOrderTakesLibTorchsStep) {
  const auto [fp, rp] = gradient_in_another_order();
  FusedRMSprop fused(fp, keras());
  torch::optim::RMSprop reference(rp, keras());
  fused.step();
  reference.step();
  EXPECT_EQ(fused.fused_steps(), 0);
  EXPECT_LT(max_relative_difference(fp[0].detach(), rp[0].detach()), 1e-5);
}

}  // namespace
}  // namespace mammosweep::worker
