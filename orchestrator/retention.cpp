#include "orchestrator/retention.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "io/disk.h"
#include "io/files.h"
#include "worker/checkpoint.h"
#include "worker/resnet50.h"

namespace mammosweep::orchestrator {

std::string describe(const TrialPlan& p) {
  if (p.decision.retain == results::Retain::nothing) return "remove every checkpoint";
  std::string text = fmt::format("keep the weights of epoch{} {}",
                                 p.decision.epochs.size() > 1 ? "s" : "",
                                 fmt::join(p.decision.epochs, ", "));
  if (!p.strip.empty()) text += " (drop the optimizer state)";
  if (!p.remove.empty()) text += fmt::format(", remove {} other file(s)", p.remove.size());
  return text;
}

RetentionPlan plan_retention(const std::string& dir,
                             const std::vector<results::TrialResult>& trials,
                             const results::RankingOptions& ranking,
                             const sweeps::CheckpointPolicy& policy,
                             const std::set<std::string>& active) {
  RetentionPlan plan;
  for (const auto& decision : results::decide_retention(trials, ranking, policy, active)) {
    if (decision.retain == results::Retain::everything) continue;
    const results::TrialResult& t = trials[decision.index];
    const std::string folder = worker::checkpoint_dir(dir, t.id);
    if (!io::file_exists(folder)) continue;
    TrialPlan p{decision, t.id, t.name, {}, {}, 0};
    if (decision.retain == results::Retain::nothing) {
      p.remove.push_back(folder);
      p.remove_bytes = io::tree_bytes(folder);
    } else {
      for (const std::string& name : io::list_dir(folder)) {
        const std::string path = io::join_path(folder, name);
        bool kept = false;
        for (int e : decision.epochs) kept = kept || path == worker::checkpoint_path(folder, e);
        if (!kept) {
          p.remove.push_back(path);
          p.remove_bytes += io::tree_bytes(path);
        } else if (worker::checkpoint_kind(path) == worker::CheckpointKind::full) {
          p.strip.push_back(path);
        }
      }
    }
    if (p.remove.empty() && p.strip.empty()) continue;
    plan.remove_bytes += p.remove_bytes;
    plan.strip_count += p.strip.size();
    plan.trials.push_back(std::move(p));
  }
  return plan;
}

RetentionResult apply_retention(const RetentionPlan& plan) {
  RetentionResult r;
  for (const TrialPlan& p : plan.trials) {
    for (const std::string& path : p.strip) {
      const std::uint64_t before = io::tree_bytes(path);
      try {
        worker::strip_optimizer_state(path);
        r.freed += before - std::min(before, io::tree_bytes(path));
      } catch (const std::exception& e) {
        r.errors.push_back(fmt::format("{}: kept with its optimizer state: {}", path, e.what()));
      }
    }
    for (const std::string& path : p.remove) {
      const std::uint64_t before = io::tree_bytes(path);
      io::remove_tree(path);
      if (io::file_exists(path)) {
        r.errors.push_back(fmt::format("{}: cannot remove: {}", path, std::strerror(errno)));
      } else {
        r.freed += before;
      }
    }
  }
  return r;
}

DiskProjection project_disk(const std::vector<sweeps::Trial>& trials,
                            const sweeps::CheckpointPolicy& policy, int concurrent) {
  DiskProjection d;
  d.concurrent = std::max(1, concurrent);
  if (trials.empty()) return d;
  sweeps::TrainingParams largest = trials.front().params;
  int slots = 0;
  for (const auto& t : trials) {
    largest.dense_units = std::max(largest.dense_units, t.params.dense_units);
    const std::string& o = t.params.optimizer;
    slots = std::max(slots, o == "adam" || o == "adamw" ? 2
                            : o == "rmsprop"            ? 1
                                                        : (t.params.momentum != 0 ? 1 : 0));
  }
  largest.unfrozen_fraction = 1.0;
  worker::ResNet50 model(worker::model_options(largest, 0));
  std::uint64_t params = 0, buffers = 0;
  for (const auto& p : model->parameters()) params += static_cast<std::uint64_t>(p.numel());
  for (const auto& b : model->buffers()) buffers += static_cast<std::uint64_t>(b.numel());
  d.weights = 4 * (params + buffers);
  d.full = d.weights + 4 * params * static_cast<std::uint64_t>(slots);
  d.kept = policy.keep_top_trials
               ? std::min<std::size_t>(trials.size(), static_cast<std::size_t>(*policy.keep_top_trials))
               : trials.size();
  d.files_per_kept = policy.keep == sweeps::CheckpointPolicy::Keep::best_and_last ? 2 : 1;
  const auto running = std::min<std::size_t>(trials.size(), static_cast<std::size_t>(d.concurrent));
  d.peak = running * 4 * d.full + d.kept * static_cast<std::uint64_t>(d.files_per_kept) * d.weights;
  return d;
}

}  // namespace mammosweep::orchestrator
