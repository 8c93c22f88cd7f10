// The ResNet50's BatchNorm: LibTorch's BatchNorm2d, with one change of kernel. ATen's CPU
// batch norm in NCHW works along each channel's plane (H x W values); on planes of fewer than
// 16 values (one AVX-512 register of floats) it is several times slower than on the same
// values laid out along the channels. That is layer4 at 64 px (2 x 2) and at 96 px
// (3 x 3), where one trainable BN of 2048 channels took 5.3 ms for its forward and backward
// pass. On such planes this module hands ATen the same values as N*H*W rows of C channels:
// 1.1 ms for that BN (docs/performance.md, "BatchNorm on small planes", with the command).
//
// The statistics are the same (per channel, over N, H and W), so the results equal
// BatchNorm2d's up to float rounding (tests/worker/batch_norm_test.cpp), in training and in
// eval mode; running statistics and num_batches_tracked move as BatchNorm2d's do. The
// parameter and buffer names are BatchNorm2d's, and `as<torch::nn::BatchNorm2d>()` finds it.
#pragma once

#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/pimpl.h>

#include <cstdint>

namespace mammosweep::worker {

class BatchNormImpl : public torch::nn::BatchNorm2dImpl {
 public:
  using torch::nn::BatchNorm2dImpl::BatchNorm2dImpl;

  /// x: [N, C, H, W], any memory format; the output has x's format.
  torch::Tensor forward(const torch::Tensor& x);

  /// Whether forward runs `x` as rows of channels: a CPU tensor in NCHW whose planes hold
  /// fewer than kRowsBelowPlane values. Public for the tests, which check both sides.
  static bool runs_as_rows(const torch::Tensor& x);
  static constexpr std::int64_t kRowsBelowPlane = 16;
};
TORCH_MODULE(BatchNorm);

}  // namespace mammosweep::worker
