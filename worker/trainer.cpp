#include "worker/trainer.h"

#include <ATen/autocast_mode.h>
#include <c10/util/Exception.h>
#include <fmt/format.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <utility>

#include "io/disk.h"
#include "io/files.h"
#include "io/phases.h"
#include "results/metrics.h"
#include "results/ranking.h"
#include "sweeps/splitmix.h"
#include "worker/checkpoint.h"
#include "worker/frozen_prefix.h"
#include "worker/cuda_device.h"
#include "worker/image.h"
#include "worker/leakage.h"
#include "worker/loader.h"
#include "worker/malloc_reuse.h"
#include "worker/optimizer.h"
#include "worker/progress_bar.h"
#include "worker/resnet50.h"
#include "worker/weights.h"

namespace mammosweep::worker {

void sync_group(GradientGroup& group, std::exception_ptr failure, bool stop) {
  std::string mine = stop ? "S" : "-";
  if (failure) {
    try {
      std::rethrow_exception(failure);
    } catch (const c10::Error& e) {
      mine = std::string("F") + e.what_without_backtrace();
    } catch (const std::exception& e) {
      mine = std::string("F") + e.what();
    } catch (...) {
      mine = "Fan exception of unknown type";
    }
  }
  const std::vector<std::string> all = group.allgather_bytes(mine);
  bool any_stop = false;
  for (std::size_t r = 0; r < all.size(); ++r) {
    if (all[r].at(0) == 'F') {
      if (failure) std::rethrow_exception(failure);
      throw GroupAborted(fmt::format("group rank {} failed: {}", r, all[r].substr(1)));
    }
    any_stop = any_stop || all[r].at(0) == 'S';
  }
  if (any_stop) throw Interrupted("stopped at a step boundary on request");
}

namespace {

using Clock = std::chrono::steady_clock;

using sweeps::splitmix64;

// ---- pieces of the training loop ---------------------------------------------------------

/// bf16 autocast for the scope (CPU autocast, or AMP on CUDA).
class AutocastScope {
 public:
  AutocastScope(bool enabled, c10::DeviceType device) : enabled_(enabled), device_(device) {
    if (!enabled_) return;
    at::autocast::set_autocast_dtype(device_, at::kBFloat16);
    at::autocast::set_autocast_enabled(device_, true);
  }
  ~AutocastScope() {
    if (!enabled_) return;
    at::autocast::set_autocast_enabled(device_, false);
    at::autocast::clear_cache();
  }

 private:
  bool enabled_;
  c10::DeviceType device_;
};

/// Adds a batch's labels and malignancy scores to `acc`.
void accumulate(results::MetricsAccumulator& acc, const torch::Tensor& logits,
                const torch::Tensor& labels, double loss_sum) {
  torch::Tensor scores = torch::softmax(logits.detach().to(torch::kFloat), 1)
                             .select(1, 1)
                             .contiguous()
                             .cpu();
  torch::Tensor y = labels.to(torch::kInt8).contiguous().cpu();
  acc.add(y.data_ptr<std::int8_t>(), scores.data_ptr<float>(),
          static_cast<std::size_t>(y.numel()), loss_sum, y.numel());
}

struct Run {
  /// The trial's freshly initialised model on the CPU; setup (in train) loads its weights,
  /// moves it to `device` and makes the optimizer.
  Run(const sweeps::Trial& t, const PreparedData& d, const TrainerOptions& o, torch::Device dev)
      : trial(t),
        data(d),
        options(o),
        device(dev),
        model(model_options(t.params, t.seed)),
        group(o.group) {}

  const sweeps::Trial& trial;
  const PreparedData& data;
  const TrainerOptions& options;
  torch::Device device;
  ResNet50 model;
  std::unique_ptr<torch::optim::Optimizer> optimizer;  // made by setup
  torch::Tensor class_weight;  // undefined unless balancing is class_weights
  GradientGroup* group;        // options.group
  /// The frozen units, their BatchNorms folded except in bf16 (worker/frozen_prefix.h), made once the
  /// weights are final (loaded, broadcast, resumed): training and validation run them instead
  /// of the model's own units.
  FrozenPrefix frozen;
  /// The frozen prefix's output for each validation batch, in loader order (the val loader
  /// does not shuffle), kept by the first validation of the trial.
  std::vector<torch::Tensor> val_prefix;
  std::int64_t val_prefix_bytes = 0;

  bool distributed() const { return group && group->size() > 1; }

  LoaderOptions loader_options(bool train) const {
    const auto& p = trial.params;
    LoaderOptions lo;
    lo.batch_size = p.batch_size;
    lo.train = train;
    lo.shuffle = train;
    lo.balancing = !train ? Balancing::none
                   : p.balancing == "oversample" ? Balancing::oversample
                   : p.balancing == "class_weights" ? Balancing::class_weights
                                                    : Balancing::none;
    lo.augment.hflip = p.augmentation.hflip;
    lo.augment.vflip = p.augmentation.vflip;
    lo.augment.brightness = p.augmentation.brightness;
    lo.augment.contrast = p.augmentation.contrast;
    lo.augment.saturation = p.augmentation.saturation;
    lo.seed = trial.seed;
    lo.rank = group ? group->rank() : 0;
    lo.world = group ? group->size() : 1;
    lo.prefetch_threads = options.prefetch_threads >= 0 ? options.prefetch_threads
                                                        : device.is_cuda() ? 1 : 0;
    lo.mean = options.mean;
    lo.std = options.std;
    lo.channels_last = p.channels_last;
    lo.device_transforms = device.is_cuda();
    lo.pin_memory = device.is_cuda();
    return lo;
  }

  torch::Tensor to_device_images(const Batch& b, const LoaderOptions& lo, int epoch) const {
    if (!lo.device_transforms) return b.images;
    return transform_batch(b.images.to(device, /*non_blocking=*/true), lo, epoch, b.step);
  }

  /// A failure on this rank that the group has not heard of yet (distributed only).
  std::exception_ptr failure;

  /// Runs `f`. Alone, its exceptions propagate at once. In a group they are held until the
  /// next sync(), and this rank goes on entering the same collectives as the others (with
  /// whatever tensors it has: the trial is abandoned at that sync anyway), so no member is
  /// left waiting in a collective for a rank that has already given up.
  template <class F>
  void local(F&& f) {
    if (!distributed()) return f();
    if (failure) return;
    try {
      f();
    } catch (...) {
      failure = std::current_exception();
    }
  }

  /// A consensus point: throws when any group member failed (see sync_group) or asked to
  /// stop (Interrupted). Alone, it only polls the stop request.
  void sync(bool poll_stop = true) const {
    const bool stop = poll_stop && options.should_stop && options.should_stop();
    if (distributed()) return sync_group(*group, failure, stop);
    if (stop) throw Interrupted("stopped at a step boundary on request");
  }

  void maybe_inject_failure(int epoch, std::int64_t step) const {
    if (options.fail_at_epoch == epoch && options.fail_at_step == step) {
      if (options.fail_signal > 0) std::raise(options.fail_signal);
      throw std::runtime_error(
          fmt::format("injected failure at epoch {}, step {} (fault injection)", epoch, step));
    }
  }

  /// The group leader's early-stopping verdict, on every member.
  EpochDecision agree(EpochDecision mine) const {
    if (!distributed()) return mine;
    torch::Tensor flag =
        torch::full({1}, mine == EpochDecision::stop_early ? 1.0f : 0.0f, device);
    group->broadcast(flag, 0);
    return flag.item<float>() > 0.0f ? EpochDecision::stop_early : EpochDecision::proceed;
  }

  results::SplitMetrics train_epoch(Loader& loader, int epoch, double& seconds, double& ips) {
    model->train();
    loader.start_epoch(epoch);
    const auto& lo = loader.options();
    results::MetricsAccumulator acc;
    auto start = Clock::now();
    std::int64_t images = 0, step = 0;
    ProgressBar bar(options.progress, fmt::format("epoch {}/{}", epoch, trial.params.epochs),
                 loader.num_batches());
    const bool bf16 = trial.params.precision == "bf16";
    auto ce = torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(
        trial.params.label_smoothing);
    if (class_weight.defined()) ce.weight(class_weight);
    Batch batch;
    // Every member has the same number of training batches (loader.h), hence the same
    // sequence of collectives, even after a local failure.
    for (; step < loader.num_batches(); ++step) {
      sync();
      torch::Tensor logits, y;
      double loss_value = 0;
      local([&] {
        maybe_inject_failure(epoch, step + 1);
        if (!loader.next(batch)) throw std::logic_error("loader ended before num_batches()");
        torch::Tensor x = to_device_images(batch, lo, epoch);
        y = batch.labels.to(device, /*non_blocking=*/true);
        optimizer->zero_grad(/*set_to_none=*/true);
        {
          AutocastScope autocast(bf16, device.type());
          logits = model->forward_units(frozen.forward(x), frozen.units(), ResNet50Impl::kUnits);
        }
        torch::Tensor loss =
            torch::nn::functional::cross_entropy(logits.to(torch::kFloat), y, ce);
        loss_value = loss.item<double>();
        if (!std::isfinite(loss_value)) {
          throw TrialFailure(results::FailureKind::diverged,
                             fmt::format("training loss became {} at epoch {}, step {}",
                                         loss_value, epoch, step + 1));
        }
        loss.backward();
      });
      if (distributed()) {
        std::vector<torch::Tensor> grads;
        for (auto& p : model->trainable_parameters()) {
          if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
          grads.push_back(p.grad());
        }
        group->allreduce_mean(grads);
      }
      local([&] {
        optimizer->step();
        accumulate(acc, logits, y, loss_value * static_cast<double>(y.size(0)));
        images += y.size(0);
      });
      seconds = std::chrono::duration<double>(Clock::now() - start).count();
      bar.update(step + 1, static_cast<double>(images) / std::max(seconds, 1e-9));
    }
    seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (distributed()) gather(acc);
    // Throughput of the whole group: every rank trained `images` images in `seconds`.
    ips = static_cast<double>(images) * (group ? group->size() : 1) / std::max(seconds, 1e-9);
    return acc.result();
  }

  results::SplitMetrics evaluate(Loader& loader, int epoch, results::Predictions& predictions) {
    model->eval();
    torch::NoGradGuard no_grad;
    loader.start_epoch(epoch);
    const auto& lo = loader.options();
    results::MetricsAccumulator acc;
    const bool bf16 = trial.params.precision == "bf16";
    // Eval shards may differ in length (loader.h): no collective inside the loop.
    local([&] {
      Batch batch;
      const bool first = val_prefix.empty();
      for (std::size_t b = 0; loader.next(batch); ++b) {
        if (!distributed()) sync();
        torch::Tensor y = batch.labels.to(device, /*non_blocking=*/true);
        torch::Tensor logits;
        {
          AutocastScope autocast(bf16, device.type());
          torch::Tensor h;
          if (b < val_prefix.size()) {
            h = val_prefix[b];
          } else {
            h = frozen.forward(to_device_images(batch, lo, epoch));
            const auto bytes = static_cast<std::int64_t>(h.nbytes());
            if (frozen.units() > 0 && first && b == val_prefix.size() &&
                val_prefix_bytes + bytes <= options.val_prefix_cache_bytes) {
              val_prefix.push_back(h);
              val_prefix_bytes += bytes;
            }
          }
          logits = model->forward_units(h, frozen.units(), ResNet50Impl::kUnits);
        }
        torch::Tensor loss = torch::nn::functional::cross_entropy(
            logits.to(torch::kFloat), y,
            torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
        accumulate(acc, logits, y, loss.item<double>());
      }
    });
    if (distributed()) gather(acc);
    predictions = acc.predictions();
    return acc.result();
  }

  /// Replaces every rank's accumulator by the union of all ranks' (same order everywhere).
  void gather(results::MetricsAccumulator& acc) {
    sync(/*poll_stop=*/false);  // nobody reports metrics a failed member contributed to
    results::MetricsAccumulator merged(acc.threshold());
    for (const auto& b : group->allgather_bytes(acc.to_bytes())) {
      merged.merge(results::MetricsAccumulator::from_bytes(b, acc.threshold()));
    }
    acc = merged;
  }

  void broadcast_initial_state() {
    torch::NoGradGuard no_grad;
    for (auto& p : model->parameters()) group->broadcast(p, 0);
    for (auto& b : model->buffers()) group->broadcast(b, 0);
  }
};

TrainOutcome train(const sweeps::Trial& trial, const PreparedData& data,
                   const TrainerOptions& options) {
  const auto& p = trial.params;
  torch::set_num_threads(std::max(1, options.threads));
  keep_freed_memory_for_reuse();  // a step's freed tensors serve the next (malloc_reuse.h)
  torch::Device device = torch::kCPU;
  if (options.use_cuda && torch::cuda::is_available()) {
    device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(options.cuda_device));
  }
  // On CUDA: this trial's own stream, and its share of the device's memory (gpu_share < 1).
  std::unique_ptr<DeviceScope> device_scope;
  if (device.is_cuda()) device_scope = enter_cuda_device(options.cuda_device, options.gpu_share);
  double phase_start = io::monotonic_seconds();
  auto end_phase = [&phase_start](const char* name) {
    const double now = io::monotonic_seconds();
    io::add_phase_time(name, now - phase_start);
    phase_start = now;
  };
  Run run(trial, data, options, device);
  end_phase("model build");
  // Setup failures (a bad weights file, too little data for a batch per rank, ...) are
  // shared before the first collective, so a group fails together instead of hanging.
  run.local([&] {
    if (p.weights != "none") load_weights(*run.model, p.weights);
    run.model->to(device);
    if (p.channels_last) {
      torch::NoGradGuard no_grad;
      for (auto& t : run.model->parameters()) {
        if (t.dim() == 4) t.set_data(t.contiguous(torch::MemoryFormat::ChannelsLast));
      }
    }
    run.optimizer = make_optimizer(run.model->trainable_parameters(), p);
  });
  if (run.distributed()) {
    run.sync(/*poll_stop=*/false);
    run.broadcast_initial_state();
  }
  end_phase("weights and optimizer");

  std::optional<Loader> train_loader, val_loader;
  TrainOutcome outcome;
  CheckpointMeta meta;
  run.local([&] {
    train_loader.emplace(*data.cache, data.train, run.loader_options(true));
    val_loader.emplace(*data.cache, data.val, run.loader_options(false));
    if (p.balancing == "class_weights") {
      std::vector<double> w = class_weights(train_loader->labels(), 2);
      run.class_weight = torch::tensor(std::vector<float>(w.begin(), w.end())).to(device);
    }
    io::make_dirs(options.checkpoint_dir);
    if (options.resume_epoch != 0 && (!run.group || run.group->rank() == 0)) {
      for (const auto& [epoch, path] : list_checkpoints(options.checkpoint_dir)) {
        if (options.resume_epoch > 0 && epoch > options.resume_epoch) continue;
        std::optional<CheckpointFile> file = read_verified(path);
        // Weights only: not resumable, unless nothing trains after it (the last epoch).
        if (file && (file->kind == CheckpointKind::full || epoch == p.epochs)) {
          meta = load_checkpoint(*file, *run.model, *run.optimizer, device);
          outcome.resumed_from = meta.epoch;
          break;
        }
      }
    }
  });
  run.sync(/*poll_stop=*/false);
  if (run.distributed() && options.resume_epoch != 0) {
    // Every member resumes from the checkpoint the leader chose: on a shared file system
    // another node may not see the newest file yet, and members that started from different
    // epochs would run different numbers of collectives.
    torch::Tensor chosen = torch::full({1}, static_cast<float>(meta.epoch), device);
    run.group->broadcast(chosen, 0);
    const int epoch = static_cast<int>(chosen.item<float>());
    if (run.group->rank() != 0 && epoch > 0) {
      run.local([&] {
        const std::string path = checkpoint_path(options.checkpoint_dir, epoch);
        std::optional<CheckpointFile> file = read_verified(path);
        if (!file) {
          throw std::runtime_error(path + ": the group leader resumes from this checkpoint, but "
                                   "this rank cannot read it (missing, truncated or a checksum "
                                   "mismatch; is the shared file system up to date here?)");
        }
        meta = load_checkpoint(*file, *run.model, *run.optimizer, device);
        outcome.resumed_from = meta.epoch;
      });
    }
    run.sync(/*poll_stop=*/false);
  }
  // bf16 keeps the units unfolded: folded, they measured slower under CPU autocast
  // (docs/performance.md section 7).
  run.frozen = FrozenPrefix(*run.model, run.model->frozen_units(), p.precision != "bf16");
  end_phase("loaders and resume");
  results::BestEpoch best(options.metric, options.goal);
  best.restore(meta.best_epoch, meta.best_metric, meta.best_val_loss);
  outcome.best_epoch = meta.best_epoch;
  outcome.best_metric = meta.best_metric;
  outcome.epochs_completed = meta.epoch;

  CheckpointWriter writer;
  // The checkpoint's file image, reused every epoch: the writer is done with it before the next
  // snapshot (writer.wait() precedes each epoch's report).
  auto image = std::make_shared<io::AlignedBytes>();
  for (int epoch = meta.epoch + 1; epoch <= p.epochs; ++epoch) {
    const double lr = lr_at(p, epoch);
    for (auto& group : run.optimizer->param_groups()) group.options().set_lr(lr);
    torch::manual_seed(splitmix64(trial.seed ^ (0xd50b0a7ULL + static_cast<std::uint64_t>(epoch))));

    results::EpochRecord rec;
    rec.epoch = epoch;
    rec.lr = lr;
    double train_seconds = 0, ips = 0;
    auto start = Clock::now();
    phase_start = io::monotonic_seconds();
    rec.train = run.train_epoch(*train_loader, epoch, train_seconds, ips);
    end_phase("train steps");
    // The previous epoch's checkpoint is on disk before this epoch is reported, so at most
    // the last reported epoch lacks one (trainer.h); the gather in evaluate() shares a
    // failed write with the group.
    run.local([&] { writer.wait(); });
    end_phase("checkpoint wait");
    results::Predictions val_predictions;
    rec.val = run.evaluate(*val_loader, epoch, val_predictions);
    end_phase("validation");
    rec.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    rec.images_per_second = ips;

    best.offer(rec);
    outcome.best_epoch = best.epoch();
    outcome.best_metric = best.metric();
    EpochDecision decision = EpochDecision::proceed;
    if (options.on_epoch) run.local([&] { decision = options.on_epoch(rec, val_predictions); });
    decision = run.agree(decision);
    end_phase("report epoch");

    // Checkpoint after reporting (see trainer.h; the last epoch weights only); keep this
    // epoch, the previous one, and the best one.
    meta = {epoch, best.epoch(), best.metric(), best.val_loss()};
    if (!run.group || run.group->rank() == 0) {
      run.local([&] {
        writer.wait();  // (already done: waited for before the report) the buffer is free
        const CheckpointKind kind =
            epoch == p.epochs ? CheckpointKind::weights_only : CheckpointKind::full;
        snapshot_checkpoint(*run.model, *run.optimizer, meta, *image, kind);
        end_phase("checkpoint snapshot");
        writer.submit([image, dir = options.checkpoint_dir, epoch, kind,
                       best = outcome.best_epoch] {
          io::PhaseTimer phase("checkpoint write", /*background=*/true);
          const std::string path = checkpoint_path(dir, epoch);
          try {
            write_checkpoint(path, *image, kind);
          } catch (const io::IoError& e) {
            if (!io::is_disk_full(e.code())) throw;
            const std::uint64_t need = image->size();
            throw DiskFull(fmt::format("{}: the checkpoint of epoch {} ({}) does not fit: {} "
                                       "free on that file system ({})",
                                       path, epoch, io::format_bytes(need),
                                       io::format_bytes(io::fs_space(dir).available),
                                       std::strerror(e.code())),
                           need);
          }
          prune_checkpoints(dir, epoch, best);
        });
      });
    }
    outcome.epochs_completed = epoch;
    if (decision == EpochDecision::stop_early && epoch < p.epochs) {
      outcome.status = results::TrialStatus::stopped_early;
      break;
    }
  }
  phase_start = io::monotonic_seconds();
  run.local([&] { writer.wait(); });
  end_phase("checkpoint wait");
  run.sync(/*poll_stop=*/false);  // e.g. the leader failed to write the last checkpoint
  return outcome;
}

}  // namespace

TrainOutcome train_trial(const sweeps::Trial& trial, const PreparedData& data,
                         const TrainerOptions& options) {
  try {
    return train(trial, data, options);
  } catch (const TrialFailure&) {
    throw;
  } catch (const Interrupted&) {
    throw;
  } catch (const GroupAborted&) {
    throw;
  } catch (const DiskFull&) {
    throw;
  } catch (const c10::OutOfMemoryError& e) {
    throw TrialFailure(results::FailureKind::oom, std::string("out of memory: ") + e.what_without_backtrace());
  } catch (const CacheError& e) {
    throw TrialFailure(results::FailureKind::bad_image, e.what());
  } catch (const ImageError& e) {
    throw TrialFailure(results::FailureKind::bad_image, e.what());
  } catch (const c10::Error& e) {
    throw TrialFailure(results::FailureKind::exception, e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw TrialFailure(results::FailureKind::exception, e.what());
  }
}

}  // namespace mammosweep::worker
