#pragma once
// MODEL_CARD.md of an exported model: what was chosen and how, its validation (and, once
// evaluated, test) numbers with their intervals, the preprocessing predict applies, and the
// data and leakage-guard provenance. Written by export (export_model.h).
#include <cstddef>
#include <string>

#include <nlohmann/json.hpp>

#include "orchestrator/deploy_formats.h"
#include "orchestrator/tflite_format.h"
#include "results/bootstrap.h"
#include "results/evaluation.h"
#include "results/ranking.h"
#include "results/store.h"
#include "sweeps/spec.h"
#include "worker/model_dir.h"

namespace mammosweep::orchestrator {

/// What the card shows; every pointer must be set (val_ci and test may be null).
struct CardInput {
  const results::SweepSnapshot* snap = nullptr;
  const results::TrialResult* trial = nullptr;
  const results::RankedTrial* ranked = nullptr;
  const results::RankingOptions* ro = nullptr;
  const sweeps::SweepSpec* spec = nullptr;
  const worker::ModelInfo* info = nullptr;
  std::string leakage_text;
  std::string dir;
  std::size_t ranked_count = 0;
  const results::Ranking* ranking = nullptr;
  const results::SplitMetrics* val = nullptr;  // at val_threshold
  const results::BootstrapResult* val_ci = nullptr;  // nullptr: see ranked->ci_note
  double val_threshold = 0.5;
  const results::TestEvaluation* test = nullptr;  // latest test evaluation of this epoch
  std::vector<FormatFile> formats;  // the files written (export --format); empty: weights only
  const TfliteReport* tflite = nullptr;  // export --format tflite: its checks
};

std::string render_card(const CardInput& card);

/// One line on the stored leakage report ("N images checked (data.leakage: P); K
/// cross-split finding(s) (...)"); `out` receives the same as JSON for model.json.
std::string leakage_summary(const std::string& report_json, const std::string& policy,
                            nlohmann::ordered_json* out);

/// "0.123", or "n/a" for NaN.
std::string fmt3(double v);

}  // namespace mammosweep::orchestrator
