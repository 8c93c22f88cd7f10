// worker::BatchNorm against LibTorch's BatchNorm2d (the independent reference): the same
// parameters, buffers, inputs and output gradients give the same outputs, input and parameter
// gradients, running statistics and batch counter, up to float rounding, in training and in
// eval mode, on planes run as rows and on planes that are not.
#include "worker/batch_norm.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <optional>
#include <string>
#include <vector>

namespace mammosweep::worker {
namespace {

double max_relative_difference(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a - b).abs().max() / b.abs().max()).item<double>();
}

void expect_close(const torch::Tensor& a, const torch::Tensor& b, const std::string& what) {
  EXPECT_LT(max_relative_difference(a, b), 1e-5) << what;
}

// Trains both modules for three steps on the same batches, then compares them in eval mode.
void expect_matches_batchnorm2d(std::vector<std::int64_t> shape, std::optional<double> momentum) {
  SCOPED_TRACE(torch::IntArrayRef(shape));
  const std::int64_t channels = shape[1];
  const auto options = torch::nn::BatchNorm2dOptions(channels).momentum(momentum);
  torch::nn::BatchNorm2d reference(options);
  BatchNorm ours(options);
  torch::manual_seed(11);
  {
    torch::NoGradGuard no_grad;
    reference->weight.uniform_(0.5, 1.5);
    reference->bias.uniform_(-0.5, 0.5);
    reference->running_mean.uniform_(-1, 1);
    reference->running_var.uniform_(0.5, 2);
    for (const auto& item : reference->named_parameters()) ours->named_parameters()[item.key()].copy_(item.value());
    for (const auto& item : reference->named_buffers()) ours->named_buffers()[item.key()].copy_(item.value());
  }
  for (int step = 0; step < 3; ++step) {
    const torch::Tensor input = torch::randn(shape) * 3 + 1;
    const torch::Tensor grad = torch::randn(shape);
    const torch::Tensor x_ref = input.clone().requires_grad_(), x_ours = input.clone().requires_grad_();
    const torch::Tensor y_ref = reference(x_ref), y_ours = ours(x_ours);
    EXPECT_TRUE(y_ours.is_contiguous());
    expect_close(y_ours, y_ref, "training output");
    y_ref.backward(grad);
    y_ours.backward(grad);
    expect_close(x_ours.grad(), x_ref.grad(), "input gradient");
    expect_close(ours->weight.grad(), reference->weight.grad(), "weight gradient");
    expect_close(ours->bias.grad(), reference->bias.grad(), "bias gradient");
  }
  expect_close(ours->running_mean, reference->running_mean, "running mean");
  expect_close(ours->running_var, reference->running_var, "running variance");
  EXPECT_EQ(ours->num_batches_tracked.item<std::int64_t>(), 3);
  EXPECT_EQ(reference->num_batches_tracked.item<std::int64_t>(), 3);

  reference->eval();
  ours->eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor input = torch::randn(shape);
  expect_close(ours(input), reference(input), "eval output");
  EXPECT_EQ(ours->num_batches_tracked.item<std::int64_t>(), 3) << "eval does not count";
}

TEST(BatchNormTest, RunsPlanesOfFewerThan16ValuesAsRows) {
  EXPECT_TRUE(BatchNormImpl::runs_as_rows(torch::zeros({4, 8, 2, 2})));
  EXPECT_TRUE(BatchNormImpl::runs_as_rows(torch::zeros({4, 8, 3, 3})));
  EXPECT_TRUE(BatchNormImpl::runs_as_rows(torch::zeros({4, 8, 1, 15})));
  EXPECT_FALSE(BatchNormImpl::runs_as_rows(torch::zeros({4, 8, 4, 4})));
  EXPECT_FALSE(BatchNormImpl::runs_as_rows(torch::zeros({4, 8, 7, 7})));
  EXPECT_FALSE(BatchNormImpl::runs_as_rows(
      torch::zeros({4, 8, 2, 2}).contiguous(torch::MemoryFormat::ChannelsLast)))
      << "ATen already vectorises channels_last along the channels";
}

TEST(BatchNormTest, RowsMatchBatchNorm2d) {
  expect_matches_batchnorm2d({8, 32, 2, 2}, 0.1);
  expect_matches_batchnorm2d({5, 24, 3, 3}, 0.1);
  expect_matches_batchnorm2d({6, 16, 1, 3}, std::nullopt);  // cumulative moving average
}

TEST(BatchNormTest, LargerPlanesMatchBatchNorm2d) {
  expect_matches_batchnorm2d({4, 16, 5, 5}, 0.1);
}

TEST(BatchNormTest, OutputKeepsChannelsLast) {
  BatchNorm bn(torch::nn::BatchNorm2dOptions(8));
  const torch::Tensor x = torch::randn({4, 8, 2, 2}).contiguous(torch::MemoryFormat::ChannelsLast);
  EXPECT_TRUE(bn(x).is_contiguous(torch::MemoryFormat::ChannelsLast));
}

TEST(BatchNormTest, IsFoundAsBatchNorm2d) {
  const std::shared_ptr<torch::nn::Module> module = BatchNorm(torch::nn::BatchNorm2dOptions(8)).ptr();
  ASSERT_NE(module->as<torch::nn::BatchNorm2d>(), nullptr);
  EXPECT_EQ(module->named_parameters().size(), 2U);
  EXPECT_EQ(module->named_buffers().size(), 3U);
}

}  // namespace
}  // namespace mammosweep::worker
