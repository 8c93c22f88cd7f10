#include "worker/loader.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <dirent.h>
#include <gtest/gtest.h>
#include <torch/cuda.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "tests/temp_dir.h"

namespace mammosweep::worker {
namespace {

constexpr int kSize = 4;

/// Pixel value of record r, channel c, everywhere: the test recognises an image by its bytes.
std::uint8_t value_of(int record, int channel) {
  return static_cast<std::uint8_t>((record * 11 + channel * 3) % 256);
}

/// A cache of 23 tiny images: records 0..16 train (label 1 for every 4th: 5 of 17 positive),
/// records 17..22 val (labels 0,1,0,1,0,1).
class LoaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    at::set_num_threads(2);
    for (int i = 0; i < 23; ++i) {
      const std::string p = root_.file("img" + std::to_string(i) + ".png");
      std::ofstream(p) << i;
      const bool train = i < 17;
      const int label = train ? (i % 4 == 0 ? 1 : 0) : (i - 17) % 2;
      records_.push_back({p, label, train ? "train" : "val", ""});
    }
    CacheOptions co;
    co.cache_dir = root_.file("cache");
    co.image_size = kSize;
    co.channels = 3;
    cache_ = std::make_unique<ImageCache>(
        ImageCache::open_or_build(records_, co, [&](const ImageRecord& r) {
          const int i = static_cast<int>(&r - records_.data());
          std::vector<std::uint8_t> v(kSize * kSize * 3);
          for (std::size_t b = 0; b < v.size(); ++b) v[b] = value_of(i, static_cast<int>(b % 3));
          return v;
        }));
    train_ = split_indices(*cache_, records_, "train");
    val_ = split_indices(*cache_, records_, "val");
  }
  std::vector<Batch> all_batches(Loader& loader, int epoch) {
    std::vector<Batch> out;
    loader.start_epoch(epoch);
    Batch b;
    while (loader.next(b)) out.push_back(b);
    EXPECT_EQ(static_cast<std::int64_t>(out.size()), loader.num_batches());
    return out;
  }

  test::TempDir root_{"mswloader"};  // declared first: outlives the cache mapping files in it
  std::vector<ImageRecord> records_;
  std::unique_ptr<ImageCache> cache_;
  std::vector<std::int64_t> train_, val_;
};

LoaderOptions train_options() {
  LoaderOptions o;
  o.batch_size = 4;
  o.train = true;
  o.shuffle = true;
  o.balancing = Balancing::oversample;
  o.seed = 99;
  o.augment.hflip = true;
  o.augment.brightness = 0.2;
  o.augment.saturation = 0.5;
  return o;
}

TEST_F(LoaderTest, ValLoaderReturnsExactlyTheDatasetEvenWithTrainOnlyOptionsSet) {
  LoaderOptions o = train_options();
  o.train = false;  // val: the augmentation / oversample settings must be ignored
  o.batch_size = 4;
  Loader loader(*cache_, val_, o);
  const auto batches = all_batches(loader, 3);
  ASSERT_EQ(batches.size(), 2u);  // 6 samples, batch 4: 4 + 2
  std::vector<std::int64_t> seen;
  for (const Batch& b : batches) {
    ASSERT_EQ(b.images.dim(), 4);
    EXPECT_EQ(b.images.size(1), 3);
    EXPECT_EQ(b.images.size(2), kSize);
    EXPECT_EQ(b.labels.scalar_type(), at::kLong);
    for (std::size_t k = 0; k < b.indices.size(); ++k) {
      const std::int64_t idx = b.indices[k];
      seen.push_back(idx);
      const int record = 17 + static_cast<int>(idx);
      EXPECT_EQ(b.labels[static_cast<std::int64_t>(k)].item<std::int64_t>(), records_[record].label);
      // Content: (value/255 - mean) / std for every pixel of the channel, no augmentation.
      for (int c = 0; c < 3; ++c) {
        const double expect = (value_of(record, c) / 255.0 - o.mean[c]) / o.std[c];
        const torch::Tensor plane = b.images[static_cast<std::int64_t>(k)][c];
        EXPECT_NEAR(plane.min().item<float>(), expect, 1e-5);
        EXPECT_NEAR(plane.max().item<float>(), expect, 1e-5);
      }
    }
  }
  EXPECT_EQ(seen, (std::vector<std::int64_t>{0, 1, 2, 3, 4, 5}));
}

TEST_F(LoaderTest, EpochOrderForEvalIsIdentityAndForTrainOversampleBalancesClasses) {
  const std::vector<int> labels = {0, 0, 0, 0, 0, 0, 0, 1, 1, 0};  // 8 vs 2
  LoaderOptions eval = train_options();
  eval.train = false;
  const auto id = epoch_order(labels, eval, 4);
  EXPECT_EQ(id, (std::vector<std::int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));

  const LoaderOptions o = train_options();
  const auto order = epoch_order(labels, o, 0);
  ASSERT_EQ(order.size(), 16u);  // 8 + 8
  std::map<std::int64_t, int> count;
  int positives = 0;
  for (auto i : order) {
    ++count[i];
    positives += labels[static_cast<std::size_t>(i)];
  }
  EXPECT_EQ(positives, 8);
  // The minority (2 samples) is repeated 4 times each; the majority appears once.
  EXPECT_EQ(count[7], 4);
  EXPECT_EQ(count[8], 4);
  for (int i : {0, 1, 2, 3, 4, 5, 6, 9}) EXPECT_EQ(count[i], 1) << i;

  // Non-multiple: 7 vs 3 -> extra 4 = one full repetition (3) + 1 distinct random one.
  const std::vector<int> l2 = {0, 1, 0, 1, 0, 1, 0, 0, 0, 0};
  const auto o2 = epoch_order(l2, o, 1);
  ASSERT_EQ(o2.size(), 14u);
  std::map<std::int64_t, int> c2;
  for (auto i : o2) ++c2[i];
  EXPECT_EQ(c2[1] + c2[3] + c2[5], 7);
  for (int i : {1, 3, 5}) EXPECT_TRUE(c2[i] == 2 || c2[i] == 3) << i;

  // Without oversampling a train order is a permutation.
  LoaderOptions plain = o;
  plain.balancing = Balancing::class_weights;
  auto p = epoch_order(labels, plain, 0);
  std::sort(p.begin(), p.end());
  EXPECT_EQ(p, id);
}

TEST_F(LoaderTest, OrderDependsOnlyOnSeedAndEpoch) {
  std::vector<int> labels(40);
  for (int i = 0; i < 40; ++i) labels[static_cast<std::size_t>(i)] = i % 5 == 0;
  LoaderOptions a = train_options();
  LoaderOptions b = a;
  b.rank = 1;
  b.world = 2;
  b.prefetch_threads = 3;
  b.batch_size = 7;
  b.augment = AugmentOptions{};
  EXPECT_EQ(epoch_order(labels, a, 2), epoch_order(labels, b, 2));
  EXPECT_NE(epoch_order(labels, a, 2), epoch_order(labels, a, 3));
  LoaderOptions c = a;
  c.seed = 100;
  EXPECT_NE(epoch_order(labels, a, 2), epoch_order(labels, c, 2));
}

TEST_F(LoaderTest, TrainShardsAreDisjointEqualAndCoverTheOrderMinusTheDroppedTail) {
  std::vector<int> labels(50);
  for (int i = 0; i < 50; ++i) labels[static_cast<std::size_t>(i)] = i % 3 == 0;  // 17 vs 33
  LoaderOptions o = train_options();
  o.batch_size = 5;
  const auto order = epoch_order(labels, o, 1);
  ASSERT_EQ(order.size(), 66u);
  const int k = 3;  // per rank: floor(66 / 15) * 5 = 20; 60 used, 6 dropped
  std::vector<std::int64_t> positions_used;  // reconstruct: rank r entry j is order[r + k*j]
  std::multiset<std::int64_t> union_entries;
  for (int r = 0; r < k; ++r) {
    o.rank = r;
    o.world = k;
    const auto s = rank_shard(order, o);
    ASSERT_EQ(s.size(), 20u) << "rank " << r;
    for (std::size_t j = 0; j < s.size(); ++j) EXPECT_EQ(s[j], order[r + k * j]);
    union_entries.insert(s.begin(), s.end());
  }
  // The union is exactly the first 60 entries of the order (as a multiset: oversampled
  // indices repeat in the order itself); the last 6 are dropped.
  EXPECT_EQ(union_entries, std::multiset<std::int64_t>(order.begin(), order.begin() + 60));
}

TEST_F(LoaderTest, EvalShardsLoseAndDuplicateNothing) {
  LoaderOptions o;
  o.train = false;
  o.batch_size = 4;
  const std::vector<int> labels(11, 0);
  const auto order = epoch_order(labels, o, 0);
  std::vector<std::int64_t> all;
  std::vector<std::size_t> sizes;
  for (int r = 0; r < 3; ++r) {
    o.rank = r;
    o.world = 3;
    const auto s = rank_shard(order, o);
    sizes.push_back(s.size());
    all.insert(all.end(), s.begin(), s.end());
  }
  EXPECT_EQ(sizes, (std::vector<std::size_t>{3, 4, 4}));  // floor(r*11/3) boundaries 0,3,7,11
  EXPECT_EQ(all, order);
}

TEST_F(LoaderTest, TrainLoaderBalancesAndAugmentsAndShardsAcrossRanks) {
  // Train split: 17 samples, 5 positive -> oversampled to 12 + 12 = 24; world 2, batch 4:
  // per rank floor(24 / 8) * 4 = 12 samples = 3 batches, nothing dropped.
  LoaderOptions o = train_options();
  o.world = 2;
  std::multiset<std::int64_t> all;
  int positives = 0;
  for (int r = 0; r < 2; ++r) {
    o.rank = r;
    Loader loader(*cache_, train_, o);
    const auto batches = all_batches(loader, 0);
    ASSERT_EQ(batches.size(), 3u);
    for (const Batch& b : batches) {
      EXPECT_EQ(b.images.size(0), 4);
      EXPECT_EQ(b.step % 2, r);
      positives += static_cast<int>(b.labels.sum().item<std::int64_t>());
      all.insert(b.indices.begin(), b.indices.end());
    }
  }
  EXPECT_EQ(positives, 12);
  EXPECT_EQ(all.size(), 24u);
  o.rank = 0;
  std::vector<int> labels;
  for (auto s : train_) labels.push_back(records_[static_cast<std::size_t>(cache_->source_index(static_cast<std::size_t>(s)))].label);
  const auto order = epoch_order(labels, o, 0);
  EXPECT_EQ(all, std::multiset<std::int64_t>(order.begin(), order.end()));
}

TEST_F(LoaderTest, SameBatchesForAnyNumberOfPrefetchThreads) {
  LoaderOptions o = train_options();
  std::vector<std::vector<Batch>> runs;
  for (int threads : {0, 1, 2, 3}) {
    o.prefetch_threads = threads;
    o.prefetch_depth = threads == 3 ? 1 : 2;
    Loader loader(*cache_, train_, o);
    runs.push_back(all_batches(loader, 5));
  }
  for (std::size_t r = 1; r < runs.size(); ++r) {
    ASSERT_EQ(runs[r].size(), runs[0].size());
    for (std::size_t b = 0; b < runs[0].size(); ++b) {
      EXPECT_EQ(runs[r][b].indices, runs[0][b].indices);
      EXPECT_TRUE(at::equal(runs[r][b].images, runs[0][b].images)) << "run " << r << " batch " << b;
      EXPECT_TRUE(at::equal(runs[r][b].labels, runs[0][b].labels));
    }
  }
  // Augmentation really happened: some train image differs from its plain normalised value.
  LoaderOptions plain = o;
  plain.augment = AugmentOptions{};
  Loader pl(*cache_, train_, plain);
  const auto plain_batches = all_batches(pl, 5);
  bool differs = false;
  for (std::size_t b = 0; b < plain_batches.size(); ++b) {
    EXPECT_EQ(plain_batches[b].indices, runs[0][b].indices);
    differs = differs || !at::allclose(plain_batches[b].images, runs[0][b].images);
  }
  EXPECT_TRUE(differs);
}

TEST_F(LoaderTest, AbandoningAnEpochAndChannelsLastWork) {
  LoaderOptions o = train_options();
  o.prefetch_threads = 2;
  o.channels_last = true;
  Loader loader(*cache_, train_, o);
  loader.start_epoch(0);
  Batch b;
  ASSERT_TRUE(loader.next(b));
  EXPECT_TRUE(b.images.is_contiguous(at::MemoryFormat::ChannelsLast));
  const auto second = all_batches(loader, 1);  // restart mid-epoch
  EXPECT_FALSE(second.empty());
}

TEST_F(LoaderTest, DeviceTransformsDeferAugmentAndNormalize) {
  LoaderOptions o = train_options();
  o.device_transforms = true;
  Loader raw(*cache_, train_, o);
  o.device_transforms = false;
  Loader full(*cache_, train_, o);
  const auto rb = all_batches(raw, 2);
  const auto fb = all_batches(full, 2);
  ASSERT_EQ(rb.size(), fb.size());
  for (std::size_t i = 0; i < rb.size(); ++i) {
    EXPECT_GE(rb[i].images.min().item<float>(), 0.0f);
    EXPECT_LE(rb[i].images.max().item<float>(), 1.0f);
    EXPECT_TRUE(at::allclose(transform_batch(rb[i].images, o, 2, rb[i].step), fb[i].images));
  }
}

// Pinned batches (the CUDA path) hold the same values as pageable ones. GPU only: pinning
// needs CUDA.
TEST_F(LoaderTest, PinnedBatchesEqualPageableOnes) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device: pinned memory needs CUDA";
  LoaderOptions o = train_options();
  o.device_transforms = true;
  Loader pageable(*cache_, train_, o);
  o.pin_memory = true;
  Loader pinned(*cache_, train_, o);
  const auto a = all_batches(pageable, 1);
  const auto b = all_batches(pinned, 1);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(b[i].images.is_pinned());
    EXPECT_TRUE(b[i].labels.is_pinned());
    EXPECT_FALSE(a[i].images.is_pinned());
    EXPECT_TRUE(at::equal(a[i].images, b[i].images));
    EXPECT_TRUE(at::equal(a[i].labels, b[i].labels));
    // The asynchronous copy lands the same values on the device.
    const auto dev = b[i].images.to(at::Device(at::kCUDA, 0), /*non_blocking=*/true);
    EXPECT_TRUE(at::equal(dev.cpu(), a[i].images));
  }
}

TEST(ClassWeights, InverseFrequency) {
  // 6 of class 0, 2 of class 1: w = 8 / (2*6), 8 / (2*2).
  const auto w = class_weights({0, 0, 0, 1, 0, 0, 1, 0});
  ASSERT_EQ(w.size(), 2u);
  EXPECT_DOUBLE_EQ(w[0], 8.0 / 12.0);
  EXPECT_DOUBLE_EQ(w[1], 2.0);
  EXPECT_EQ(class_weights({0, 1, 1, 0}), (std::vector<double>{1.0, 1.0}));
  const auto w3 = class_weights({0, 0}, 3);  // absent classes get 0
  EXPECT_EQ(w3, (std::vector<double>{2.0 / (3.0 * 2.0), 0.0, 0.0}));  // n=2, C=3, n_0=2
  EXPECT_THROW(class_weights({0, 2}, 2), std::invalid_argument);
}

TEST_F(LoaderTest, RejectsBadOptionsAndTooSmallTrainSplit) {
  LoaderOptions o = train_options();
  o.batch_size = 0;
  EXPECT_THROW(Loader(*cache_, train_, o), std::invalid_argument);
  o = train_options();
  o.rank = 2;
  o.world = 2;
  EXPECT_THROW(Loader(*cache_, train_, o), std::invalid_argument);
  o = train_options();
  o.batch_size = 16;
  o.world = 2;  // 24 samples < 32
  EXPECT_THROW(Loader(*cache_, train_, o), std::invalid_argument);
  EXPECT_THROW(Loader(*cache_, {0, 999}, train_options()), std::invalid_argument);
}

}  // namespace
}  // namespace mammosweep::worker
