#pragma once
// A trial's checkpoints: the file format, the background writer, retention, listing and
// loading. One file per epoch, DIR/epoch-NNNN.ckpt with DIR = checkpoint_dir(out, trial id):
//   "MSCKPT01", u64 payload bytes, u64 FNV-1a of the payload, then the payload: a torch
//   archive with the parameters (p.*), buffers (b.*), the optimizer state, and the epoch,
//   best_epoch, best_metric and best_val_loss of the best-epoch rule (results/best_epoch.h).
// A finished trial's kept checkpoints are rewritten as weights only (magic "MSCKPW01": the
// same archive without the optimizer state, about a third of the size): export, evaluate
// and load_checkpoint_weights read both kinds; resuming needs a full one.
// Files are written atomically (temporary file, fsync, rename); a file whose header or
// checksum does not verify is treated as absent.
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

namespace mammosweep::worker {

class ResNet50Impl;

struct CheckpointMeta {
  int epoch = 0;
  int best_epoch = 0;
  double best_metric = results::kNaN;
  double best_val_loss = results::kNaN;  // the best-epoch rule's tie-break
};

enum class CheckpointKind { full, weights_only };

/// OUT/trials/<trial id>: where a sweep keeps a trial's checkpoints.
std::string checkpoint_dir(const std::string& out_dir, const std::string& trial_id);
/// DIR/epoch-NNNN.ckpt
std::string checkpoint_path(const std::string& dir, int epoch);

/// The checkpoint's payload. Runs on the training thread: the archive refers to the live
/// parameters and optimizer state.
std::string serialize_checkpoint(ResNet50Impl& model, torch::optim::Optimizer& optimizer,
                                 const CheckpointMeta& meta);
/// Header + checksum + payload, written atomically. Throws io::IoError (code() ENOSPC or
/// EDQUOT on a full disk); the temporary file is removed and `path` is left as it was.
void write_checkpoint(const std::string& path, const std::string& body,
                      CheckpointKind kind = CheckpointKind::full);
/// The kind the header of `path` declares (reads 8 bytes), or nullopt when it is not a
/// checkpoint (the checksum is not checked).
std::optional<CheckpointKind> checkpoint_kind(const std::string& path);
/// Rewrites a verified full checkpoint as weights only, atomically (needs its new size in
/// free space). A weights-only file is left alone. Throws std::runtime_error naming the file
/// when it does not verify, io::IoError when the write fails.
void strip_optimizer_state(const std::string& path);
/// Keeps the checkpoints of epochs >= epoch - 1 and of `best`; removes the others.
void prune_checkpoints(const std::string& dir, int epoch, int best);

/// The payload of a checkpoint (either kind) whose header and checksum verify, or nullopt.
std::optional<std::string> read_verified(const std::string& path,
                                         CheckpointKind* kind = nullptr);
/// Restores model and optimizer from a payload (on `device`); returns its metadata.
CheckpointMeta load_checkpoint(const std::string& payload, ResNet50Impl& model,
                               torch::optim::Optimizer& optimizer, const c10::Device& device);
/// Loads only the model weights (parameters and buffers) of a checkpoint into `model`, which
/// must have the trial's architecture. Returns the checkpoint's epoch. Throws
/// std::runtime_error naming the file when it is missing, truncated or fails its checksum.
int load_checkpoint_weights(const std::string& path, ResNet50Impl& model);
/// Checkpoint files of a trial folder, newest first: {epoch, path} (by name; verify with
/// read_verified before trusting one).
std::vector<std::pair<int, std::string>> list_checkpoints(const std::string& checkpoint_dir);

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
