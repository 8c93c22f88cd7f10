// worker::winograd_conv3x3 against ATen's direct convolution (the independent reference): the
// same outputs and input, weight and bias gradients up to float rounding, on even and odd
// planes, one-pixel planes, NCHW and ChannelsLast, with and without a bias, and on 2 threads.
#include "worker/winograd.h"

#include <ATen/Parallel.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>
#include <vector>

namespace mammosweep::worker {
namespace {

double relative_error(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a - b).abs().max() / b.abs().max()).item<double>();
}

void expect_close(const torch::Tensor& ours, const torch::Tensor& reference, const std::string& what) {
  ASSERT_TRUE(ours.defined()) << what;
  ASSERT_EQ(ours.sizes(), reference.sizes()) << what;
  EXPECT_LT(relative_error(ours, reference), 1e-5) << what;
}

struct Case {
  std::vector<std::int64_t> input;  // N, C, H, W
  std::int64_t filters;
  bool bias;
  torch::MemoryFormat format;
};

void expect_matches_conv2d(const Case& c) {
  SCOPED_TRACE(torch::IntArrayRef(c.input));
  torch::manual_seed(11);
  const torch::Tensor input = torch::randn(c.input).contiguous(c.format);
  const torch::Tensor weight =
      (torch::randn({c.filters, c.input[1], 3, 3}) * 0.1).contiguous(c.format);
  const torch::Tensor bias = c.bias ? torch::randn({c.filters}) : torch::Tensor();
  ASSERT_TRUE(winograd_takes(input, weight));

  const auto leaf = [](const torch::Tensor& t) { return t.defined() ? t.clone().requires_grad_() : t; };
  const torch::Tensor x_ref = leaf(input), w_ref = leaf(weight), b_ref = leaf(bias);
  const torch::Tensor x = leaf(input), w = leaf(weight), b = leaf(bias);
  const torch::Tensor y_ref = at::conv2d(x_ref, w_ref, b_ref, 1, 1);
  const torch::Tensor y = winograd_conv3x3(x, w, b);
  expect_close(y, y_ref, "output");
  EXPECT_TRUE(y.is_contiguous(c.format)) << "the output has the input's memory format";

  const torch::Tensor grad = torch::randn(y_ref.sizes());
  y_ref.backward(grad);
  y.backward(grad);
  expect_close(x.grad(), x_ref.grad(), "input gradient");
  expect_close(w.grad(), w_ref.grad(), "weight gradient");
  EXPECT_TRUE(w.grad().is_contiguous(c.format)) << "the weight gradient has the weight's format";
  if (c.bias) expect_close(b.grad(), b_ref.grad(), "bias gradient");
}

TEST(WinogradTest, MatchesTheDirectConvolution) {
  const auto nchw = torch::MemoryFormat::Contiguous;
  const auto nhwc = torch::MemoryFormat::ChannelsLast;
  for (const Case& c : std::vector<Case>{
           {{4, 16, 4, 4}, 24, false, nchw},   // layer3's plane at 64 px
           {{4, 16, 2, 2}, 16, false, nhwc},   // layer4's: one tile per image
           {{3, 8, 5, 7}, 12, true, nchw},     // odd planes: the last tiles hang over the edge
           {{2, 8, 1, 1}, 8, true, nhwc},      // one pixel: only the kernel's centre sees it
           {{2, 3, 9, 6}, 5, true, nhwc},      // channels that are not a vector's multiple
           {{2, 32, 8, 8}, 32, false, nchw}}) {
    expect_matches_conv2d(c);
  }
}

TEST(WinogradTest, SplitsTilesAndImagesAcrossThreads) {
  const int before = at::get_num_threads();
  at::set_num_threads(2);
  expect_matches_conv2d({{6, 16, 6, 6}, 16, true, torch::MemoryFormat::Contiguous});
  at::set_num_threads(before);
}

// Autograd asks for one gradient only where the other side is frozen: the input's (a frozen
// weight) or the weight's (the first trainable convolution after the frozen prefix). Each
// path of the backward pass must then be right on its own.
TEST(WinogradTest, GradientsOnlyWhereAsked) {
  torch::manual_seed(3);
  const torch::Tensor input = torch::randn({2, 8, 4, 4});
  const torch::Tensor weight = torch::randn({8, 8, 3, 3});
  const torch::Tensor grad = torch::randn({2, 8, 4, 4});
  for (const bool input_trains : {true, false}) {
    SCOPED_TRACE(input_trains ? "input gradient only" : "weight gradient only");
    const torch::Tensor x = input.clone().requires_grad_(input_trains);
    const torch::Tensor w = weight.clone().requires_grad_(!input_trains);
    const torch::Tensor x_ref = input.clone().requires_grad_(input_trains);
    const torch::Tensor w_ref = weight.clone().requires_grad_(!input_trains);
    winograd_conv3x3(x, w).backward(grad);
    at::conv2d(x_ref, w_ref, {}, 1, 1).backward(grad);
    if (input_trains) {
      expect_close(x.grad(), x_ref.grad(), "input gradient");
    } else {
      expect_close(w.grad(), w_ref.grad(), "weight gradient");
    }
  }
}

TEST(WinogradTest, RefusesWhatItCannotRun) {
  const torch::Tensor w = torch::zeros({4, 4, 3, 3});
  EXPECT_TRUE(winograd_takes(torch::zeros({1, 4, 4, 4}), w));
  EXPECT_FALSE(winograd_takes(torch::zeros({1, 4, 4, 4}, torch::kDouble), w));
  EXPECT_FALSE(winograd_takes(torch::zeros({1, 4, 4, 4}), torch::zeros({4, 4, 1, 1})));
  EXPECT_FALSE(winograd_takes(torch::zeros({1, 4, 4, 8}).transpose(2, 3), w)) << "neither format";
  EXPECT_THROW(winograd_conv3x3(torch::zeros({1, 4, 4, 4}), torch::zeros({4, 4, 5, 5})), c10::Error);
}

}  // namespace
}  // namespace mammosweep::worker
