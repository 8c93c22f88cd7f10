#pragma once
// Runs one trial: fine-tunes a ResNet50 on prepared data, epoch by epoch, reporting metrics,
// checkpointing after every epoch, and resuming exactly from a checkpoint.
//
// Determinism: every source of randomness derives from the trial seed and (epoch, step):
// data order and oversampling (loader.h), augmentation (augment.h), dropout (the global
// torch generator is reseeded from (seed, epoch) at the start of each epoch) and the
// head's initialisation (the model seed). So a trial interrupted after epoch e and resumed
// from its checkpoint computes exactly what an uninterrupted run computes (on CPU, with
// the same thread count).
//
// Order of one epoch's end: compute val metrics -> report (on_epoch) -> checkpoint. The
// checkpoint is serialised at once and written (checksum, write, fsync) in a background
// thread while the next epoch trains; that write has finished before the next report and
// before train_trial returns. So a crash recomputes at most the last reported epoch on
// resume, identically, and a store that replaces an epoch equal to its last one never gains
// a gap or a duplicate. The last epoch of the schedule (params.epochs) is checkpointed
// weights only: no epoch trains after it, so its optimizer state (two thirds of a full
// checkpoint under Adam) would only be written to be dropped by the retention; resuming
// from it restores the model and trains nothing.
#include <cstdint>
#include <exception>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include <torch/types.h>

#include "results/best_epoch.h"
#include "results/failure.h"
#include "results/records.h"
#include "sweeps/spec.h"
#include "sweeps/trial.h"
#include "worker/checkpoint.h"
#include "worker/data.h"

namespace mammosweep::worker {

/// What a data-parallel trial needs from its group of ranks. The orchestrator adapts a
/// cluster::Communicator (MPI on CPU, NCCL on CUDA) to this; tests use threads as ranks
/// (tests/worker/thread_group.h). Every method is collective: all group members call it in
/// the same order.
class GradientGroup {
 public:
  virtual ~GradientGroup() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  /// Averages `tensors` over the group, in place (implementations fuse them into buckets).
  virtual void allreduce_mean(std::vector<torch::Tensor>& tensors) = 0;
  /// Copies `tensor` from group rank `root` to every member, in place.
  virtual void broadcast(torch::Tensor& tensor, int root) = 0;
  /// Every member's `bytes`, in group-rank order.
  virtual std::vector<std::string> allgather_bytes(const std::string& bytes) = 0;
};


/// A trial that cannot go on: the reason and its kind are recorded, the sweep continues.
class TrialFailure : public std::runtime_error {
 public:
  TrialFailure(results::FailureKind kind, const std::string& what)
      : std::runtime_error(what), kind_(kind) {}
  results::FailureKind kind() const { return kind_; }

 private:
  results::FailureKind kind_;
};

/// should_stop() returned true: training stopped at a step boundary. Every reported epoch
/// is checkpointed; the unfinished epoch is discarded and recomputed on resume.
class Interrupted : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A checkpoint could not be written because the file system (or the user's quota) is full.
/// Not a failure of the trial: every reported epoch but the last has its checkpoint, so the
/// sweep stops with the resumable exit code and a later `run --resume` continues it.
class DiskFull : public std::runtime_error {
 public:
  DiskFull(const std::string& what, std::uint64_t bytes_needed)
      : std::runtime_error(what), bytes_needed_(bytes_needed) {}
  /// Size of the checkpoint that did not fit.
  std::uint64_t bytes_needed() const { return bytes_needed_; }

 private:
  std::uint64_t bytes_needed_;
};

/// This member of a data-parallel group stopped because ANOTHER member failed; that member
/// reports the failure (with its rank and reason), so this one reports nothing.
class GroupAborted : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Failure consensus of a data-parallel group (collective: every member calls it at the same
/// point). `failure` is this member's pending failure (null: none), `stop` its stop request.
/// When any member failed, members that failed rethrow their own failure and the others throw
/// GroupAborted naming the failed group rank and its reason; otherwise, when any member asked
/// to stop, all throw Interrupted. The trainer calls it before every training step, before
/// each metrics gather, after setup and at the end; a rank that fails between two calls keeps
/// entering the group's collectives until the next one, so no member waits forever.
void sync_group(GradientGroup& group, std::exception_ptr failure, bool stop = false);

enum class EpochDecision { proceed, stop_early };

struct TrainerOptions {
  std::string checkpoint_dir;  // this trial's folder; created if missing
  /// Resume from the newest good checkpoint whose epoch is <= this (-1: the newest one;
  /// 0: start fresh).
  int resume_epoch = -1;
  int threads = 1;             // intra-op threads for this rank (set explicitly)
  bool use_cuda = false;       // train on CUDA device `cuda_device` when available
  int cuda_device = 0;
  /// Share of `cuda_device` this rank holds (resources.gpus; 1/n when n trials share it):
  /// caps its memory (cuda_device.h). The trial also runs on a CUDA stream of its own.
  double gpu_share = 1.0;
  /// Loader threads that build batches ahead of the training step. -1 (the default): none on
  /// the CPU, where a batch is a few tensor ops that the intra-op threads run between steps
  /// (a prefetch thread, with its own OpenMP team, competes with them for the cores: 21 %
  /// fewer img/s at 64 px on 2 cores, docs/performance.md section 7), and 1 on CUDA, where
  /// the host thread mostly waits for the GPU.
  int prefetch_threads = -1;
  /// Validation computes the frozen prefix of the model (ResNet50Impl::frozen_units) once per
  /// trial and keeps its outputs, up to this many bytes (later batches are recomputed each
  /// epoch); 0 turns it off. Bit for bit the same metrics: frozen layers never change.
  std::int64_t val_prefix_cache_bytes = std::int64_t{1} << 30;
  std::string metric = "val_auc";  // picks the best epoch (and checkpoint)
  results::Goal goal = results::Goal::maximize;
  bool progress = false;       // an in-epoch progress bar on stderr
  GradientGroup* group = nullptr;  // data-parallel group; nullptr: one rank
  std::vector<double> mean{0.485, 0.456, 0.406}, std{0.229, 0.224, 0.225};
  /// Called on every rank after each epoch with group-wide metrics and val predictions;
  /// the answer of group rank 0 counts.
  std::function<EpochDecision(const results::EpochRecord&, const results::Predictions&)> on_epoch;
  /// Polled between steps; true stops training (throws Interrupted).
  std::function<bool()> should_stop;
  /// Fault injection (tests, and checking how a cluster behaves): throw an exception at this
  /// training step (1-based, counted within the epoch) of this epoch. 0: never. With
  /// fail_signal > 0 the process raises that signal there instead (SIGSEGV: a crashing rank;
  /// SIGKILL: one the OOM killer ends).
  int fail_at_epoch = 0, fail_at_step = 0;
  int fail_signal = 0;
};

struct TrainOutcome {
  results::TrialStatus status = results::TrialStatus::done;  // done | stopped_early
  int epochs_completed = 0;
  int resumed_from = 0;   // epoch of the checkpoint it started from (0: fresh)
  int best_epoch = 0;
  double best_metric = results::kNaN;
};

/// Trains `trial` on `data`. Throws TrialFailure (diverged, oom, bad_image, exception),
/// Interrupted, DiskFull, or GroupAborted (in a group). Never lets an exception of another type escape.
TrainOutcome train_trial(const sweeps::Trial& trial, const PreparedData& data,
                         const TrainerOptions& options);

}  // namespace mammosweep::worker
