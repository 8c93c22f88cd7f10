// Training throughput of worker::ResNet50 (the model the trainer trains), one configuration
// per process, so the reported peak RSS belongs to that configuration.
//
//   build/bench/train_throughput --size 224 --batch 16 --threads 2
//       [--precision fp32|bf16] [--channels-last] [--unfrozen 1.0] [--optimizer adam|rmsprop]
//       [--unfused] [--warmup 2] [--steps 5] [--device cuda]
//
// One step is what worker/trainer.cpp does per batch: zero_grad, forward (under bf16 CPU
// autocast for --precision bf16), float32 cross-entropy, loss.item(), backward, the trainer's
// optimizer step (Adam, or --optimizer rmsprop; lr 1e-4; --unfused: LibTorch's own step);
// loss.item() waits for the device, so each step's host time is its GPU time too.
// --device cuda (or cuda:N) trains on the GPU under CUDA autocast, as scripts/gpu-check runs
// it against the Python twin. Model: head 2048 -> 1024 -> ReLU -> Dropout(0.5) -> 2, unfrozen_fraction --unfrozen
// (default 1.0: everything trains; frozen BatchNorm layers run in eval mode, and the frozen
// units run with their BatchNorms folded unless --no-fold, as in the trainer). With --channels-last the 4-d parameters and the input use the
// ChannelsLast memory format, as the trainer does. The input is a fixed random batch in
// device memory ("input": "synthetic"), or with --data DIR (a `mammosweep synth` folder) the
// trainer's real input path ("input": "loader"): the decode-once cache (built in
// DIR-cache-SIZE), a train-mode Loader (oversample-free, hflip + colour jitter 0.2,
// --loader-threads prefetch threads; on CUDA pinned batches, a non_blocking copy and the
// augmentation on the device, as worker/trainer.cpp does). The two rates' ratio is what the
// loader costs (docs/performance.md).
// Prints one line of JSON (the same keys as bench/train_throughput.py):
//   img_per_s = batch * steps / (total time of the timed steps), median_step_s,
//   median_prefix_s (of each fp32 CPU step, the frozen prefix's forward: what trials sharing
//   that prefix and their batches could compute once), peak_rss_mib (VmHWM of this process).
#include <ATen/autocast_mode.h>
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <numeric>
#include <optional>
#include <utility>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "worker/data.h"
#include "worker/frozen_prefix.h"
#include "worker/loader.h"
#include "worker/malloc_reuse.h"
#include "worker/optimizer.h"
#include "worker/resnet50.h"

namespace {

struct BenchOptions {
  int size = 224;
  int batch = 16;
  int threads = 1;
  std::string precision = "fp32";
  bool channels_last = false;
  int warmup = 2;
  int steps = 5;
  std::string device = "cpu";
  std::string data;  // empty: a fixed random batch
  int loader_threads = 2;
  double unfrozen = 1.0;
  bool no_fold = false;
  bool default_malloc = false;
  std::string optimizer = "adam";
  bool unfused = false;
};

/// VmHWM (peak resident set) of this process in MiB, from /proc/self/status.
double peak_rss_mib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return std::nan("");
}

/// The median of `v`, or null when it is empty (bf16 and CUDA steps do not time their prefix).
nlohmann::json median(std::vector<double> v) {
  if (v.empty()) return nullptr;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  namespace w = mammosweep::worker;
  using Clock = std::chrono::steady_clock;
  BenchOptions o;
  CLI::App app{"Training throughput of worker::ResNet50, one configuration per process"};
  app.add_option("--size", o.size, "Input image side")
      ->capture_default_str()->check(CLI::Range(32, std::numeric_limits<int>::max()));
  app.add_option("--batch", o.batch, "Batch size")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--threads", o.threads, "Intra-op threads")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--precision", o.precision, "fp32 or bf16 (CPU autocast)")
      ->capture_default_str()->check(CLI::IsMember({"fp32", "bf16"}));
  app.add_flag("--channels-last", o.channels_last, "ChannelsLast parameters and input");
  app.add_option("--warmup", o.warmup, "Untimed steps")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--steps", o.steps, "Timed steps")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--device", o.device, "cpu, cuda or cuda:N")->capture_default_str();
  app.add_option("--data", o.data, "Feed batches from the real loader over this synth folder");
  app.add_option("--unfrozen", o.unfrozen, "Unfrozen fraction of the backbone (the freezing rule)")
      ->capture_default_str()->check(CLI::Range(0.0, 1.0));
  app.add_flag("--no-fold", o.no_fold,
               "Run the frozen units unfolded (the trainer folds their BatchNorms: worker/frozen_prefix.h)");
  app.add_option("--optimizer", o.optimizer, "adam, or Keras' rmsprop (the week-7 Model 3's)")
      ->check(CLI::IsMember({"adam", "rmsprop"}));
  app.add_flag("--unfused", o.unfused,
               "LibTorch's own optimizer step (the trainer runs fused ones: worker/fused_adam.h, "
               "worker/fused_rmsprop.h)");
  app.add_flag("--default-malloc", o.default_malloc,
               "Keep glibc's default allocator settings (the trainer keeps freed memory: worker/malloc_reuse.h)");
  app.add_option("--loader-threads", o.loader_threads,
                 "Loader prefetch threads (with --data; 0 builds each batch on the training thread)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  CLI11_PARSE(app, argc, argv);
  try {
    const torch::Device device(o.device);
    if (device.is_cuda() && !torch::cuda::is_available()) {
      throw std::runtime_error("--device " + o.device + ": no CUDA device");
    }
    torch::set_num_threads(o.threads);
    if (!o.default_malloc) w::keep_freed_memory_for_reuse();
    torch::manual_seed(0);
    w::ResNet50Options mo;
    mo.dense_units = 1024;
    mo.dropout = 0.5;
    mo.unfrozen_fraction = o.unfrozen;
    w::ResNet50 model(mo);
    const auto format =
        o.channels_last ? torch::MemoryFormat::ChannelsLast : torch::MemoryFormat::Contiguous;
    if (o.channels_last) {
      torch::NoGradGuard no_grad;
      for (auto& t : model->parameters()) {
        if (t.dim() == 4) t.set_data(t.contiguous(torch::MemoryFormat::ChannelsLast));
      }
    }
    model->to(device);
    model->train();
    const w::FrozenPrefix frozen(*model, model->frozen_units(), !o.no_fold);
    // The trainer's optimizer (worker/optimizer.h: fused Adam, fused Keras RMSprop, lr 1e-4),
    // or with --unfused LibTorch's own class with the same options.
    const auto params = model->trainable_parameters();
    mammosweep::sweeps::TrainingParams tp;
    tp.optimizer = o.optimizer;
    std::unique_ptr<torch::optim::Optimizer> optimizer_owner = w::make_optimizer(params, tp);
    if (o.unfused && o.optimizer == "rmsprop") {
      optimizer_owner = std::make_unique<torch::optim::RMSprop>(
          params, static_cast<const torch::optim::RMSpropOptions&>(optimizer_owner->defaults()));
    } else if (o.unfused) {
      optimizer_owner = std::make_unique<torch::optim::Adam>(
          params, static_cast<const torch::optim::AdamOptions&>(optimizer_owner->defaults()));
    }
    torch::optim::Optimizer& optimizer = *optimizer_owner;
    const torch::Tensor x =
        torch::rand({o.batch, 3, o.size, o.size}).contiguous(format).to(device);
    const torch::Tensor y = torch::randint(0, 2, {o.batch}, torch::kLong).to(device);
    const bool bf16 = o.precision == "bf16";
    // --data: the real loader (see the top of this file).
    std::optional<w::PreparedData> data;
    std::optional<w::Loader> loader;
    w::LoaderOptions lo;
    int epoch = 0;
    if (!o.data.empty()) {
      mammosweep::sweeps::DataSpec ds;
      ds.root = o.data;
      ds.image_size = o.size;
      ds.class_map = {{"0", 0}, {"1", 1}};
      w::PrepareOptions po;
      po.cache_dir = o.data + "-cache-" + std::to_string(o.size);
      po.threads = std::max(1, o.loader_threads);
      po.check_leakage = false;
      data.emplace(w::prepare_data(ds, po));
      lo.batch_size = o.batch;
      lo.train = true;
      lo.augment.hflip = true;
      lo.augment.brightness = lo.augment.contrast = lo.augment.saturation = 0.2;
      lo.prefetch_threads = o.loader_threads;
      lo.channels_last = o.channels_last;
      lo.device_transforms = lo.pin_memory = device.is_cuda();
      loader.emplace(*data->cache, data->train, lo);
      loader->start_epoch(epoch);
    }
    w::Batch batch;
    auto next_input = [&]() -> std::pair<torch::Tensor, torch::Tensor> {
      if (!loader) return {x, y};
      while (!loader->next(batch)) loader->start_epoch(++epoch);
      torch::Tensor images = batch.images;
      if (lo.device_transforms) {
        images = w::transform_batch(images.to(device, /*non_blocking=*/true), lo, epoch, batch.step);
      }
      return {images, batch.labels.to(device, /*non_blocking=*/true)};
    };

    std::vector<double> times, prefix_times, optimizer_times;
    for (int i = 0; i < o.warmup + o.steps; ++i) {
      const auto t0 = Clock::now();
      const auto [xb, yb] = next_input();
      optimizer.zero_grad(/*set_to_none=*/true);
      torch::Tensor logits;
      if (bf16) {
        at::autocast::set_autocast_dtype(device.type(), at::kBFloat16);
        at::autocast::set_autocast_enabled(device.type(), true);
        logits = model->forward_units(frozen.forward(xb), frozen.units(), w::ResNet50Impl::kUnits);
        at::autocast::set_autocast_enabled(device.type(), false);
        at::autocast::clear_cache();
      } else {
        // Timed on the CPU only: on CUDA it would take a synchronisation inside the step.
        const auto p0 = Clock::now();
        torch::Tensor features = frozen.forward(xb);
        const std::chrono::duration<double> prefix_dt = Clock::now() - p0;
        if (i >= o.warmup && !device.is_cuda()) prefix_times.push_back(prefix_dt.count());
        logits = model->forward_units(features, frozen.units(), w::ResNet50Impl::kUnits);
      }
      torch::Tensor loss = torch::nn::functional::cross_entropy(logits.to(torch::kFloat), yb);
      const double loss_value = loss.item<double>();
      loss.backward();
      const auto s0 = Clock::now();
      optimizer.step();
      const auto s1 = Clock::now();
      const std::chrono::duration<double> dt = s1 - t0;
      if (i >= o.warmup) times.push_back(dt.count());
      // The CPU's optimizer step (on CUDA the kernels are only queued here).
      if (i >= o.warmup && !device.is_cuda()) {
        optimizer_times.push_back(std::chrono::duration<double>(s1 - s0).count());
      }
      if (!std::isfinite(loss_value)) {
        throw std::runtime_error("loss became " + std::to_string(loss_value) + " at step " +
                                 std::to_string(i + 1));
      }
    }
    const double total = std::accumulate(times.begin(), times.end(), 0.0);
    const nlohmann::ordered_json line = {
        {"bench", "train_throughput"}, {"impl", "cpp"}, {"size", o.size}, {"batch", o.batch},
        {"threads", o.threads}, {"device", o.device},
        {"input", loader ? "loader" : "synthetic"}, {"precision", o.precision}, {"channels_last", o.channels_last},
        {"unfrozen", o.unfrozen}, {"fold", !o.no_fold}, {"malloc", o.default_malloc ? "default" : "reuse"}, {"optimizer", o.optimizer + (o.unfused ? " unfused" : " fused")}, {"warmup", o.warmup}, {"steps", o.steps}, {"img_per_s", o.batch * o.steps / total},
        {"median_step_s", median(times)}, {"median_prefix_s", median(prefix_times)},
        {"median_optimizer_s", median(optimizer_times)},
        {"peak_rss_mib", peak_rss_mib()}};
    std::printf("%s\n", line.dump().c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "train_throughput: %s\n", e.what());
    return 1;
  }
  return 0;
}
