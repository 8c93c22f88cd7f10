#pragma once
// What a trial folder holds now: its bytes and the epochs whose weights are on disk (for
// `status`, `leaderboard`, `prune` and the end-of-sweep leaderboard). Reads file names and
// headers only (worker/checkpoint_file.h), without LibTorch.
#include <cstdint>
#include <string>
#include <vector>

namespace mammosweep::orchestrator {

/// What DIR/trials/<id>/ holds now.
struct TrialDisk {
  std::uint64_t bytes = 0;              // every file in the folder
  std::vector<int> full;                // epochs with weights and optimizer state (resumable)
  std::vector<int> weights_only;        // epochs with weights only
};
TrialDisk trial_disk(const std::string& dir, const std::string& trial_id);
/// "4, 5 (+optimizer)", "3", "3, 7", "none": the epochs whose weights are on disk.
std::string weights_text(const TrialDisk& d);

}  // namespace mammosweep::orchestrator
