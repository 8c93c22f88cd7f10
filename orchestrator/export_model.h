#pragma once
// The export use case: the model of the week (or a chosen trial) of a sweep, written as a
// deployable model folder (worker/model_dir.h; docs/export-and-predict.md).
//
// Steps: rank the trials exactly as `leaderboard` does, take the winner or `trial`, load
// the checkpoint of its selected epoch (chosen_model.h, shared with `evaluate`), and write
// model.safetensors, model.json and MODEL_CARD.md (model_card.h). Preprocessing comes from
// the data section of the effective spec stored in results.h5.
#include <cstddef>
#include <string>
#include <vector>

#include "orchestrator/sweep_results.h"

namespace mammosweep::orchestrator {

struct ExportRequest {
  std::string dir;    // the sweep folder
  std::string out;    // the model folder to write
  std::string trial;  // id or name; empty = the model of the week
  RankingChoice choice;
  /// What to write (deploy_formats.h); safetensors is always written.
  std::vector<std::string> formats{"safetensors"};
};

struct ExportResult {
  std::string trial_id, trial_name;
  int epoch = 0;              // the selected epoch
  int rank = 0;               // 1 = the model of the week
  std::size_t ranked_trials = 0;
  std::string metric;         // ranking metric and the trial's value of it
  double metric_value = 0.0;
  std::string training_precision;     // "bf16": predict's float32 scores may differ slightly
  std::vector<std::string> files;     // written, as paths
};

/// Throws InputError naming what is missing (see load_chosen_model).
ExportResult export_model(const ExportRequest& request);

}  // namespace mammosweep::orchestrator
