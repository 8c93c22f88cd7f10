#include "worker/augment.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <cmath>

namespace mammosweep::worker {
namespace {

torch::Tensor random_batch(std::int64_t n = 16, std::int64_t h = 8, std::int64_t w = 6) {
  at::Generator g = at::detail::createCPUGenerator(1234);
  return at::rand({n, 3, h, w}, g, at::TensorOptions().dtype(at::kFloat));
}

class AugmentTest : public ::testing::Test {
 protected:
  void SetUp() override { at::set_num_threads(2); }
};

TEST_F(AugmentTest, AllOptionsOffReturnsTheBatchUnchanged) {
  const torch::Tensor x = random_batch();
  const torch::Tensor y = augment_batch(x, AugmentOptions{}, 7, 1, 3);
  EXPECT_TRUE(at::equal(x, y));
}

TEST_F(AugmentTest, DeterministicForSameSeedEpochStepDifferentOtherwise) {
  AugmentOptions o;
  o.hflip = o.vflip = true;
  o.brightness = o.contrast = o.saturation = 0.3;
  const torch::Tensor x = random_batch();
  const torch::Tensor a = augment_batch(x, o, 42, 2, 5);
  const torch::Tensor b = augment_batch(x, o, 42, 2, 5);
  EXPECT_TRUE(at::equal(a, b));
  EXPECT_FALSE(at::equal(a, augment_batch(x, o, 42, 2, 6)));  // other step
  EXPECT_FALSE(at::equal(a, augment_batch(x, o, 42, 3, 5)));  // other epoch
  EXPECT_FALSE(at::equal(a, augment_batch(x, o, 43, 2, 5)));  // other seed
  // Global RNG state is neither used nor disturbed.
  at::manual_seed(1);
  const torch::Tensor g1 = at::rand({4});
  at::manual_seed(1);
  (void)augment_batch(x, o, 42, 2, 5);
  EXPECT_TRUE(at::equal(g1, at::rand({4})));
  // Input untouched.
  EXPECT_TRUE(at::equal(x, random_batch()));
}

TEST_F(AugmentTest, SeedMixIsSplitmix64Chain) {
  // splitmix64(0) from Vigna's reference implementation (first output of a stream seeded 0).
  auto sm = [](std::uint64_t z) {
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  };
  EXPECT_EQ(sm(0), 0xe220a8397b1dcdafULL);
  EXPECT_EQ(augment_seed(5, 2, 9), sm(sm(sm(5) ^ 2) ^ 9));
  EXPECT_NE(augment_seed(5, 2, 9), augment_seed(5, 9, 2));
}

TEST_F(AugmentTest, HflipExactlyMirrorsSomeSamplesAndLeavesOthers) {
  // Hand-built single row: flipping [a b c] gives [c b a].
  torch::Tensor row = at::arange(9, at::TensorOptions().dtype(at::kFloat)).div(10).view({1, 3, 1, 3});
  torch::Tensor batch = row.repeat({32, 1, 1, 1});
  AugmentOptions o;
  o.hflip = true;
  const torch::Tensor y = augment_batch(batch, o, 3, 0, 0);
  const torch::Tensor mirrored = at::tensor({0.2f, 0.1f, 0.0f, 0.5f, 0.4f, 0.3f, 0.8f, 0.7f, 0.6f})
                                     .view({1, 3, 1, 3});
  int flipped = 0, kept = 0;
  for (int64_t i = 0; i < 32; ++i) {
    if (at::equal(y[i], row[0])) {
      ++kept;
    } else {
      EXPECT_TRUE(at::allclose(y[i], mirrored[0], 0, 1e-7)) << "sample " << i;
      ++flipped;
    }
  }
  EXPECT_GT(flipped, 0);
  EXPECT_GT(kept, 0);

  // On a general batch: each sample is either itself or its exact mirror along W.
  const torch::Tensor x = random_batch();
  const torch::Tensor z = augment_batch(x, o, 3, 0, 1);
  for (int64_t i = 0; i < x.size(0); ++i)
    EXPECT_TRUE(at::equal(z[i], x[i]) || at::equal(z[i], x[i].flip({2}))) << i;
}

TEST_F(AugmentTest, VflipMirrorsAlongHeight) {
  const torch::Tensor x = random_batch();
  AugmentOptions o;
  o.vflip = true;
  const torch::Tensor z = augment_batch(x, o, 8, 0, 0);
  int flipped = 0;
  for (int64_t i = 0; i < x.size(0); ++i) {
    const bool same = at::equal(z[i], x[i]);
    const bool flip = at::equal(z[i], x[i].flip({1}));
    EXPECT_TRUE(same || flip) << i;
    flipped += flip && !same;
  }
  EXPECT_GT(flipped, 0);
}

TEST_F(AugmentTest, BrightnessFactorStaysWithinBounds) {
  // A constant 0.5 image: output / 0.5 is the factor, which must lie in [0.8, 1.2].
  const torch::Tensor x = at::full({200, 3, 2, 2}, 0.5, at::TensorOptions().dtype(at::kFloat));
  AugmentOptions o;
  o.brightness = 0.2;
  const torch::Tensor y = augment_batch(x, o, 11, 0, 0);
  const torch::Tensor f = y.select(1, 0).select(1, 0).select(1, 0) / 0.5;
  EXPECT_GE(f.min().item<float>(), 0.8f - 1e-6f);
  EXPECT_LE(f.max().item<float>(), 1.2f + 1e-6f);
  EXPECT_LT(f.min().item<float>(), 0.85f);  // the range is actually used
  EXPECT_GT(f.max().item<float>(), 1.15f);
  // One factor per image: all pixels and channels of an image move together.
  EXPECT_TRUE(at::allclose(y, y.select(1, 0).select(1, 0).select(1, 0).view({200, 1, 1, 1}).expand_as(y)));
  // Clamped to [0,1] on a bright image.
  const torch::Tensor bright = at::full({50, 3, 2, 2}, 0.95, at::TensorOptions().dtype(at::kFloat));
  EXPECT_LE(augment_batch(bright, o, 11, 0, 0).max().item<float>(), 1.0f);
}

TEST_F(AugmentTest, SaturationZeroGivesGrayscale) {
  // One pixel, R=1, G=0.5, B=0: gray = 0.299 + 0.2935 = 0.5925 in every channel.
  const torch::Tensor x = at::tensor({1.0f, 0.5f, 0.0f}).view({1, 3, 1, 1});
  const torch::Tensor y = adjust_saturation(x, at::zeros({1}));
  for (int c = 0; c < 3; ++c) EXPECT_NEAR(y[0][c][0][0].item<float>(), 0.5925f, 1e-6f);
  // Factor 1 keeps the image, factor 2 pushes away from gray and clamps: R = 2 - 0.5925 > 1.
  EXPECT_TRUE(at::allclose(adjust_saturation(x, at::ones({1})), x));
  const torch::Tensor s2 = adjust_saturation(x, at::full({1}, 2.0));
  EXPECT_NEAR(s2[0][0][0][0].item<float>(), 1.0f, 1e-6f);
  EXPECT_NEAR(s2[0][1][0][0].item<float>(), 2 * 0.5f - 0.5925f, 1e-6f);
  EXPECT_NEAR(s2[0][2][0][0].item<float>(), 0.0f, 1e-6f);
}

TEST_F(AugmentTest, ContrastBlendsWithMeanGray) {
  // Two pixels: black and white (gray 0 and 1): mean gray 0.5. Factor 0.5 -> 0.25 and 0.75.
  const torch::Tensor x = at::tensor({0.f, 1.f, 0.f, 1.f, 0.f, 1.f}).view({3, 1, 2}).unsqueeze(0);
  const torch::Tensor y = adjust_contrast(x, at::full({1}, 0.5));
  EXPECT_NEAR(y[0][1][0][0].item<float>(), 0.25f, 1e-6f);
  EXPECT_NEAR(y[0][1][0][1].item<float>(), 0.75f, 1e-6f);
  const torch::Tensor z = adjust_contrast(x, at::zeros({1}));
  EXPECT_TRUE(at::allclose(z, at::full_like(x, 0.5)));
}

TEST_F(AugmentTest, NormalizeUsesPerChannelMeanStd) {
  const torch::Tensor x = at::full({2, 3, 2, 2}, 0.5, at::TensorOptions().dtype(at::kFloat));
  const torch::Tensor y = normalize(x);
  EXPECT_NEAR(y[1][0][1][1].item<float>(), (0.5 - 0.485) / 0.229, 1e-6);
  EXPECT_NEAR(y[0][1][0][0].item<float>(), (0.5 - 0.456) / 0.224, 1e-6);
  EXPECT_NEAR(y[0][2][0][1].item<float>(), (0.5 - 0.406) / 0.225, 1e-6);
  EXPECT_THROW(normalize(x, {0.5, 0.5}, {1, 1}), std::invalid_argument);
  EXPECT_THROW(normalize(x, {0, 0, 0}, {1, 0, 1}), std::invalid_argument);
}

TEST_F(AugmentTest, RejectsWrongShapesWithTheShapeInTheMessage) {
  try {
    augment_batch(at::zeros({2, 1, 4, 4}), AugmentOptions{}, 0, 0, 0);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("[2,1,4,4]"), std::string::npos) << e.what();
  }
  AugmentOptions neg;
  neg.brightness = -0.1;
  EXPECT_THROW(augment_batch(random_batch(), neg, 0, 0, 0), std::invalid_argument);
}

}  // namespace
}  // namespace mammosweep::worker
