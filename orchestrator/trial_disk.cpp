#include "orchestrator/trial_disk.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "io/disk.h"
#include "worker/checkpoint_file.h"

namespace mammosweep::orchestrator {

TrialDisk trial_disk(const std::string& dir, const std::string& trial_id) {
  TrialDisk d;
  const std::string folder = worker::checkpoint_dir(dir, trial_id);
  d.bytes = io::tree_bytes(folder);
  for (const auto& [epoch, path] : worker::list_checkpoints(folder)) {
    const auto kind = worker::checkpoint_kind(path);
    if (kind == worker::CheckpointKind::full) d.full.push_back(epoch);
    if (kind == worker::CheckpointKind::weights_only) d.weights_only.push_back(epoch);
  }
  std::sort(d.full.begin(), d.full.end());
  std::sort(d.weights_only.begin(), d.weights_only.end());
  return d;
}

std::string weights_text(const TrialDisk& d) {
  std::vector<int> all = d.full;
  all.insert(all.end(), d.weights_only.begin(), d.weights_only.end());
  std::sort(all.begin(), all.end());
  if (all.empty()) return "none";
  return fmt::format("{}{}", fmt::join(all, ", "), d.full.empty() ? "" : " (+optimizer)");
}

}  // namespace mammosweep::orchestrator
