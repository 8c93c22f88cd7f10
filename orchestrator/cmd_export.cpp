// `mammosweep export DIR --out MODEL_DIR`: write the model of the week (or a chosen trial)
// as a deployable model folder (worker/model_dir.h; docs/export-and-predict.md).
//
// Steps: rank the trials exactly as `leaderboard` does (ranking_options + rank_trials), take
// the winner or --trial, find the checkpoint of its selected epoch in DIR/trials/<id>/,
// rebuild the trial's ResNet50 (dense_units, dropout, unfrozen_fraction from params_json),
// load the checkpoint's weights and write model.safetensors, model.json and MODEL_CARD.md.
// Loading is orchestrator/chosen_model.h (shared with `evaluate`); preprocessing comes from
// the data section of the effective spec stored in results.h5.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>

#include "orchestrator/chosen_model.h"
#include "orchestrator/cli.h"
#include "orchestrator/sweep_results.h"
#include "results/evaluation.h"
#include "results/metrics.h"
#include "results/ranking.h"
#include "sweeps/trial.h"
#include "worker/model_dir.h"
#include "worker/resnet50.h"
#include "worker/trainer.h"

namespace mammosweep::orchestrator {

namespace {

using ojson = nlohmann::ordered_json;

struct ExportOptions {
  std::string dir;
  std::string out;
  std::string trial;  // id or name; empty = the model of the week
  RankingChoice choice;
};

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

std::string fmt3(double v) { return std::isfinite(v) ? fmt::format("{:.3f}", v) : "n/a"; }

std::string ci_text(const results::Interval* i) {
  if (!i || !i->has_ci()) return "n/a";
  return fmt::format("{} – {}", fmt3(i->lo), fmt3(i->hi));
}

/// "N images checked; 0 cross-split findings (exact 0, near 0, ...)" from the stored report.
std::string leakage_summary(const std::string& report_json, const std::string& policy,
                            ojson* out) {
  const std::string p = policy.empty() ? "unknown" : policy;
  if (report_json.empty()) {
    *out = {{"policy", p}, {"ran", false}};
    return fmt::format("the leakage guard did not run (data.leakage: {})", p);
  }
  ojson j = ojson::parse(report_json, nullptr, false);
  if (!j.is_object()) {
    *out = {{"policy", p}, {"ran", true}, {"report", "unreadable"}};
    return "the leakage guard ran but its stored report is unreadable";
  }
  ojson counts = j.value("counts", ojson::object());
  std::size_t total = j.contains("findings") && j["findings"].is_array() ? j["findings"].size() : 0;
  *out = {{"policy", p}, {"ran", true}, {"images", j.value("images", 0)}, {"counts", counts},
          {"findings", total}};
  std::string parts;
  for (auto it = counts.begin(); it != counts.end(); ++it) {
    parts += fmt::format("{}{} {}", parts.empty() ? "" : ", ", it.key(), it.value().dump());
  }
  return fmt::format("{} images checked (data.leakage: {}); {} cross-split finding(s) ({})",
                     j.value("images", 0), p, total, parts);
}

struct CardInput {
  const results::SweepSnapshot* snap;
  const results::TrialResult* trial;
  const results::RankedTrial* ranked;
  const results::RankingOptions* ro;
  const sweeps::SweepSpec* spec;
  const worker::ModelInfo* info;
  std::string leakage_text;
  std::string dir;
  std::size_t ranked_count = 0;
  const results::Ranking* ranking;
  const results::SplitMetrics* val;      // at val_threshold
  const results::BootstrapResult* val_ci;  // nullptr: see ranked->ci_note
  double val_threshold = 0.5;
  const results::TestEvaluation* test = nullptr;  // latest test evaluation of this epoch
};

std::string test_section(const results::TestEvaluation& r) {
  std::string md = fmt::format(
      "\n## Test split (held out; evaluated {})\n\n{} test images ({} malignant); threshold "
      "{:.4f} chosen on validation by `{}`. Evaluated with `mammosweep evaluate`; this was "
      "evaluation {} of the sweep's test split.\n\n",
      r.time, r.images, r.malignant, r.threshold, r.threshold_rule, r.earlier + 1);
  md += "| metric | value | 95% CI (bootstrap) |\n|---|---|---|\n";
  const std::pair<const char*, const results::Interval*> rows[] = {
      {"AUC", &r.ci.auc},           {"sensitivity", &r.ci.sensitivity},
      {"specificity", &r.ci.specificity}, {"accuracy", &r.ci.accuracy}, {"F1", &r.ci.f1}};
  for (const auto& [name, iv] : rows) {
    md += fmt::format("| {} | {} | {} |\n", name, fmt3(iv->point), ci_text(iv));
  }
  md += fmt::format("\nConfusion matrix: TP {}, FP {}, TN {}, FN {}.\n", r.cm.tp, r.cm.fp, r.cm.tn,
                    r.cm.fn);
  return md;
}

std::string render_card(const CardInput& c) {
  const results::TrialResult& t = *c.trial;
  const results::EpochRecord& e = t.epochs[c.ranked->epoch_index];
  const auto& pre = c.info->preprocessing;
  const std::string metric = results::metric_display_name(c.ro->metric);
  std::string md;
  md += fmt::format("# Model card: {} ({})\n\n", t.name, t.id);
  md += fmt::format("ResNet50 (torchvision layout) fine-tuned for binary mammogram classification "
                    "(class 1 = malignant), exported by mammosweep {} on {} from the sweep `{}` "
                    "in `{}`.\n\n",
                    c.info->tool_version, now_iso(), c.spec->name, c.dir);
  if (c.test) {
    md += "> **Caution.** The validation numbers below chose this model and its epoch, so they are "
          "optimistic. The test-split numbers were measured once on held-out images; they are "
          "not clinical evidence (test on other patients, sites and scanners before any "
          "use).\n\n";
  } else {
    md += "> **Caution.** Every number below is measured on the sweep's *validation* split, the "
          "same split that chose this model and its epoch, so it is optimistic. It is not a "
          "test-set result and not clinical evidence. Run `mammosweep evaluate` on a held-out "
          "test split (ideally from other patients, sites and scanners) before any use.\n\n";
  }
  md += "## Selection\n\n";
  md += fmt::format("- rank {} of {} ranked trial(s) by {} ({}), {} epoch\n", c.ranked->rank,
                    c.ranked_count, metric,
                    c.ro->goal == results::Goal::maximize ? "higher is better" : "lower is better",
                    c.ro->by == results::EpochChoice::best ? "each trial's best" : "each trial's final");
  md += fmt::format("- selection rule: {} (alpha {}); see the justification in `model.json`\n",
                    sweeps::to_string(c.ranking->rule), c.ranking->alpha);
  md += fmt::format("- selected epoch: {} of {} trained (status {})\n", c.ranked->epoch,
                    t.epochs.size(), results::to_string(t.status));
  const results::SplitMetrics& v = *c.val;
  md += "\n## Validation metrics (epoch " + std::to_string(c.ranked->epoch) +
        ", threshold " + fmt::format("{:.4f}", c.val_threshold) + ")\n\n";
  md += "| metric | value | 95% CI (bootstrap) |\n|---|---|---|\n";
  const results::BootstrapResult* ci = c.val_ci;
  md += fmt::format("| AUC | {} | {} |\n", fmt3(v.auc), ci_text(ci ? &ci->auc : nullptr));
  md += fmt::format("| accuracy | {} | {} |\n", fmt3(v.accuracy),
                    ci_text(ci ? &ci->accuracy : nullptr));
  md += fmt::format("| sensitivity | {} | {} |\n", fmt3(v.recall),
                    ci_text(ci ? &ci->sensitivity : nullptr));
  md += fmt::format("| specificity | {} | {} |\n", fmt3(v.specificity),
                    ci_text(ci ? &ci->specificity : nullptr));
  md += fmt::format("| precision (PPV) | {} | |\n| F1 | {} | {} |\n| loss | {} | |\n",
                    fmt3(v.precision), fmt3(v.f1), ci_text(ci ? &ci->f1 : nullptr), fmt3(e.val.loss));
  md += fmt::format("\nConfusion matrix: TP {}, FP {}, TN {}, FN {} ({} val images).\n",
                    v.cm.tp, v.cm.fp, v.cm.tn, v.cm.fn, v.cm.total());
  if (!ci) md += fmt::format("\nConfidence intervals unavailable: {}.\n", c.ranked->ci_note);
  if (c.test) md += test_section(*c.test);
  md += fmt::format("\nTrain metrics at that epoch: loss {}, accuracy {}, AUC {}.\n",
                    fmt3(e.train.loss), fmt3(e.train.accuracy), fmt3(e.train.auc));
  md += "\n## Training parameters\n\n| parameter | value |\n|---|---|\n";
  for (const auto& [k, v] : t.params) md += fmt::format("| {} | {} |\n", k, v);
  md += fmt::format("| seed | {} |\n", t.seed);
  md += "\n## Preprocessing (predict applies exactly this)\n\n";
  md += fmt::format(
      "1. decode JPEG/PNG/PGM/DICOM (MONOCHROME1 inverted); 16-bit images are windowed to 8 "
      "bit ({}); gray is copied to RGB\n"
      "2. CLAHE: {}\n3. resize to {}x{} px ({})\n4. scale to [0, 1] (/255), then normalise per "
      "channel with mean [{}] and std [{}]\n5. probability of malignancy = softmax(logits)[1]; "
      "predicted malignant when >= {}\n",
      worker::PreprocessOptions::Window::percentile == pre.options.window
          ? fmt::format("percentile {}–{}", pre.options.window_low_pct, pre.options.window_high_pct)
          : "min-max",
      pre.options.clahe ? "yes (8x8 tiles, clip 2.0)" : "no", pre.options.image_size,
      pre.options.image_size, pre.options.keep_aspect ? "aspect kept, black padding" : "stretched",
      fmt::join(pre.mean, ", "), fmt::join(pre.std, ", "), c.info->threshold);
  md += "\nClass map (dataset label -> class): ";
  std::string cm;
  for (const auto& [k, v] : c.info->class_map) cm += fmt::format("{}`{}` -> {}", cm.empty() ? "" : ", ", k, v);
  md += cm + " (1 = malignant).\n";
  md += "\n## Data and leakage guard\n\n";
  md += fmt::format("- dataset: `{}` ({} layout); manifest hash `{}`\n", c.spec->data.root,
                    c.spec->data.layout, c.snap->info.data_manifest_hash);
  md += "- leakage guard: " + c.leakage_text + "\n";
  md += fmt::format("- sweep spec hash `{}`; LibTorch {}\n", c.snap->info.spec_hash,
                    c.snap->info.libtorch_version);
  md += "\n## Files\n\n- `model.safetensors`: weights (torchvision ResNet50 names + `head.*`)\n"
        "- `model.json`: this card, machine-readable\n"
        "- usage: `mammosweep predict --model THIS_FOLDER IMAGE...` "
        "(see docs/export-and-predict.md)\n";
  return md;
}

int export_model(const ExportOptions& opt) {
  return with_input_errors([&]() {
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
                           {"exported", now_iso()},
                           {"sweep_created", snap.info.created},
                           {"libtorch_version", snap.info.libtorch_version},
                           {"training_precision", params.precision}};
    info.extra_json = extra.dump();

    CardInput card{&snap, &t, ranked, &ro, &*spec, &info, leakage_text, opt.dir,
                   c.ranking.ranked.size(), &c.ranking, &val, val_ci ? &*val_ci : nullptr, val_threshold,
                   test ? &*test : nullptr};
    const std::map<std::string, std::string> meta{
        {"mammosweep.trial_id", t.id},
        {"mammosweep.trial_name", t.name},
        {"mammosweep.epoch", std::to_string(ranked->epoch)},
        {"mammosweep.tool_version", MAMMOSWEEP_VERSION},
        {"mammosweep.image_size", std::to_string(d.image_size)}};
    worker::write_model_dir(opt.out, *c.model, info, render_card(card), meta);

    std::cout << fmt::format("exported trial {} ({}), epoch {}, rank {} of {} by {}: {}\n",
                             t.name, t.id, ranked->epoch, ranked->rank, c.ranking.ranked.size(),
                             results::metric_display_name(ro.metric), fmt3(ranked->metric));
    std::cout << fmt::format("wrote {0}/model.safetensors, {0}/model.json, {0}/MODEL_CARD.md\n",
                             opt.out);
    if (params.precision == "bf16") {
      std::cerr << "note: this trial was evaluated under bf16 autocast; predict runs in float32, "
                   "so its scores may differ slightly from the stored val scores\n";
    }
    return static_cast<int>(kExitOk);
  });
}

}  // namespace

Command add_export_command(CLI::App& app) {
  auto opt = std::make_shared<ExportOptions>();
  CLI::App* cmd = app.add_subcommand(
      "export", "Write the model of the week (or --trial) as a deployable model folder");
  cmd->add_option("DIR", opt->dir, "Sweep output folder (holds results.h5 and trials/)")
      ->required();
  cmd->add_option("--out", opt->out, "Model folder to write (model.safetensors, model.json, "
                                     "MODEL_CARD.md)")
      ->required();
  cmd->add_option("--trial", opt->trial, "Export this trial (id or name) instead of the winner");
  cmd->add_option("--metric", opt->choice.metric,
                  "Ranking metric, as for `leaderboard` (default: the spec's metric.name)");
  cmd->add_option("--goal", opt->choice.goal, "max or min (default: as for `leaderboard`)")
      ->check(CLI::IsMember({"max", "min", "maximize", "minimize"}));
  cmd->add_option("--by", opt->choice.by, "Epoch of each trial: its best or its final epoch")
      ->check(CLI::IsMember({"best", "final"}))
      ->capture_default_str();
  cmd->add_option("--ci-resamples", opt->choice.ci_resamples,
                  "Bootstrap resamples for the 95% confidence intervals (0 = none)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  return [opt, cmd]() { return cmd->parsed() ? export_model(*opt) : -1; };
}

}  // namespace mammosweep::orchestrator
