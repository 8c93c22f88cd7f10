#pragma once
// BatchNorm folded into the convolution before it, for inference graphs (ONNX export).
//
// A convolution y = W * x (no bias) followed by eval-mode BatchNorm
//   z = gamma * (y - mean) / sqrt(var + eps) + beta
// equals one convolution with weight W'[o] = W[o] * s[o] and bias b'[o] = beta[o] - mean[o] * s[o],
// where s = gamma / sqrt(var + eps), per output channel o. Exact up to float rounding
// (tests/deploy/batchnorm_fold_test.cpp compares it with LibTorch's conv + BatchNorm).
#include <cstdint>
#include <vector>

namespace mammosweep::deploy {

struct FoldedConv {
  std::vector<float> weight;  // same layout as the input weight [out, in, kh, kw]
  std::vector<float> bias;    // [out]
};

/// `weight` holds out_channels equal blocks (one per output channel); gamma, beta, mean and
/// var have out_channels entries. Throws std::invalid_argument when the sizes disagree.
FoldedConv fold_batchnorm(const std::vector<float>& weight, const std::vector<float>& gamma,
                          const std::vector<float>& beta, const std::vector<float>& mean,
                          const std::vector<float>& var, double eps);

}  // namespace mammosweep::deploy
