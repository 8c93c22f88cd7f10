#pragma once
// The trial that `export` and `evaluate` work on, loaded once, the same way for both: the
// model of the week (or --trial) by the leaderboard's ranking, the weights of its selected
// epoch from its checkpoint, the preprocessing of the effective spec it trained with, and
// the operating threshold chosen on validation by the spec's `selection.threshold` rule.
// What `evaluate` scores is therefore exactly what `export` writes.
#include <cstddef>
#include <memory>
#include <string>

#include "orchestrator/sweep_results.h"
#include "results/ranking.h"
#include "results/store.h"
#include "sweeps/params.h"
#include "sweeps/spec.h"
#include "worker/model_dir.h"

namespace mammosweep::orchestrator {

struct ChosenModel {
  std::string dir;  // the sweep folder
  results::SweepSnapshot snap;
  results::RankingOptions ranking_options;
  results::Ranking ranking;
  sweeps::SweepSpec spec;  // the effective spec stored with the sweep
  std::size_t index = 0;   // into snap.trials
  std::size_t rank_index = 0;  // into ranking.ranked
  sweeps::TrainingParams params;
  std::string checkpoint;
  /// model.json's content. threshold: chosen on the selected epoch's validation
  /// predictions by spec.selection.threshold.
  worker::ModelInfo info;
  std::shared_ptr<worker::ResNet50Impl> model;  // eval mode, CPU, float32
  /// The selected epoch's validation predictions (stored, or scored when the threshold
  /// rule needs them and the stored ones belong to another epoch); empty when unknown.
  results::Predictions val_predictions;

  const results::TrialResult& trial() const { return snap.trials[index]; }
  const results::RankedTrial& ranked() const { return ranking.ranked[rank_index]; }
};

/// Loads the trial `trial_key` (id or name; empty: the model of the week) of the sweep in
/// `dir`. `threads` are the forward pass's threads when validation images must be scored
/// (the selected epoch's predictions are not stored and the threshold rule needs them).
/// Throws InputError naming what is missing: no results.h5, no stored spec, an unknown or
/// unranked trial, a pruned or corrupt checkpoint, invalid stored parameters.
ChosenModel load_chosen_model(const std::string& dir, const RankingChoice& choice,
                              const std::string& trial_key, int threads = 1);

/// Scores the images of `split` ("val" or "test") of `data` with `predictor`, in dataset
/// order; empty when the split has no image. Throws InputError when the dataset cannot be
/// listed or an image cannot be read (naming the file).
results::Predictions score_split(const worker::Predictor& predictor, const sweeps::DataSpec& data,
                                 const std::string& split);

}  // namespace mammosweep::orchestrator
