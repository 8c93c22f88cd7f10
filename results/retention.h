#pragma once
// Checkpoint retention: what each trial of a sweep keeps on disk (docs/sweep-spec.md,
// "checkpoints"). Pure: it looks at the trials' recorded results only, never at files;
// orchestrator/retention.h applies the answer to a sweep folder.
//
// Rule, for policy {keep_top_trials: K, keep: best | last | best_and_last}:
//   1. A trial that is running, pending, or `active` (queued or running in this process,
//      a failed trial awaiting its retry) keeps everything: resuming needs its newest
//      checkpoint with the optimizer state, and the trainer keeps its own last two and best.
//   2. A failed trial, and a finished one with no epoch (never ranked), keeps nothing: its
//      recorded results (results.h5) need no checkpoint.
//   3. A ranked trial (done or stopped early) keeps the weights of the `keep` epochs
//      (its best epoch by the sweep's metric, its last epoch, or both), never optimizer
//      state, when any of these holds:
//        - K is "all";
//        - fewer than K ranked trials come before it in the metric order (ranking.h, rule 3);
//        - it is in the first K of the selection rule's order (the model of the week is);
//        - the rule is one_se and it is a candidate (it may become the winner).
//      Otherwise it keeps nothing.
// Why this is safe while trials still run: a finished trial's numbers never change and a new
// trial only inserts itself into the metric order, so a trial with K trials before it stays
// behind at least K; it can never re-enter the top K or become the model of the week under
// the `best` rule. Under one_se the winner is the candidate with the lowest val loss, so
// every candidate is kept; a trial that is significantly worse than the current reference is
// assumed to stay significantly worse than any better reference that comes later (DeLong's
// p-value is not guaranteed to be monotone in the reference's AUC; keep_top_trials: all is
// the strictly safe setting).
#include <cstddef>
#include <set>
#include <string>
#include <vector>

#include "results/ranking.h"
#include "results/records.h"
#include "sweeps/spec.h"

namespace mammosweep::results {

enum class Retain {
  everything,  // untouched: resume needs its checkpoints
  weights,     // the weights of `epochs`, without optimizer state
  nothing,     // no checkpoint
};
const char* to_string(Retain r);  // "everything" | "weights" | "nothing"

struct TrialRetention {
  std::size_t index = 0;    // into the trials given
  Retain retain = Retain::everything;
  std::vector<int> epochs;  // Retain::weights: the epochs kept, ascending
  std::string reason;       // one line: why
};

/// The rule above, one entry per trial in input order. `options` are the sweep's ranking
/// options (its metric and selection rule; `by` and the bootstrap are ignored).
std::vector<TrialRetention> decide_retention(const std::vector<TrialResult>& trials,
                                             RankingOptions options,
                                             const sweeps::CheckpointPolicy& policy,
                                             const std::set<std::string>& active = {});

}  // namespace mammosweep::results
