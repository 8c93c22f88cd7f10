#include "orchestrator/export_model.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "io/files.h"
#include "io/time.h"
#include "orchestrator/chosen_model.h"
#include "orchestrator/deploy_formats.h"
#include "orchestrator/model_card.h"
#include "orchestrator/tflite_format.h"
#include "results/evaluation.h"
#include "results/metrics.h"
#include "results/ranking.h"
#include "sweeps/trial.h"
#include "worker/model_dir.h"

namespace mammosweep::orchestrator {
namespace {

using ojson = nlohmann::ordered_json;

ojson number(double v) { return std::isfinite(v) ? ojson(v) : ojson(nullptr); }

ojson split_json(const results::SplitMetrics& m) {
  return {{"loss", number(m.loss)},
          {"accuracy", number(m.accuracy)},
          {"precision", number(m.precision)},
          {"sensitivity", number(m.recall)},
          {"specificity", number(m.specificity)},
          {"f1", number(m.f1)},
          {"auc", number(m.auc)},
          {"confusion_matrix", {{"tp", m.cm.tp}, {"fp", m.cm.fp}, {"tn", m.cm.tn}, {"fn", m.cm.fn}}}};
}

ojson interval_json(const results::Interval& i) {
  return {{"point", number(i.point)}, {"lo", number(i.lo)}, {"hi", number(i.hi)}};
}

}  // namespace

ExportResult export_model(const ExportRequest& opt) {
  const bool tflite =
      std::find(opt.formats.begin(), opt.formats.end(), "tflite") != opt.formats.end();
  if (tflite) deploy_python();  // not installed: say so before anything is loaded or written
  ChosenModel c = load_chosen_model(opt.dir, opt.choice, opt.trial);
  const results::SweepSnapshot& snap = c.snap;
  const results::RankingOptions& ro = c.ranking_options;
  const results::TrialResult& t = c.trial();
  const results::RankedTrial* ranked = &c.ranked();
  const sweeps::SweepSpec* spec = &c.spec;
  const sweeps::TrainingParams& params = c.params;
  const std::string& ckpt = c.checkpoint;
  const sweeps::DataSpec& d = spec->data;
  worker::ModelInfo& info = c.info;
  const results::EpochRecord& e = t.epochs[ranked->epoch_index];
  ojson leakage;
  const std::string leakage_text = leakage_summary(snap.info.leakage_report_json, d.leakage, &leakage);
  ojson extra;
  extra["trial"] = {{"id", t.id},
                    {"name", t.name},
                    {"seed", t.seed},
                    {"status", results::to_string(t.status)},
                    {"params", ojson::parse(t.params_json)}};
  extra["selection"] = {{"metric", ro.metric},
                        {"goal", sweeps::to_string(ro.goal)},
                        {"by", ro.by == results::EpochChoice::best ? "best" : "final"},
                        {"epoch", ranked->epoch},
                        {"epochs_trained", t.epochs.size()},
                        {"rank", ranked->rank},
                        {"ranked_trials", c.ranking.ranked.size()},
                        {"model_of_the_week", ranked->rank == 1},
                        {"rule", sweeps::to_string(c.ranking.rule)},
                        {"alpha", c.ranking.alpha},
                        {"justification", c.ranking.justification}};
  // Validation metrics at the operating threshold, from the selected epoch's predictions
  // (the training-time ones, at 0.5, when those are unknown).
  results::SplitMetrics val = e.val;
  double val_threshold = 0.5;
  std::optional<results::BootstrapResult> val_ci = ranked->ci;
  if (c.val_predictions.size() > 0) {
    val_threshold = info.threshold;
    val = results::compute_metrics(c.val_predictions, val_threshold, e.val.loss);
    if (ranked->ci) {
      results::BootstrapOptions bo = ro.bootstrap;
      bo.threshold = val_threshold;
      val_ci = results::bootstrap_ci(c.val_predictions, bo);
    }
  }
  const std::optional<results::TestEvaluation> test =
      results::latest_evaluation(test_evaluations(snap, opt.dir), t.id, ranked->epoch);
  ojson metrics = {{"split", "val"},
                   {"epoch", ranked->epoch},
                   {"threshold", val_threshold},
                   {"val", split_json(val)},
                   {"train", split_json(e.train)}};
  if (val_ci) {
    const auto& ci = *val_ci;
    metrics["val_ci"] = {{"confidence", ci.confidence},
                         {"method", ro.bootstrap.stratified ? "stratified percentile bootstrap"
                                                            : "percentile bootstrap"},
                         {"resamples", ci.resamples},
                         {"seed", ro.bootstrap.seed},
                         {"auc", interval_json(ci.auc)},
                         {"accuracy", interval_json(ci.accuracy)},
                         {"sensitivity", interval_json(ci.sensitivity)},
                         {"specificity", interval_json(ci.specificity)},
                         {"f1", interval_json(ci.f1)}};
  } else {
    metrics["val_ci"] = nullptr;
    metrics["val_ci_note"] = ranked->ci_note;
  }
  extra["metrics"] = metrics;
  extra["test"] = test ? ojson::parse(results::to_json(*test)) : ojson(nullptr);
  extra["caution"] =
      !test
          ? "All metrics are on the validation split that selected this model and epoch; they "
            "are optimistic and are not a test-set or clinical result."
          : "metrics are on the validation split that selected this model and epoch (optimistic); "
            "test holds one evaluation on the held-out test split. Neither is a clinical result.";
  extra["data"] = {{"root", d.root},
                   {"layout", d.layout},
                   {"manifest_hash", snap.info.data_manifest_hash},
                   {"spec_hash", snap.info.spec_hash},
                   {"sweep_name", spec->name},
                   {"leakage", leakage}};
  extra["provenance"] = {{"sweep_dir", opt.dir},
                         {"checkpoint", ckpt},
                         {"exported", io::iso_utc_now()},
                         {"sweep_created", snap.info.created},
                         {"libtorch_version", snap.info.libtorch_version},
                         {"training_precision", params.precision}};
  info.extra_json = extra.dump();

  CardInput card;
  card.snap = &snap;
  card.trial = &t;
  card.ranked = ranked;
  card.ro = &ro;
  card.spec = spec;
  card.info = &info;
  card.leakage_text = leakage_text;
  card.dir = opt.dir;
  card.ranked_count = c.ranking.ranked.size();
  card.ranking = &c.ranking;
  card.val = &val;
  card.val_ci = val_ci ? &*val_ci : nullptr;
  card.val_threshold = val_threshold;
  card.test = test ? &*test : nullptr;
  const std::map<std::string, std::string> meta{
      {"mammosweep.trial_id", t.id},
      {"mammosweep.trial_name", t.name},
      {"mammosweep.epoch", std::to_string(ranked->epoch)},
      {"mammosweep.tool_version", MAMMOSWEEP_VERSION},
      {"mammosweep.image_size", std::to_string(d.image_size)}};
  worker::write_model_dir(opt.out, *c.model, info, render_card(card), meta);
  // The other formats are made from the folder just written; then model.json and the card
  // are written again (atomically, model.json last) to list every file.
  card.formats = write_formats(opt.out, info, opt.formats);
  TfliteReport tflite_report;
  if (tflite) {
    const worker::Predictor predictor(info, c.model);
    TfliteRequest req;
    req.model_dir = opt.out;
    req.predictor = &predictor;
    req.data = &d;
    req.bootstrap = ro.bootstrap;
    req.bootstrap.threshold = info.threshold;
    req.score_test = test.has_value();
    for (auto& f : write_tflite(req, &tflite_report)) card.formats.push_back(std::move(f));
    card.tflite = &tflite_report;
    extra["deploy_checks"] = ojson::parse(tflite_report_json(tflite_report));
  }
  ojson formats = ojson::array();
  for (const auto& f : card.formats) {
    formats.push_back({{"format", f.format}, {"file", f.file}, {"bytes", f.bytes}, {"note", f.note}});
  }
  extra["formats"] = formats;
  info.extra_json = extra.dump();
  io::write_file_atomic(io::join_path(opt.out, worker::kModelCardFile), render_card(card));
  io::write_file_atomic(io::join_path(opt.out, worker::kModelJsonFile),
                        worker::model_info_to_json(info));

  ExportResult r;
  r.trial_id = t.id;
  r.trial_name = t.name;
  r.epoch = ranked->epoch;
  r.rank = ranked->rank;
  r.ranked_trials = c.ranking.ranked.size();
  r.metric = ro.metric;
  r.metric_value = ranked->metric;
  r.training_precision = params.precision;
  for (const auto& f : card.formats) r.files.push_back(io::join_path(opt.out, f.file));
  for (const char* f : {worker::kModelJsonFile, worker::kModelCardFile}) {
    r.files.push_back(io::join_path(opt.out, f));
  }
  return r;
}

}  // namespace mammosweep::orchestrator
