#include "orchestrator/chosen_model.h"

#include <fmt/format.h>

#include <utility>
#include <vector>

#include "io/files.h"
#include "results/threshold.h"
#include "sweeps/trial.h"
#include "worker/checkpoint.h"
#include "worker/data.h"
#include "worker/resnet50.h"

namespace mammosweep::orchestrator {

namespace {

/// The trial named by --trial: an exact id, else an exact (unique) name.
std::size_t find_trial(const results::SweepSnapshot& snap, const std::string& key,
                       const std::string& dir) {
  for (std::size_t i = 0; i < snap.trials.size(); ++i) {
    if (snap.trials[i].id == key) return i;
  }
  std::vector<std::size_t> by_name;
  for (std::size_t i = 0; i < snap.trials.size(); ++i) {
    if (snap.trials[i].name == key) by_name.push_back(i);
  }
  if (by_name.size() == 1) return by_name.front();
  if (by_name.size() > 1) {
    std::string ids;
    for (std::size_t i : by_name) ids += " " + snap.trials[i].id;
    throw InputError(fmt::format("--trial '{}': {} trials of {} have that name; give an id:{}",
                                 key, by_name.size(), dir, ids));
  }
  std::string known;
  for (const auto& t : snap.trials) known += fmt::format("\n  {}  {}", t.id, t.name);
  throw InputError(
      fmt::format("--trial '{}': no trial of {} has that id or name; trials:{}", key, dir, known));
}

/// The checkpoint of `epoch` in DIR/trials/<id>/, or an InputError naming what is missing.
std::string find_checkpoint(const std::string& dir, const results::TrialResult& t, int epoch,
                            const results::RankingOptions& ro) {
  const std::string folder = worker::checkpoint_dir(dir, t.id);
  const std::string path = worker::checkpoint_path(folder, epoch);
  std::vector<std::pair<int, std::string>> kept = worker::list_checkpoints(folder);
  for (const auto& [e, p] : kept) {
    if (e == epoch) return p;
  }
  if (io::file_exists(path)) {
    throw InputError(fmt::format("{}: the checkpoint of epoch {} of trial {} ({}) is corrupt "
                                 "(truncated, or its checksum does not match)",
                                 path, epoch, t.name, t.id));
  }
  std::string have;
  for (auto it = kept.rbegin(); it != kept.rend(); ++it) {
    have += (have.empty() ? "" : ", ") + std::to_string(it->first);
  }
  throw InputError(fmt::format(
      "{}: missing: the checkpoint of epoch {} of trial {} ({}) was pruned or never written "
      "(checkpoints kept: {}). A running trial keeps its last two epochs and its best one; "
      "once trials end, the spec's checkpoints: policy keeps weights only for the top "
      "keep_top_trials trials, of their best and/or last epoch (docs/sweep-spec.md): `--by "
      "final` needs keep: last or best_and_last, `--by best` the sweep's own metric{}.",
      path, epoch, t.name, t.id, have.empty() ? "none" : "epochs " + have,
      ro.by == results::EpochChoice::best ? " (not --metric " + ro.metric + ")" : ""));
}

worker::ModelPreprocessing preprocessing_of(const sweeps::DataSpec& d) {
  worker::ModelPreprocessing pre;
  pre.options = worker::preprocess_options(d);
  pre.mean = d.mean;
  pre.std = d.std;
  return pre;
}

}  // namespace

results::Predictions score_split(const worker::Predictor& predictor, const sweeps::DataSpec& data,
                                 const std::string& split) {
  std::vector<std::string> paths;
  std::vector<std::int8_t> labels;
  try {
    for (const auto& r : worker::list_dataset(data)) {
      if (r.split != split) continue;
      paths.push_back(r.path);
      labels.push_back(static_cast<std::int8_t>(r.label));
    }
  } catch (const std::exception& e) {
    throw InputError(fmt::format("cannot list the dataset {}: {}", data.root, e.what()));
  }
  results::Predictions p;
  p.labels = std::move(labels);
  for (const auto& r : predictor.predict_files(paths)) {
    if (!r.ok) throw InputError(r.error);
    p.scores.push_back(static_cast<float>(r.probability));
  }
  return p;
}

ChosenModel load_chosen_model(const std::string& dir, const RankingChoice& choice,
                              const std::string& trial_key, int threads) {
  ChosenModel c;
  c.dir = dir;
  c.snap = load_sweep(dir);
  c.ranking_options = ranking_options(c.snap, choice);
  c.ranking = results::rank_trials(c.snap.trials, c.ranking_options);
  std::optional<sweeps::SweepSpec> spec = stored_spec(c.snap.info);
  if (!spec) {
    throw InputError(fmt::format("{}: the stored spec is missing or no longer parses, so the "
                                 "preprocessing of the model is unknown",
                                 results::store_path(dir)));
  }
  c.spec = std::move(*spec);

  if (trial_key.empty()) {
    if (!c.ranking.winner()) {
      throw InputError(fmt::format(
          "{}: no trial is ranked yet: none is done or stopped early with an epoch", dir));
    }
    c.index = c.ranking.winner()->index;
  } else {
    c.index = find_trial(c.snap, trial_key, dir);
  }
  const results::TrialResult& t = c.trial();
  const results::RankedTrial* ranked = c.ranking.find(c.index);
  if (!ranked) {
    std::string reason = "not ranked";
    for (const auto& u : c.ranking.unranked) {
      if (u.index == c.index) reason = u.reason;
    }
    throw InputError(fmt::format("trial {} ({}) is not ranked: {}", t.name, t.id, reason));
  }
  c.rank_index = static_cast<std::size_t>(ranked - c.ranking.ranked.data());

  c.checkpoint = find_checkpoint(dir, t, ranked->epoch, c.ranking_options);
  try {
    c.params = sweeps::params_from_json(t.params_json);
  } catch (const std::exception& e) {
    throw InputError(fmt::format("trial {} ({}): its stored parameters are invalid: {}", t.name,
                                 t.id, e.what()));
  }
  worker::ResNet50 model(worker::model_options(c.params, t.seed));
  const int loaded = worker::load_checkpoint_weights(c.checkpoint, *model);
  if (loaded != ranked->epoch) {
    throw InputError(fmt::format("{}: holds epoch {}, expected epoch {}", c.checkpoint, loaded,
                                 ranked->epoch));
  }
  model->eval();
  c.model = model.ptr();

  c.info.tool_version = MAMMOSWEEP_VERSION;
  c.info.architecture = {c.params.dense_units, c.params.dropout, c.params.unfrozen_fraction, 2};
  c.info.preprocessing = preprocessing_of(c.spec.data);
  c.info.class_map = c.spec.data.class_map.empty()
                         ? std::map<std::string, int>{{"0", 0}, {"1", 1}}
                         : c.spec.data.class_map;

  // The operating threshold, chosen on validation only: on the selected epoch's stored
  // predictions, or (another epoch's are stored) on freshly scored validation images.
  const sweeps::ThresholdRule& rule = c.spec.selection.threshold;
  if (t.best_val_predictions.size() > 0 && (!t.best_epoch || *t.best_epoch == ranked->epoch)) {
    c.val_predictions = t.best_val_predictions;
  } else if (rule.kind != sweeps::ThresholdRule::Kind::fixed) {
    worker::Predictor predictor(c.info, c.model, worker::PredictorOptions{threads, 16});
    c.val_predictions = score_split(predictor, c.spec.data, "val");
    if (c.val_predictions.size() == 0) {
      throw InputError(fmt::format("{}: the val split has no image", c.spec.data.root));
    }
  }
  if (rule.kind == sweeps::ThresholdRule::Kind::fixed) {
    c.info.threshold = rule.value;
    return c;
  }
  try {
    c.info.threshold = results::choose_threshold(c.val_predictions, rule);
  } catch (const std::exception& e) {
    throw InputError(fmt::format("selection.threshold {}: {}", sweeps::to_string(rule), e.what()));
  }
  return c;
}

}  // namespace mammosweep::orchestrator
