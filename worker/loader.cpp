#include "worker/loader.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>

#include "sweeps/splitmix.h"

namespace mammosweep::worker {
namespace {

/// The splitmix64 stream (sweeps/splitmix.h) with an unbiased bounded draw.
class SplitMix : public sweeps::SplitMix64 {
 public:
  using sweeps::SplitMix64::SplitMix64;
  /// Uniform in [0, n), n > 0, without modulo bias (rejection).
  std::uint64_t below(std::uint64_t n) {
    const std::uint64_t limit = ~std::uint64_t{0} - (~std::uint64_t{0} % n);
    std::uint64_t x;
    do x = next();
    while (x >= limit);
    return x % n;
  }
};

template <typename T>
void fisher_yates(std::vector<T>& v, SplitMix& rng) {
  for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng.below(i)]);
}

void check_options(const LoaderOptions& o) {
  auto bad = [](const std::string& what) { throw std::invalid_argument("LoaderOptions: " + what); };
  if (o.batch_size < 1) bad("expected batch_size >= 1, got " + std::to_string(o.batch_size));
  if (o.world < 1 || o.rank < 0 || o.rank >= o.world)
    bad("expected 0 <= rank < world, got rank " + std::to_string(o.rank) + ", world " +
        std::to_string(o.world));
  if (o.prefetch_threads < 0)
    bad("expected prefetch_threads >= 0, got " + std::to_string(o.prefetch_threads));
  if (o.prefetch_depth < 1)
    bad("expected prefetch_depth >= 1, got " + std::to_string(o.prefetch_depth));
}

}  // namespace

std::vector<std::int64_t> epoch_order(const std::vector<int>& labels, const LoaderOptions& o,
                                      int epoch) {
  const auto n = static_cast<std::int64_t>(labels.size());
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) order[static_cast<std::size_t>(i)] = i;
  if (!o.train) return order;

  SplitMix rng(augment_seed(o.seed, epoch, -1));
  if (o.balancing == Balancing::oversample && n > 0) {
    std::vector<std::vector<std::int64_t>> by_class;
    for (std::int64_t i = 0; i < n; ++i) {
      const int c = labels[static_cast<std::size_t>(i)];
      if (c < 0)
        throw std::invalid_argument("epoch_order: expected labels >= 0, got " + std::to_string(c) +
                                    " at sample " + std::to_string(i));
      if (static_cast<std::size_t>(c) >= by_class.size()) by_class.resize(c + 1);
      by_class[static_cast<std::size_t>(c)].push_back(i);
    }
    std::size_t largest = 0;
    for (const auto& members : by_class) largest = std::max(largest, members.size());
    for (auto& members : by_class) {
      const std::size_t nc = members.size();
      if (nc == 0 || nc == largest) continue;
      const std::size_t extra = largest - nc;
      for (std::size_t rep = 0; rep < extra / nc; ++rep)
        order.insert(order.end(), members.begin(), members.end());
      // extra % nc distinct members: the first ones of a partial Fisher-Yates shuffle.
      std::vector<std::int64_t> pool = members;
      const std::size_t rest = extra % nc;
      for (std::size_t i = 0; i < rest; ++i) {
        std::swap(pool[i], pool[i + rng.below(nc - i)]);
        order.push_back(pool[i]);
      }
    }
  }
  if (o.shuffle) fisher_yates(order, rng);
  return order;
}

std::vector<std::int64_t> rank_shard(const std::vector<std::int64_t>& order,
                                     const LoaderOptions& o) {
  check_options(o);
  const auto t = order.size();
  const auto k = static_cast<std::size_t>(o.world);
  const auto r = static_cast<std::size_t>(o.rank);
  std::vector<std::int64_t> out;
  if (o.train) {
    const std::size_t b = static_cast<std::size_t>(o.batch_size);
    const std::size_t per_rank = t / (k * b) * b;
    out.reserve(per_rank);
    for (std::size_t j = 0; j < per_rank; ++j) out.push_back(order[r + k * j]);
  } else {
    const std::size_t begin = r * t / k, end = (r + 1) * t / k;
    out.assign(order.begin() + static_cast<std::ptrdiff_t>(begin),
               order.begin() + static_cast<std::ptrdiff_t>(end));
  }
  return out;
}

std::vector<double> class_weights(const std::vector<int>& labels, int num_classes) {
  int c = num_classes;
  for (int l : labels) {
    if (l < 0) throw std::invalid_argument("class_weights: expected labels >= 0, got " + std::to_string(l));
    if (num_classes > 0 && l >= num_classes)
      throw std::invalid_argument("class_weights: label " + std::to_string(l) +
                                  " out of range for " + std::to_string(num_classes) + " classes");
    if (num_classes <= 0) c = std::max(c, l + 1);
  }
  std::vector<double> counts(static_cast<std::size_t>(std::max(c, 0)), 0.0);
  for (int l : labels) counts[static_cast<std::size_t>(l)] += 1;
  std::vector<double> w(counts.size(), 0.0);
  for (std::size_t i = 0; i < counts.size(); ++i)
    if (counts[i] > 0) w[i] = static_cast<double>(labels.size()) / (c * counts[i]);
  return w;
}

torch::Tensor transform_batch(const torch::Tensor& x, const LoaderOptions& o, int epoch,
                              std::int64_t step) {
  torch::Tensor y = x;
  if (o.train && o.augment.any()) y = augment_batch(y, o.augment, o.seed, epoch, step);
  return normalize(y, o.mean, o.std);
}

Loader::Loader(const ImageCache& cache, std::vector<std::int64_t> samples, LoaderOptions options)
    : cache_(cache), samples_(std::move(samples)), options_(std::move(options)) {
  check_options(options_);
  if (cache_.channels() != 3)
    throw std::invalid_argument("Loader: expected a 3-channel cache, '" + cache_.stats().path +
                                "' has " + std::to_string(cache_.channels()));
  labels_.reserve(samples_.size());
  for (std::int64_t s : samples_) {
    if (s < 0 || static_cast<std::size_t>(s) >= cache_.size())
      throw std::invalid_argument("Loader: sample " + std::to_string(s) + " out of range for cache '" +
                                  cache_.stats().path + "' with " + std::to_string(cache_.size()) +
                                  " images");
    labels_.push_back(cache_.label(static_cast<std::size_t>(s)));
  }
  if (options_.train) {
    // Oversampling only grows the order, so the unbalanced size is the lower bound.
    const std::size_t need = static_cast<std::size_t>(options_.world) * options_.batch_size;
    const std::size_t have = epoch_order(labels_, options_, 0).size();
    if (have < need)
      throw std::invalid_argument("Loader: train split has " + std::to_string(have) +
                                  " samples per epoch, fewer than world * batch_size = " +
                                  std::to_string(need) + " (drop_last would leave no batch)");
  }
}

Loader::~Loader() { stop_threads(); }

void Loader::stop_threads() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void Loader::start_epoch(int epoch) {
  stop_threads();
  epoch_ = epoch;
  shard_ = rank_shard(epoch_order(labels_, options_, epoch), options_);
  const auto b = static_cast<std::int64_t>(options_.batch_size);
  num_batches_ = (static_cast<std::int64_t>(shard_.size()) + b - 1) / b;
  ready_.clear();
  next_make_ = next_take_ = 0;
  stop_ = false;
  for (int t = 0; t < options_.prefetch_threads; ++t) threads_.emplace_back([this] { worker_loop(); });
}

void Loader::worker_loop() {
  // A new thread starts with OpenMP's default thread count (all cores), not the rank's
  // torch::set_num_threads value; adopt the latter. (Calling at::set_num_threads here
  // instead changes shared state under the training thread and breaks determinism.)
  at::init_num_threads();
  for (;;) {
    std::int64_t b;
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_cv_.wait(lock, [&] {
        return stop_ ||
               (next_make_ < num_batches_ && next_make_ < next_take_ + options_.prefetch_depth);
      });
      if (stop_) return;
      b = next_make_++;
    }
    Slot slot;
    try {
      slot.batch = make_batch(b);
    } catch (...) {
      slot.error = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      ready_[b] = std::move(slot);
    }
    ready_cv_.notify_all();
  }
}

bool Loader::next(Batch& batch) {
  std::int64_t b;
  Slot slot;
  if (threads_.empty()) {
    if (next_take_ >= num_batches_) return false;
    b = next_take_++;
    batch = make_batch(b);
    return true;
  }
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (next_take_ >= num_batches_) return false;
    b = next_take_;
    ready_cv_.wait(lock, [&] { return ready_.count(b) > 0; });
    auto it = ready_.find(b);
    slot = std::move(it->second);
    ready_.erase(it);
    ++next_take_;
  }
  work_cv_.notify_all();
  if (slot.error) std::rethrow_exception(slot.error);
  batch = std::move(slot.batch);
  return true;
}

Batch Loader::make_batch(std::int64_t b) const {
  const auto bs = static_cast<std::size_t>(options_.batch_size);
  const std::size_t begin = static_cast<std::size_t>(b) * bs;
  const std::size_t end = std::min(begin + bs, shard_.size());
  const auto n = static_cast<std::int64_t>(end - begin);
  const int s = cache_.image_size();
  const std::size_t image_bytes = cache_.image_bytes();

  Batch out;
  out.step = b * options_.world + options_.rank;
  out.indices.assign(shard_.begin() + static_cast<std::ptrdiff_t>(begin),
                     shard_.begin() + static_cast<std::ptrdiff_t>(end));
  torch::Tensor raw = at::empty({n, s, s, 3}, at::TensorOptions().dtype(at::kByte));
  out.labels = at::empty({n}, at::TensorOptions().dtype(at::kLong));
  auto* dst = raw.data_ptr<std::uint8_t>();
  auto* lab = out.labels.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < n; ++i) {
    const auto sample = static_cast<std::size_t>(samples_[static_cast<std::size_t>(out.indices[i])]);
    std::memcpy(dst + static_cast<std::size_t>(i) * image_bytes, cache_.pixels(sample), image_bytes);
    lab[i] = cache_.label(sample);
  }
  // NHWC bytes viewed as NCHW have ChannelsLast strides; to() keeps that layout.
  torch::Tensor x = raw.permute({0, 3, 1, 2}).to(at::kFloat).div_(255.0);
  if (!options_.device_transforms) x = transform_batch(x, options_, epoch_, out.step);
  out.images = options_.channels_last ? x.contiguous(at::MemoryFormat::ChannelsLast) : x.contiguous();
  if (options_.pin_memory) {
    out.images = out.images.pin_memory();
    out.labels = out.labels.pin_memory();
  }
  return out;
}

}  // namespace mammosweep::worker
