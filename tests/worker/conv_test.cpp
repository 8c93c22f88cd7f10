// worker::Conv against LibTorch's Conv2d (the independent reference: ATen's convolution): the
// same weights, inputs and output gradients give the same outputs, input, weight and bias
// gradients, up to float rounding, on planes run as a matrix product and on planes that are not.
#include "worker/conv.h"

#include <ATen/autocast_mode.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>
#include <vector>

namespace mammosweep::worker {
namespace {

void expect_close(const torch::Tensor& a, const torch::Tensor& b, const std::string& what) {
  ASSERT_EQ(a.sizes(), b.sizes()) << what;
  EXPECT_LT(((a - b).abs().max() / b.abs().max()).item<double>(), 1e-5) << what;
}

torch::nn::Conv2dOptions options(std::int64_t in, std::int64_t out, std::int64_t kernel,
                                 std::int64_t stride, std::int64_t padding, bool bias) {
  return torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding).bias(bias);
}

// One forward and backward pass of both modules on the same weights and input; `gemm` says
// which side of runs_as_gemm the input is on.
void expect_matches_conv2d(const torch::nn::Conv2dOptions& opts, std::vector<std::int64_t> shape,
                           bool gemm,
                           torch::MemoryFormat format = torch::MemoryFormat::Contiguous) {
  SCOPED_TRACE(torch::IntArrayRef(shape));
  torch::nn::Conv2d reference(opts);
  Conv ours(opts);
  torch::manual_seed(5);
  {
    torch::NoGradGuard no_grad;
    reference->weight.normal_();
    if (opts.bias()) reference->bias.uniform_(-1, 1);
    for (const auto& item : reference->named_parameters()) ours->named_parameters()[item.key()].copy_(item.value());
  }
  // A trial's channels_last: true puts the weights in ChannelsLast too.
  reference->weight.set_data(reference->weight.contiguous(format));
  ours->weight.set_data(ours->weight.contiguous(format));
  const torch::Tensor input = torch::randn(shape).contiguous(format);
  ASSERT_EQ(ours->runs_as_gemm(input), gemm);
  const torch::Tensor x_ref = input.clone().requires_grad_(), x_ours = input.clone().requires_grad_();
  const torch::Tensor y_ref = reference(x_ref), y_ours = ours(x_ours);
  EXPECT_TRUE(y_ours.is_contiguous(format)) << "the output has the input's memory format";
  expect_close(y_ours, y_ref, "output");
  const torch::Tensor grad = torch::randn(y_ref.sizes());
  y_ref.backward(grad);
  y_ours.backward(grad);
  expect_close(x_ours.grad(), x_ref.grad(), "input gradient");
  expect_close(ours->weight.grad(), reference->weight.grad(), "weight gradient");
  if (opts.bias()) expect_close(ours->bias.grad(), reference->bias.grad(), "bias gradient");
}

TEST(ConvTest, RunsSmallOutputPlanesAsAMatrixProduct) {
  const Conv one_by_one(options(8, 8, 1, 1, 0, false));
  EXPECT_TRUE(one_by_one->runs_as_gemm(torch::zeros({2, 8, 2, 2})));
  EXPECT_TRUE(one_by_one->runs_as_gemm(torch::zeros({2, 8, 3, 5})));
  EXPECT_TRUE(one_by_one->runs_as_gemm(torch::zeros({2, 8, 4, 4})));
  EXPECT_FALSE(one_by_one->runs_as_gemm(torch::zeros({2, 8, 4, 5})));
  EXPECT_TRUE(one_by_one->runs_as_gemm(
      torch::zeros({2, 8, 2, 2}).contiguous(torch::MemoryFormat::ChannelsLast)));
  EXPECT_FALSE(one_by_one->runs_as_gemm(torch::zeros({2, 8, 2, 4}).transpose(2, 3)))
      << "neither NCHW nor ChannelsLast";
  EXPECT_FALSE(one_by_one->runs_as_gemm(torch::zeros({2, 8, 2, 2}, torch::kDouble)));
  at::autocast::set_autocast_enabled(at::kCPU, true);
  EXPECT_FALSE(one_by_one->runs_as_gemm(torch::zeros({2, 8, 2, 2})))
      << "autocast picks the convolution's own precision";
  at::autocast::set_autocast_enabled(at::kCPU, false);
  // The output plane counts, not the input's: stride 2 on 8 x 8 gives 4 x 4.
  EXPECT_TRUE(Conv(options(8, 8, 1, 2, 0, false))->runs_as_gemm(torch::zeros({2, 8, 8, 8})));
  // Larger kernels: up to 2 x 2.
  const Conv three_by_three(options(8, 8, 3, 1, 1, false));
  EXPECT_TRUE(three_by_three->runs_as_gemm(torch::zeros({2, 8, 2, 2})));
  EXPECT_TRUE(three_by_three->runs_as_gemm(torch::zeros({2, 8, 1, 4})));
  EXPECT_FALSE(three_by_three->runs_as_gemm(torch::zeros({2, 8, 3, 3})));
  EXPECT_TRUE(Conv(options(8, 8, 3, 2, 1, false))->runs_as_gemm(torch::zeros({2, 8, 4, 4})));
  EXPECT_FALSE(Conv(options(8, 8, 3, 2, 1, false))->runs_as_gemm(torch::zeros({2, 8, 6, 6})));
  EXPECT_FALSE(Conv(options(8, 8, 3, 1, 2, false).dilation(2))->runs_as_gemm(torch::zeros({2, 8, 2, 2})));
  EXPECT_FALSE(Conv(options(8, 8, 1, 1, 0, false).groups(2))->runs_as_gemm(torch::zeros({2, 8, 2, 2})));
  EXPECT_FALSE(Conv(options(8, 8, 3, 1, 1, false).padding_mode(torch::kReflect))
                   ->runs_as_gemm(torch::zeros({2, 8, 2, 2})));
}

TEST(ConvTest, MatrixProductMatchesConv2d) {
  expect_matches_conv2d(options(32, 48, 1, 1, 0, false), {4, 32, 2, 2}, true);   // layer4's 1x1
  expect_matches_conv2d(options(32, 48, 1, 2, 0, false), {4, 32, 4, 4}, true);   // its downsample
  expect_matches_conv2d(options(24, 24, 3, 1, 1, false), {4, 24, 2, 2}, true);   // its 3x3
  expect_matches_conv2d(options(24, 16, 3, 2, 1, false), {3, 24, 3, 4}, true);   // to 2 x 2
  expect_matches_conv2d(options(16, 8, 1, 2, 0, true), {2, 16, 7, 8}, true);     // to 4 x 4, bias
  expect_matches_conv2d(options(3, 8, 5, 2, 2, true), {2, 3, 3, 3}, true);
  expect_matches_conv2d(options(16, 8, 1, 1, 0, true), {2, 16, 1, 15}, true);
}

TEST(ConvTest, ChannelsLastMatchesConv2d) {
  expect_matches_conv2d(options(32, 48, 1, 1, 0, false), {4, 32, 2, 2}, true,
                        torch::MemoryFormat::ChannelsLast);
  expect_matches_conv2d(options(32, 48, 1, 2, 0, true), {4, 32, 4, 4}, true,
                        torch::MemoryFormat::ChannelsLast);
  expect_matches_conv2d(options(24, 24, 3, 1, 1, false), {4, 24, 2, 2}, true,
                        torch::MemoryFormat::ChannelsLast);
}

TEST(ConvTest, RunsMidSizedThreeByThreePlanesThroughWinograd) {
  const Conv conv(options(8, 8, 3, 1, 1, false));
  EXPECT_FALSE(conv->runs_as_winograd(torch::zeros({2, 8, 2, 2}))) << "the matrix product's plane";
  EXPECT_TRUE(conv->runs_as_winograd(torch::zeros({2, 8, 3, 3})));
  EXPECT_TRUE(conv->runs_as_winograd(torch::zeros({2, 8, 16, 16})));
  EXPECT_FALSE(conv->runs_as_winograd(torch::zeros({2, 8, 16, 17}))) << "oneDNN's plane";
  EXPECT_TRUE(conv->runs_as_winograd(
      torch::zeros({2, 8, 4, 4}).contiguous(torch::MemoryFormat::ChannelsLast)));
  EXPECT_FALSE(conv->runs_as_winograd(torch::zeros({2, 8, 4, 4}, torch::kDouble)));
  EXPECT_FALSE(Conv(options(8, 8, 3, 2, 1, false))->runs_as_winograd(torch::zeros({2, 8, 8, 8})));
  EXPECT_FALSE(Conv(options(8, 8, 3, 1, 0, false))->runs_as_winograd(torch::zeros({2, 8, 8, 8})));
  EXPECT_FALSE(Conv(options(8, 8, 1, 1, 0, false))->runs_as_winograd(torch::zeros({2, 8, 8, 8})));
  EXPECT_FALSE(Conv(options(8, 8, 3, 1, 1, false).groups(2))->runs_as_winograd(torch::zeros({2, 8, 8, 8})));
  at::autocast::set_autocast_enabled(at::kCPU, true);
  EXPECT_FALSE(conv->runs_as_winograd(torch::zeros({2, 8, 4, 4})))
      << "autocast picks the convolution's own precision";
  at::autocast::set_autocast_enabled(at::kCPU, false);
  // Winograd's own tests (winograd_test.cpp) check its numbers; these check the module's.
  expect_matches_conv2d(options(16, 24, 3, 1, 1, false), {2, 16, 4, 4}, false);
  expect_matches_conv2d(options(16, 16, 3, 1, 1, true), {2, 16, 5, 3}, false,
                        torch::MemoryFormat::ChannelsLast);
}

TEST(ConvTest, LargerPlanesMatchConv2d) {
  expect_matches_conv2d(options(16, 16, 3, 1, 1, false), {2, 16, 3, 3}, false);
  expect_matches_conv2d(options(8, 8, 3, 1, 1, false), {2, 8, 17, 16}, false);  // past Winograd's
  expect_matches_conv2d(options(16, 16, 1, 1, 0, false), {2, 16, 5, 4}, false);
  expect_matches_conv2d(options(16, 32, 1, 1, 0, true), {2, 16, 8, 8}, false);
}

TEST(ConvTest, IsFoundAsConv2d) {
  const std::shared_ptr<torch::nn::Module> module = Conv(options(8, 4, 3, 1, 1, false)).ptr();
  ASSERT_NE(module->as<torch::nn::Conv2d>(), nullptr);
  EXPECT_EQ(module->named_parameters().size(), 1U);
}

}  // namespace
}  // namespace mammosweep::worker
