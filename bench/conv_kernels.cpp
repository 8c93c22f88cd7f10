// The 3x3 convolutions of the ResNet50 (stride 1, padding 1) through each kernel this project
// can run them with, per shape: ATen's convolution (oneDNN), im2col and one matrix product
// (worker/conv.h's rule for the smallest planes) and Winograd's F(2x2, 3x3) (worker/winograd.h).
//
//   build/bench/conv_kernels [--threads 1] [--batch 32] [--reps 20] [--eval] [--channels C]
//       [--plane P] [--kernel aten|winograd|im2col]
//
// Per shape: the median time of a forward and backward pass (input, weight gradients), or with
// --eval of a forward pass without gradients. Prints one JSON line per shape and kernel.
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "worker/conv.h"
#include "worker/winograd.h"

namespace {

using Kernel = std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&)>;

double median_ms(const Kernel& kernel, const torch::Tensor& x, const torch::Tensor& w, bool eval,
                 int reps) {
  std::vector<double> ms;
  for (int i = 0; i < reps + 3; ++i) {
    const torch::Tensor xi = x.detach().requires_grad_(!eval), wi = w.detach().requires_grad_(!eval);
    const auto start = std::chrono::steady_clock::now();
    if (eval) {
      torch::NoGradGuard no_grad;
      kernel(xi, wi);
    } else {
      kernel(xi, wi).sum().backward();
    }
    const std::chrono::duration<double, std::milli> took = std::chrono::steady_clock::now() - start;
    if (i >= 3) ms.push_back(took.count());
  }
  std::nth_element(ms.begin(), ms.begin() + ms.size() / 2, ms.end());
  return ms[ms.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"The ResNet50's 3x3 convolutions through ATen's kernel, im2col and Winograd"};
  int threads = 1, batch = 32, reps = 20;
  bool eval = false;
  std::int64_t only_channels = 0, only_plane = 0;
  std::string only_kernel;
  app.add_option("--threads", threads, "Intra-op threads")->check(CLI::PositiveNumber);
  app.add_option("--batch", batch, "Images per pass")->check(CLI::PositiveNumber);
  app.add_option("--reps", reps, "Timed passes per shape and kernel")->check(CLI::PositiveNumber);
  app.add_flag("--eval", eval, "Forward passes without gradients");
  app.add_option("--channels", only_channels, "Only the shapes of this many channels");
  app.add_option("--plane", only_plane, "Only the shapes of this plane side");
  app.add_option("--kernel", only_kernel, "Only this kernel: aten, winograd or im2col");
  CLI11_PARSE(app, argc, argv);
  torch::set_num_threads(threads);
  torch::manual_seed(0);

  // (channels, plane): the stride-1 3x3 convolutions of layer1-layer4 at 32-224 px inputs.
  const std::vector<std::pair<std::int64_t, std::int64_t>> shapes = {
      {512, 1}, {512, 2}, {512, 3}, {256, 4}, {512, 4}, {256, 7}, {128, 8},
      {256, 8}, {64, 8}, {128, 14}, {64, 16}, {128, 16}, {64, 28}, {64, 56}};
  for (const auto& [channels, plane] : shapes) {
    if ((only_channels != 0 && channels != only_channels) || (only_plane != 0 && plane != only_plane)) continue;
    const torch::Tensor x = torch::randn({batch, channels, plane, plane});
    const torch::Tensor w = torch::randn({channels, channels, 3, 3}) * 0.05;
    std::vector<std::pair<std::string, Kernel>> kernels = {
        {"aten", [](const torch::Tensor& a, const torch::Tensor& b) {
           return at::conv2d(a, b, {}, 1, 1);
         }},
        {"winograd", [](const torch::Tensor& a, const torch::Tensor& b) {
           return mammosweep::worker::winograd_conv3x3(a, b);
         }},
        {"im2col", [](const torch::Tensor& a, const torch::Tensor& b) {
           const auto cols = at::im2col(a, {3, 3}, {1, 1}, {1, 1}, {1, 1}).transpose(1, 2);
           const auto y = at::matmul(cols, b.reshape({b.size(0), -1}).t());
           return y.transpose(1, 2).reshape({a.size(0), b.size(0), a.size(2), a.size(3)});
         }}};
    for (const auto& [name, kernel] : kernels) {
      if ((name == "im2col" && plane > 4) || (!only_kernel.empty() && name != only_kernel)) continue;
      const nlohmann::json line = {{"bench", "conv_kernels"}, {"channels", channels},
                                   {"plane", plane},          {"batch", batch},
                                   {"threads", threads},      {"pass", eval ? "eval" : "train"},
                                   {"kernel", name},          {"median_ms", median_ms(kernel, x, w, eval, reps)}};
      std::printf("%s\n", line.dump().c_str());
      std::fflush(stdout);
    }
  }
  return 0;
}
