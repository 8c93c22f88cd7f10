#pragma once
// A trial's checkpoints: what the payload of a checkpoint file (worker/checkpoint_file.h)
// holds, the background writer, and loading. The payload is a torch archive with the
// parameters (p.*), buffers (b.*), the optimizer state, and the epoch, best_epoch,
// best_metric and best_val_loss of the best-epoch rule (results/best_epoch.h).
// A finished trial's kept checkpoints are rewritten as weights only (magic "MSCKPW01": the
// same archive without the optimizer state, about a third of the size): export, evaluate
// and load_checkpoint_weights read both kinds; resuming needs a full one.
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

namespace mammosweep::worker {

class ResNet50Impl;

struct CheckpointMeta {
  int epoch = 0;
  int best_epoch = 0;
  double best_metric = results::kNaN;
  double best_val_loss = results::kNaN;  // the best-epoch rule's tie-break
};


/// The checkpoint's payload. Runs on the training thread: the archive refers to the live
/// parameters and optimizer state.
std::string serialize_checkpoint(ResNet50Impl& model, torch::optim::Optimizer& optimizer,
                                 const CheckpointMeta& meta);
/// Rewrites a verified full checkpoint as weights only, atomically (needs its new size in
/// free space). A weights-only file is left alone. Throws std::runtime_error naming the file
/// when it does not verify, io::IoError when the write fails.
void strip_optimizer_state(const std::string& path);

/// Restores model and optimizer from a payload (on `device`); returns its metadata.
CheckpointMeta load_checkpoint(const std::string& payload, ResNet50Impl& model,
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
