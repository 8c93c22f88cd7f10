// Synthetic mammograms: counts, determinism, files on disk, basic anatomy.
#include "worker/synth.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>
#include <map>

#include "results/metrics.h"
#include "tests/temp_dir.h"
#include "worker/dataset.h"

namespace mammosweep::worker {
namespace {

TEST(Synth, CountsClassesAndSplits) {
  SynthOptions o;
  o.count = 40;
  o.size = 32;
  o.malignant_fraction = 0.35;
  const auto s = generate_synthetic(o);
  ASSERT_EQ(s.size(), 40u);
  // class 1: round(14) = 14 -> test round(1.4) = 1, val round(2.8) = 3, train 10;
  // class 0: 26 -> test round(2.6) = 3, val round(5.2) = 5, train 18.
  std::map<std::pair<std::string, int>, int> counts;
  for (const auto& x : s) {
    ++counts[{x.split, x.label}];
    EXPECT_EQ(x.image.width, 32);
    EXPECT_EQ(x.image.height, 32);
    EXPECT_EQ(x.image.channels, 1);
    EXPECT_EQ(x.image.bit_depth, 8);
    const std::string folder = x.split == "val" ? "valid" : x.split;
    EXPECT_EQ(x.relpath.rfind(folder + "/" + std::to_string(x.label) + "/", 0), 0u) << x.relpath;
  }
  EXPECT_EQ((counts[{"train", 0}]), 18);
  EXPECT_EQ((counts[{"val", 0}]), 5);
  EXPECT_EQ((counts[{"test", 0}]), 3);
  EXPECT_EQ((counts[{"train", 1}]), 10);
  EXPECT_EQ((counts[{"val", 1}]), 3);
  EXPECT_EQ((counts[{"test", 1}]), 1);
}

TEST(Synth, DeterministicForASeedDifferentForAnother) {
  SynthOptions o;
  o.count = 12;
  o.size = 48;
  o.seed = 5;
  const auto a = generate_synthetic(o), b = generate_synthetic(o);
  o.seed = 6;
  const auto c = generate_synthetic(o);
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].image.pixels, b[i].image.pixels);
    EXPECT_NE(a[i].image.pixels, c[i].image.pixels);
    if (i > 0) {
      EXPECT_NE(a[i].image.pixels, a[i - 1].image.pixels);
    }
  }
}

TEST(Synth, BreastIsBrighterThanBackgroundAndTouchesOneSide) {
  for (std::uint64_t seed = 0; seed < 10; ++seed) {
    const Image img = synth_mammogram(64, int(seed % 2), seed);
    auto column_mean = [&](int x) {
      double s = 0;
      for (int y = 0; y < 64; ++y) s += img.pixels[y * 64 + x];
      return s / 64;
    };
    const double left = column_mean(0), right = column_mean(63);
    // The chest wall side shows tissue (~60+), the other edge mostly background (<30).
    EXPECT_GT(std::max(left, right), 50) << seed;
    EXPECT_LT(std::min(left, right), 30) << seed;
  }
}

TEST(Synth, WritesAFolderDatasetThatListImagesReads) {
  const test::TempDir tmp("mswsynth");
  SynthOptions o;
  o.out = tmp.path();
  o.count = 30;
  o.size = 32;
  o.seed = 3;
  write_synthetic_dataset(o);
  SourceOptions src;
  src.root = o.out;
  const auto recs = list_images(src);
  ASSERT_EQ(recs.size(), 30u);
  const auto mem = generate_synthetic(o);
  std::map<std::string, const SynthSample*> by_rel;
  for (const auto& s : mem) by_rel[s.relpath] = &s;
  for (const auto& r : recs) {
    // list_images joins the root it was given with the relative path.
    const std::string prefix = o.out + "/";
    const std::string rel =
        r.path.compare(0, prefix.size(), prefix) == 0 ? r.path.substr(prefix.size()) : r.path;
    ASSERT_TRUE(by_rel.count(rel)) << rel;
    EXPECT_EQ(by_rel[rel]->label, r.label);
    EXPECT_EQ(by_rel[rel]->split, r.split);
    EXPECT_EQ(decode_image(r.path).pixels, by_rel[rel]->image.pixels);
  }
}

// "Hard enough that tiny models do not score 100 %": whole-image brightness statistics, the
// features a tiny model finds first, rank the classes far from perfectly (AUC computed
// independently by results::roc_auc over the per-image statistic).
TEST(Synth, BrightnessStatisticsDoNotSeparateTheClasses) {
  SynthOptions o;
  o.count = 400;
  o.size = 64;
  o.malignant_fraction = 0.5;
  o.seed = 21;
  const auto samples = generate_synthetic(o);
  results::Predictions mean, p99, max;
  for (const auto& s : samples) {
    std::vector<std::uint16_t> px = s.image.pixels;
    std::sort(px.begin(), px.end());
    double sum = 0;
    for (auto v : px) sum += v;
    for (auto* p : {&mean, &p99, &max}) p->labels.push_back(static_cast<std::int8_t>(s.label));
    mean.scores.push_back(static_cast<float>(sum / px.size()));
    p99.scores.push_back(px[px.size() * 99 / 100]);
    max.scores.push_back(px.back());
  }
  EXPECT_LT(results::roc_auc(mean), 0.65);
  EXPECT_LT(results::roc_auc(p99), 0.7);
  EXPECT_LT(results::roc_auc(max), 0.85);
  std::cout << "brightness AUCs: mean " << results::roc_auc(mean) << ", p99 "
            << results::roc_auc(p99) << ", max " << results::roc_auc(max) << "\n";
}

TEST(Synth, RejectsBadOptions) {
  SynthOptions o;
  o.size = 8;
  EXPECT_THROW(generate_synthetic(o), std::invalid_argument);
  o = SynthOptions{};
  o.val_fraction = 0.7;
  o.test_fraction = 0.3;
  EXPECT_THROW(generate_synthetic(o), std::invalid_argument);
  o = SynthOptions{};
  EXPECT_THROW(write_synthetic_dataset(o), std::invalid_argument);  // empty out
}

}  // namespace
}  // namespace mammosweep::worker
