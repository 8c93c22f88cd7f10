#pragma once
// A trial's checkpoint files, without LibTorch (the payload is opaque bytes here;
// worker/checkpoint.h makes and reads it). One file per epoch, DIR/epoch-NNNN.ckpt with
// DIR = checkpoint_dir(out, trial id):
//   an 8-byte magic, u64 payload bytes, u64 checksum of the payload, then the payload.
//   Version 2 (written since 2026-12): "MSCKPT02" (full) or "MSCKPW02" (weights only), XXH3
//   checksum, the payload a safetensors file (worker/checkpoint.h).
//   Version 1 (read only): "MSCKPT01" or "MSCKPW01", FNV-1a checksum, a torch archive.
// Files are written atomically (temporary file, fsync, rename); a file whose header or
// checksum does not verify is treated as absent. `status`, `leaderboard` and `prune` list
// checkpoints through this file alone, so the results-only program (orchestrator/results_main.cpp)
// does not load LibTorch.
#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "io/aligned_bytes.h"

namespace mammosweep::worker {

enum class CheckpointKind { full, weights_only };

/// OUT/trials/<trial id>: where a sweep keeps a trial's checkpoints.
std::string checkpoint_dir(const std::string& out_dir, const std::string& trial_id);
/// DIR/epoch-NNNN.ckpt
std::string checkpoint_path(const std::string& dir, int epoch);

/// A verified checkpoint file.
struct CheckpointFile {
  CheckpointKind kind = CheckpointKind::full;
  int version = 2;      // of the format: 1 torch archive, 2 safetensors
  std::string payload;  // without the header
};

/// The file header: magic, payload size, checksum.
inline constexpr std::size_t kCheckpointHeaderBytes = 24;

/// Writes a checkpoint file (version 2) atomically from its image: `image` starts with
/// kCheckpointHeaderBytes for the header, which this fills in, followed by the payload
/// (encode_checkpoint and snapshot_checkpoint leave that room). From page-aligned memory, its
/// whole pages bypass the page cache where the file system allows (io::AtomicFile::write).
/// Throws io::IoError (code() ENOSPC or EDQUOT on a full disk); the temporary file is removed
/// and `path` is left as it was.
void write_checkpoint(const std::string& path, io::AlignedBytes& image,
                      CheckpointKind kind = CheckpointKind::full);
/// The kind the header of `path` declares (reads 8 bytes), or nullopt when it is not a
/// checkpoint (the checksum is not checked).
std::optional<CheckpointKind> checkpoint_kind(const std::string& path);
/// A checkpoint (either kind, either version) whose header and checksum verify, or nullopt.
std::optional<CheckpointFile> read_verified(const std::string& path);
/// Checkpoint files of a trial folder, newest first: {epoch, path} (by name; verify with
/// read_verified before trusting one).
std::vector<std::pair<int, std::string>> list_checkpoints(const std::string& checkpoint_dir);
/// Keeps the checkpoints of epochs >= epoch - 1 and of `best`; removes the others.
void prune_checkpoints(const std::string& dir, int epoch, int best);

}  // namespace mammosweep::worker
