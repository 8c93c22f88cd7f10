// two_nearest_hamming (worker/leakage_augmented.h) against the OpenCV matcher it replaced in
// the leakage guard: cv::BFMatcher(NORM_HAMMING).knnMatch with k = 2, query by query.
#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/features2d.hpp>

#include <cstdint>
#include <random>
#include <vector>

#include "worker/leakage_augmented.h"

namespace mammosweep::worker {
namespace {

// n descriptors of 32 bytes. With `patterns` > 0 each is one of that many random patterns
// with a few bits flipped, so that many queries have equally near neighbours (ties).
std::vector<std::uint8_t> descriptors(int n, std::uint32_t seed, int patterns = 0) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> byte(0, 255), bit(0, 255);
  std::vector<std::uint8_t> base(std::size_t(std::max(patterns, 1)) * 32);
  for (auto& v : base) v = std::uint8_t(byte(rng));
  std::vector<std::uint8_t> out(std::size_t(n) * 32);
  for (int i = 0; i < n; ++i) {
    std::uint8_t* d = &out[std::size_t(i) * 32];
    if (patterns == 0) {
      for (int k = 0; k < 32; ++k) d[k] = std::uint8_t(byte(rng));
      continue;
    }
    const std::uint8_t* p = &base[std::size_t(i % patterns) * 32];
    std::copy(p, p + 32, d);
    for (int flips = i % 3; flips > 0; --flips) {
      const int b = bit(rng);
      d[b / 8] ^= std::uint8_t(1u << (b % 8));
    }
  }
  return out;
}

// Every query: the same nearest index and distance, and the same second distance (or none).
void expect_as_opencv(const std::vector<std::uint8_t>& a, const std::vector<std::uint8_t>& b) {
  const int na = int(a.size() / 32), nb = int(b.size() / 32);
  const auto got = two_nearest_hamming(a.data(), std::size_t(na), b.data(), std::size_t(nb));
  ASSERT_EQ(got.size(), std::size_t(na));
  if (nb == 0) {
    for (const auto& k : got) EXPECT_EQ(k.best, -1);
    return;
  }
  const cv::Mat ma(na, 32, CV_8U, const_cast<std::uint8_t*>(a.data()));
  const cv::Mat mb(nb, 32, CV_8U, const_cast<std::uint8_t*>(b.data()));
  std::vector<std::vector<cv::DMatch>> knn;
  cv::BFMatcher(cv::NORM_HAMMING).knnMatch(ma, mb, knn, 2);
  ASSERT_EQ(knn.size(), std::size_t(na));
  for (int q = 0; q < na; ++q) {
    SCOPED_TRACE("query " + std::to_string(q));
    const auto& want = knn[std::size_t(q)];
    ASSERT_FALSE(want.empty());
    EXPECT_EQ(got[std::size_t(q)].best, want[0].trainIdx);
    EXPECT_EQ(got[std::size_t(q)].best_distance, int(want[0].distance));
    EXPECT_EQ(got[std::size_t(q)].second_distance, want.size() > 1 ? int(want[1].distance) : -1);
  }
}

TEST(TwoNearestHamming, AsOpenCvOnRandomDescriptors) {
  expect_as_opencv(descriptors(250, 1), descriptors(250, 2));
  expect_as_opencv(descriptors(37, 3), descriptors(301, 4));
}

TEST(TwoNearestHamming, TiesGoToTheLowerIndexAsInOpenCv) {
  // 6 patterns over 120 descriptors: every query has several neighbours at the same distance.
  const auto b = descriptors(120, 6, 6);
  expect_as_opencv(descriptors(60, 5, 6), b);
  expect_as_opencv(b, b);  // each descriptor's nearest is itself or an equal one before it
}

TEST(TwoNearestHamming, OneOrNoCandidate) {
  expect_as_opencv(descriptors(10, 7), descriptors(1, 8));
  expect_as_opencv(descriptors(10, 7), {});
  EXPECT_TRUE(two_nearest_hamming(nullptr, 0, nullptr, 0).empty());
}

}  // namespace
}  // namespace mammosweep::worker
