#pragma once
// Checkpoint retention applied to a sweep folder: the policy's decision (results/retention.h)
// turned into files to delete and checkpoints to rewrite without optimizer state. The
// coordinator applies it whenever a trial ends; `mammosweep prune DIR` applies it after the
// fact.
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "results/ranking.h"
#include "results/records.h"
#include "results/retention.h"
#include "sweeps/spec.h"
#include "sweeps/trial.h"

namespace mammosweep::orchestrator {

struct TrialPlan {
  results::TrialRetention decision;
  std::string id, name;
  std::vector<std::string> remove;  // files (or the whole trial folder) to delete
  std::vector<std::string> strip;   // full checkpoints to rewrite as weights only
  std::uint64_t remove_bytes = 0;
};

/// "keep the weights of epochs 2, 5 (drop the optimizer state)", "remove every checkpoint".
std::string describe(const TrialPlan& p);

struct RetentionPlan {
  std::vector<TrialPlan> trials;  // only trials with something to do
  std::uint64_t remove_bytes = 0;
  std::size_t strip_count = 0;
};

/// What applying `policy` to the sweep in `dir` would do now.
RetentionPlan plan_retention(const std::string& dir,
                             const std::vector<results::TrialResult>& trials,
                             const results::RankingOptions& ranking,
                             const sweeps::CheckpointPolicy& policy,
                             const std::set<std::string>& active = {});

struct RetentionResult {
  std::uint64_t freed = 0;          // bytes
  std::vector<std::string> errors;  // one line per file that could not be changed
};
/// Carries the plan out. A file that cannot be removed or rewritten (a full disk while
/// rewriting, a permission) is reported in `errors` and left as it was; the rest goes on.
RetentionResult apply_retention(const RetentionPlan& plan);

/// The disk a sweep needs at its peak under `policy`, from checkpoint sizes:
///   full    = one checkpoint with optimizer state: 4 bytes x (parameters + buffers) of the
///             largest model among the trials (largest dense_units, every layer trainable),
///             plus 4 bytes x parameters per optimizer slot (adam, adamw 2; rmsprop 1; sgd 1
///             with momentum, else 0), the largest count among the trials: an upper bound;
///   weights = the same without optimizer state;
///   peak    = concurrent x 4 x full     (a running trial holds its last two epochs, its best
///                                        one and the temporary file of the next)
///           + kept x files x weights    (kept = min(K, trials), every trial for "all";
///                                        files = 2 for best_and_last, else 1).
/// One_se candidates beyond the top K are not counted (their number is not known ahead).
struct DiskProjection {
  std::uint64_t full = 0, weights = 0, peak = 0;
  int concurrent = 1;
  std::size_t kept = 0;
  int files_per_kept = 1;
};
DiskProjection project_disk(const std::vector<sweeps::Trial>& trials,
                            const sweeps::CheckpointPolicy& policy, int concurrent);

}  // namespace mammosweep::orchestrator
