#pragma once
// Epoch order, class balancing, rank sharding and a prefetching batch loader over an
// ImageCache.
//
// Order of one epoch (epoch_order): a pure function of (labels, options.train, .shuffle,
// .balancing, .seed, epoch); it does NOT depend on rank, world or thread counts.
//   train:  indices 0..n-1; with Balancing::oversample every class with fewer samples than
//           the largest class is topped up to that size: its index list is repeated
//           floor(extra / n_c) times, plus extra % n_c distinct indices drawn at random. Then,
//           if shuffle, a Fisher-Yates shuffle. Randomness: a splitmix64 stream seeded with
//           augment_seed(seed, epoch, -1) (see augment.h), so it is reproducible everywhere.
//   val/test (train == false): always 0..n-1; never oversampled, shuffled or augmented.
//
// Sharding (rank_shard) of an order of length T over k = world ranks:
//   train: drop_last. B = batch_size, per_rank = floor(T / (k*B)) * B. Only the first
//          k*per_rank entries are used; rank r takes order[r + k*j], j < per_rank. Every
//          rank has exactly per_rank/B full batches (the same count, as DDP requires); the
//          dropped tail (< k*B entries) is a different random part of the data each epoch.
//   eval:  no sample lost or duplicated: rank r takes the contiguous block
//          [floor(r*T/k), floor((r+1)*T/k)); block sizes differ by at most one, so ranks may
//          have a different number of batches and a short last batch. Global metrics stay
//          exact because every sample is scored by exactly one rank: gather (index, score,
//          label) from all ranks AFTER the loop (or sum confusion counts) and compute metrics
//          on the union; do not run a per-batch collective during evaluation.
//
// Loader: yields Batch{images, labels, indices} for this rank. images are [B,3,H,W] float:
// pixels / 255, then (train only, when options.augment.any()) augment_batch with
// step = batch_number * world + rank (distinct for every batch of every rank, so repeated
// oversampled indices get fresh augmentation), then normalize(mean, std). With
// device_transforms = true the loader stops after "/ 255" and the caller applies
// transform_batch(batch.images.to(device), options, epoch, batch.step) on the device; with
// pin_memory = true the batch's tensors are page-locked, so that copy can be asynchronous.
// Background threads build batches into a bounded window of prefetch_depth batches; each
// batch is a pure function of (order, batch number), so the output is identical for any
// number of threads (0 = build synchronously in next()).
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include <torch/types.h>

#include "worker/augment.h"
#include "worker/cache.h"

namespace mammosweep::worker {

enum class Balancing { none, oversample, class_weights };

struct LoaderOptions {
  int batch_size = 32;
  bool shuffle = true;
  bool train = false;  ///< augmentation and balancing happen only when true
  Balancing balancing = Balancing::none;
  AugmentOptions augment;
  std::uint64_t seed = 0;
  int rank = 0, world = 1;
  int prefetch_threads = 1;  ///< 0: build batches synchronously in next()
  int prefetch_depth = 2;    ///< batches built ahead of the consumer (>= 1)
  std::vector<double> mean{0.485, 0.456, 0.406};
  std::vector<double> std{0.229, 0.224, 0.225};
  bool channels_last = false;      ///< images in ChannelsLast memory format
  bool device_transforms = false;  ///< leave augment + normalize to the caller (see above)
  /// Batches in page-locked host memory (needs CUDA), built by the prefetch threads, so the
  /// trainer's non_blocking copy to the device overlaps the previous step's GPU work.
  bool pin_memory = false;
};

/// The sample order of one epoch, before sharding (see the top of this file). Entries index
/// `labels`; with oversampling some appear more than once. Labels must be >= 0.
std::vector<std::int64_t> epoch_order(const std::vector<int>& labels, const LoaderOptions& options,
                                      int epoch);

/// This rank's part of `order` (see "Sharding" above).
std::vector<std::int64_t> rank_shard(const std::vector<std::int64_t>& order,
                                     const LoaderOptions& options);

/// Inverse-frequency loss weights: w_c = n / (C * n_c) with C = num_classes (0: max label + 1);
/// a class with no sample gets weight 0. A balanced set gives all ones.
std::vector<double> class_weights(const std::vector<int>& labels, int num_classes = 0);

/// augment (train only) + normalize, as the loader applies them; x is [N,3,H,W] in [0,1].
torch::Tensor transform_batch(const torch::Tensor& x, const LoaderOptions& options, int epoch,
                              std::int64_t step);

struct Batch {
  torch::Tensor images;               ///< [B,3,H,W] float
  torch::Tensor labels;               ///< [B] int64
  std::vector<std::int64_t> indices;  ///< positions in the loader's `samples`
  std::int64_t step = 0;              ///< augmentation step (batch_number * world + rank)
};

class Loader {
 public:
  /// `samples` are stored-image indices into `cache` (e.g. split_indices(cache, records,
  /// "train")); batch indices refer to positions in it. `cache` must outlive the loader.
  /// Throws std::invalid_argument for bad options, an out-of-range sample, a cache without
  /// 3 channels, or a train split too small for one batch per rank.
  Loader(const ImageCache& cache, std::vector<std::int64_t> samples, LoaderOptions options);
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;
  ~Loader();

  /// Computes the epoch's shard and starts prefetching. Abandons any unfinished epoch.
  void start_epoch(int epoch);
  /// The next batch of the current epoch; false once the epoch is exhausted. Rethrows an
  /// error raised while building the batch.
  bool next(Batch& batch);

  const std::vector<int>& labels() const { return labels_; }  ///< label of each sample
  std::size_t size() const { return samples_.size(); }
  /// Batches this rank yields in the current epoch (valid after start_epoch).
  std::int64_t num_batches() const { return num_batches_; }
  const LoaderOptions& options() const { return options_; }

 private:
  Batch make_batch(std::int64_t b) const;
  void stop_threads();
  void worker_loop();

  const ImageCache& cache_;
  std::vector<std::int64_t> samples_;
  std::vector<int> labels_;
  LoaderOptions options_;

  int epoch_ = 0;
  std::vector<std::int64_t> shard_;
  std::int64_t num_batches_ = 0;

  struct Slot {
    Batch batch;
    std::exception_ptr error;
  };
  std::mutex mu_;
  std::condition_variable work_cv_, ready_cv_;
  std::map<std::int64_t, Slot> ready_;
  std::int64_t next_make_ = 0, next_take_ = 0;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace mammosweep::worker
