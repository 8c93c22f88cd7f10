// Loading and saving ResNet50 weights as safetensors files, by key name.
//
// Accepted files (see docs/model-and-weights.md):
//   * torchvision ImageNet weights: the 318 backbone keys plus fc.weight/fc.bias. The fc.* keys
//     are skipped on purpose (our head replaces fc) and the head keeps its seeded init.
//   * an exported fine-tuned model (save_model_weights): backbone plus head.* keys. When the
//     file has any head.* key the head is loaded too and all head keys must match.
// Matching is by name only. Every missing key, unexpected key, shape mismatch and
// incompatible dtype is collected and reported in ONE WeightsError that names the file.
// Floating tensors are converted to the parameter's dtype (F16/BF16/F64 -> F32);
// num_batches_tracked accepts any integer dtype. Nothing is copied unless everything matches.
#pragma once

#include "worker/resnet50.h"
#include "worker/safetensors.h"

#include <cstdint>
#include <string>
#include <vector>

namespace mammosweep::worker {

/// The `weights` value that means "no file, keep the seeded random init".
inline constexpr const char* kNoWeights = "none";

/// One Python line that writes torchvision's ImageNet ResNet50 as resnet50.safetensors.
std::string make_weights_file_command();

/// What a load did, for logging.
struct LoadWeightsReport {
  std::string source;                 // file path (or "none")
  int backbone_tensors_loaded = 0;    // 318 for a full file, 0 for "none"
  bool head_loaded = false;           // the file carried head.* keys
  std::vector<std::string> ignored;   // fc.* keys skipped on purpose
  SafetensorsMetadata metadata;       // the file's __metadata__
};

/// Copies `tensors` into `model` by name (see the rules above). `source` names the origin in
/// error messages (normally the file path). Throws WeightsError listing every problem.
LoadWeightsReport load_state_dict(ResNet50Impl& model, const NamedTensors& tensors,
                                  const std::string& source);

/// load_state_dict(read_safetensors(path)). `path == "none"` leaves the model as initialised.
/// A missing file throws a WeightsError that gives the one-line command to create it.
LoadWeightsReport load_weights(ResNet50Impl& model, const std::string& path);

/// Writes the model's state (torchvision backbone keys, then head.*) as F32 safetensors,
/// atomically. `metadata` is stored in __metadata__ together with
/// mammosweep.model=resnet50, mammosweep.dense_units and mammosweep.num_classes (the caller's
/// entries win on a clash).
void save_model_weights(const ResNet50Impl& model, const std::string& path,
                        const SafetensorsMetadata& metadata = {});

/// Writes a deterministic stand-in for torchvision's ImageNet file: the 318 backbone keys of
/// a ResNet50 initialised from `seed`, with BatchNorm affine parameters and running stats
/// drawn from a seeded generator (so they differ from a fresh model's 1/0 values,
/// num_batches_tracked = 1000), plus fc.weight [1000, 2048] and fc.bias [1000].
/// The same seed always gives the same bytes. Used by tests and the demo.
void write_reference_weights(const std::string& path, std::uint64_t seed);

}  // namespace mammosweep::worker
