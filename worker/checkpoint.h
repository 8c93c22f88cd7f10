#pragma once
// A trial's checkpoints: what the payload of a checkpoint file (worker/checkpoint_file.h)
// holds, the background writer, and loading.
//
// The payload (format version 2) is a safetensors file: the parameters ("p.<name>"), the
// buffers ("b.<name>") and the optimizer state ("o.<parameter>.<field>",
// worker/optimizer_state.h), in that order, with the metadata "format" ("mammosweep
// checkpoint 2"), and the "epoch", "best_epoch", "best_metric" and "best_val_loss" of the
// best-epoch rule (results/best_epoch.h). Any safetensors reader opens it after the 24-byte
// file header. Version 1 payloads (torch archives, before 2026-12) are still read.
//
// Cost on the training thread: one memory copy of each tensor into a page-aligned buffer
// reused every epoch (snapshot_checkpoint); the checksum and the write run in
// CheckpointWriter's thread, the write around the page cache where the file system allows
// (write_checkpoint): no second copy, and no 290 MB of cache evicted per epoch.
//
// A finished trial's kept checkpoints are rewritten as weights only (the same payload without
// the o.* tensors, about a third of the size): export, evaluate and load_checkpoint_weights
// read both kinds; resuming needs a full one, except from a trial's last epoch, which the
// trainer writes weights only in the first place (nothing trains after it; trainer.h).
#include <c10/core/Device.h>
#include <torch/optim/optimizer.h>

#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "results/records.h"
#include "worker/checkpoint_file.h"
#include "worker/safetensors.h"

namespace mammosweep::worker {

class ResNet50Impl;

struct CheckpointMeta {
  int epoch = 0;
  int best_epoch = 0;
  double best_metric = results::kNaN;
  double best_val_loss = results::kNaN;  // the best-epoch rule's tie-break
};


/// The file image of `tensors` (named p.*, b.*, o.* as above) and `meta`: room for the file
/// header, then the payload, in `image` (reusing its memory); write_checkpoint writes it.
/// snapshot_checkpoint's last step; benches and fuzz seeds use it alone.
void encode_checkpoint(const NamedTensors& tensors, const CheckpointMeta& meta, io::AlignedBytes& image);

/// Copies the checkpoint's file image into `image`, reusing its memory (after the first
/// epoch, nothing is allocated). Runs on the training thread, between steps. `kind`
/// weights_only leaves out the optimizer state (write the file with the same kind).
void snapshot_checkpoint(ResNet50Impl& model, torch::optim::Optimizer& optimizer,
                         const CheckpointMeta& meta, io::AlignedBytes& image,
                         CheckpointKind kind = CheckpointKind::full);
/// Rewrites a verified full checkpoint as weights only, atomically (needs its new size in
/// free space). A weights-only file is left alone. Throws std::runtime_error naming the file
/// when it does not verify, io::IoError when the write fails.
void strip_optimizer_state(const std::string& path);

/// Restores model and optimizer from a full checkpoint (on `device`), or the model alone from
/// a weights-only one (the optimizer is left as it is); returns its metadata. Throws
/// std::runtime_error when the payload does not fit this model and optimizer.
CheckpointMeta load_checkpoint(const CheckpointFile& file, ResNet50Impl& model,
                               torch::optim::Optimizer& optimizer, const c10::Device& device);
/// Loads only the model weights (parameters and buffers) of a checkpoint into `model`, which
/// must have the trial's architecture. Returns the checkpoint's epoch. Throws
/// std::runtime_error naming the file when it is missing, truncated or fails its checksum.
int load_checkpoint_weights(const std::string& path, ResNet50Impl& model);

/// Runs one checkpoint write at a time in a background thread, so that its checksum, disk
/// write and fsync (about 1.5 s of the 2.2 s a 288 MB checkpoint costs here) overlap the
/// next epoch's training. wait() rethrows a failed write.
class CheckpointWriter {
 public:
  CheckpointWriter() = default;
  CheckpointWriter(const CheckpointWriter&) = delete;
  CheckpointWriter& operator=(const CheckpointWriter&) = delete;
  ~CheckpointWriter();
  void submit(std::function<void()> job);
  void wait();

 private:
  std::thread thread_;
  std::exception_ptr error_;
};

}  // namespace mammosweep::worker
