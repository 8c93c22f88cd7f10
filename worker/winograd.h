#pragma once
// 3x3 convolutions with stride 1 and padding 1 as Winograd's minimal filtering F(2x2, 3x3)
// (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks", 2016): each 2 x 2 block
// of output comes from a 4 x 4 tile of input through 16 products instead of 36. The 16
// products of every tile, channel and filter are 16 matrix products (MKL's sgemm through
// at::bmm) between small linear transforms of the tiles and of the weights, which this file's
// loops compute. The backward pass is the same three products transposed and the transforms'
// adjoints, so training saves what inference does: 2.25x fewer multiplications than ATen's
// direct convolution, whose oneDNN kernels for AVX2 have no Winograd path.
//
// Same results up to float rounding (tests/worker/winograd_test.cpp, against at::conv2d):
// F(2x2, 3x3)'s transforms have coefficients 0, +-1 and +-1/2 only, so its rounding error stays
// near the direct convolution's.
#include <torch/types.h>

namespace mammosweep::worker {

/// Whether winograd_conv3x3 takes x and weight: float32 CPU tensors, x [N, C, H, W] in NCHW or
/// ChannelsLast, weight [K, C, 3, 3].
bool winograd_takes(const torch::Tensor& x, const torch::Tensor& weight);

/// conv2d(x, weight, bias, stride 1, padding 1), differentiable in x, weight and bias (bias may
/// be undefined). The output has x's memory format. Requires winograd_takes(x, weight).
torch::Tensor winograd_conv3x3(const torch::Tensor& x, const torch::Tensor& weight,
                               const torch::Tensor& bias = {});

}  // namespace mammosweep::worker
