#include "deploy/batchnorm_fold.h"

#include <cmath>
#include <cstddef>
#include <stdexcept>

namespace mammosweep::deploy {

FoldedConv fold_batchnorm(const std::vector<float>& weight, const std::vector<float>& gamma,
                          const std::vector<float>& beta, const std::vector<float>& mean,
                          const std::vector<float>& var, double eps) {
  const std::size_t out = gamma.size();
  if (out == 0 || beta.size() != out || mean.size() != out || var.size() != out ||
      weight.size() % out != 0) {
    throw std::invalid_argument("fold_batchnorm: BatchNorm sizes do not match the convolution");
  }
  const std::size_t block = weight.size() / out;
  FoldedConv f;
  f.weight.resize(weight.size());
  f.bias.resize(out);
  for (std::size_t o = 0; o < out; ++o) {
    // In double, so the only rounding is the final cast to float.
    const double s = static_cast<double>(gamma[o]) / std::sqrt(static_cast<double>(var[o]) + eps);
    for (std::size_t i = 0; i < block; ++i) {
      f.weight[o * block + i] = static_cast<float>(weight[o * block + i] * s);
    }
    f.bias[o] = static_cast<float>(beta[o] - mean[o] * s);
  }
  return f;
}

}  // namespace mammosweep::deploy
