// fold_batchnorm against LibTorch's unfolded conv + eval-mode BatchNorm, on random weights
// and random running statistics (not the 0/1 a fresh layer has).
#include "deploy/batchnorm_fold.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <stdexcept>
#include <vector>

namespace mammosweep::deploy {
namespace {

std::vector<float> values(const torch::Tensor& t) {
  const torch::Tensor c = t.contiguous();
  return {c.data_ptr<float>(), c.data_ptr<float>() + c.numel()};
}

struct Case {
  std::int64_t in, out, kernel, stride, pad;
};

class FoldTest : public ::testing::TestWithParam<Case> {};

TEST_P(FoldTest, MatchesConvFollowedByEvalBatchNorm) {
  const Case k = GetParam();
  torch::manual_seed(17);
  const torch::Tensor w = torch::randn({k.out, k.in, k.kernel, k.kernel}) * 0.3;
  const torch::Tensor gamma = torch::rand({k.out}) * 2 - 0.5;  // some negative scales
  const torch::Tensor beta = torch::randn({k.out});
  const torch::Tensor mean = torch::randn({k.out}) * 0.5;
  const torch::Tensor var = torch::rand({k.out}) * 3 + 0.01;   // includes small variances
  const double eps = 1e-5;
  const torch::Tensor x = torch::randn({3, k.in, 13, 13});

  namespace F = torch::nn::functional;
  const auto conv_opts = F::Conv2dFuncOptions().stride(k.stride).padding(k.pad);
  const torch::Tensor reference = F::batch_norm(
      F::conv2d(x, w, conv_opts), mean, var,
      F::BatchNormFuncOptions().weight(gamma).bias(beta).training(false).eps(eps));

  const FoldedConv f = fold_batchnorm(values(w), values(gamma), values(beta), values(mean),
                                      values(var), eps);
  const torch::Tensor fw = torch::from_blob(const_cast<float*>(f.weight.data()), w.sizes()).clone();
  const torch::Tensor fb = torch::from_blob(const_cast<float*>(f.bias.data()), {k.out}).clone();
  const torch::Tensor folded =
      F::conv2d(x, fw, F::Conv2dFuncOptions().stride(k.stride).padding(k.pad).bias(fb));

  ASSERT_EQ(folded.sizes(), reference.sizes());
  const double scale = std::max(1.0, reference.abs().max().item<double>());
  EXPECT_LT((folded - reference).abs().max().item<double>(), 1e-5 * scale)
      << "reference magnitude " << scale;
}

INSTANTIATE_TEST_SUITE_P(Shapes, FoldTest,
                         ::testing::Values(Case{3, 64, 7, 2, 3}, Case{64, 64, 1, 1, 0},
                                           Case{32, 48, 3, 2, 1}, Case{16, 8, 1, 2, 0}));

TEST(FoldBatchNorm, RejectsMismatchedSizes) {
  const std::vector<float> w(2 * 3 * 1 * 1, 1.0f), two(2, 1.0f), three(3, 1.0f);
  EXPECT_THROW(fold_batchnorm(w, two, two, two, three, 1e-5), std::invalid_argument);
  EXPECT_THROW(fold_batchnorm(std::vector<float>(5, 1.0f), two, two, two, two, 1e-5),
               std::invalid_argument);
}

}  // namespace
}  // namespace mammosweep::deploy
