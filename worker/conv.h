// The ResNet50's convolution: LibTorch's Conv2d, with two changes of kernel.
// - On small output planes (layer4 at 64 px: 2 x 2; layer3 at 64 px and layer4 at 128 px:
//   4 x 4) oneDNN spends much of a convolution's time reordering weights between ATen's layout
//   and its blocked one. A 1x1 convolution there is one matrix product of N*H*W rows of C
//   channels with the weights, and a k x k one the same product after im2col (which multiplies
//   the zero padding too, so it pays only on the smallest planes). This module hands such
//   planes to ATen's matrix product: forward and backward took 0.30-0.92 of oneDNN's time on
//   the shapes it takes (docs/performance.md, "Convolutions on small planes", with the command).
// - 3x3 kernels with stride 1 into larger planes, up to 16 x 16 (layer2 and layer3 at 64 px,
//   layer3 and layer4 at 112 px), run as Winograd's F(2x2, 3x3) (worker/winograd.h): 2.25x
//   fewer multiplications ("3x3 convolutions through Winograd").
//
// Same parameters, same names, same results up to float rounding
// (tests/worker/conv_test.cpp): `as<torch::nn::Conv2d>()` finds it, and weights files,
// checkpoints and trial ids do not change.
#pragma once

#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <optional>
#include <utility>

namespace mammosweep::worker {

class ConvImpl : public torch::nn::Conv2dImpl {
 public:
  using torch::nn::Conv2dImpl::Conv2dImpl;

  /// x: [N, C, H, W], any memory format; the output has x's format when the matrix product
  /// runs (a ChannelsLast output is the product itself, no copy), else Conv2d's.
  torch::Tensor forward(const torch::Tensor& x);

  /// Whether forward runs `x` as a matrix product: a float32 CPU tensor in NCHW or ChannelsLast,
  /// outside autocast, with zero padding, no dilation and one group, into an output plane of at most
  /// kMaxPlane1x1 values for a 1x1 kernel, kMaxPlane for larger ones. Public for the tests,
  /// which check both sides.
  bool runs_as_gemm(const torch::Tensor& x) const;
  static constexpr std::int64_t kMaxPlane1x1 = 16;
  static constexpr std::int64_t kMaxPlane = 4;

  /// Whether forward runs `x` through Winograd's F(2x2, 3x3) (worker/winograd.h): a 3x3 kernel
  /// with stride 1 and padding 1, outside autocast, into a plane larger than the matrix
  /// product's and of at most kMaxWinogradPlane values (on larger planes with few channels
  /// oneDNN's direct kernel is faster).
  bool runs_as_winograd(const torch::Tensor& x) const;
  static constexpr std::int64_t kMaxWinogradPlane = 16 * 16;

 private:
  /// What both of forward's own kernels need: a float32 CPU tensor in NCHW or ChannelsLast,
  /// outside autocast, and a convolution with explicit zero padding, no dilation and one group.
  bool own_kernel_takes(const torch::Tensor& x) const;
  /// The output plane (H, W) when forward runs `x` as a matrix product, else nothing.
  std::optional<std::pair<std::int64_t, std::int64_t>> gemm_plane(const torch::Tensor& x) const;
};
TORCH_MODULE(Conv);

}  // namespace mammosweep::worker
