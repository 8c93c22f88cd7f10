// `mammosweep export DIR --out MODEL_DIR`: write the model of the week (or a chosen trial)
// as a deployable model folder (worker/model_dir.h; docs/export-and-predict.md).
//
// Steps: rank the trials exactly as `leaderboard` does (ranking_options + rank_trials), take
// the winner or --trial, find the checkpoint of its selected epoch in DIR/trials/<id>/,
// rebuild the trial's ResNet50 (dense_units, dropout, unfrozen_fraction from params_json),
// load the checkpoint's weights and write model.safetensors, model.json and MODEL_CARD.md.
// Preprocessing comes from the data section of the spec stored in results.h5.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>

#include "orchestrator/cli.h"
#include "orchestrator/sweep_results.h"
#include "results/files.h"
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
  const std::string folder = fmt::format("{}/trials/{}", dir, t.id);
  const std::string path = fmt::format("{}/epoch-{:04d}.ckpt", folder, epoch);
  std::vector<std::pair<int, std::string>> kept = worker::list_checkpoints(folder);
  for (const auto& [e, p] : kept) {
    if (e == epoch) return p;
  }
  if (results::file_exists(path)) {
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
      "(checkpoints kept: {}). The trainer keeps the last two epochs and the best epoch by the "
      "sweep's metric; `--by final` always has its checkpoint, and `--by best` with the sweep's "
      "own metric{}.",
      path, epoch, t.name, t.id, have.empty() ? "none" : "epochs " + have,
      ro.by == results::EpochChoice::best ? " (not --metric " + ro.metric + ")" : ""));
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
};

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
  md += "> **Caution.** Every number below is measured on the sweep's *validation* split, the same "
        "split that chose this model and its epoch, so it is optimistic. It is not a test-set "
        "result and not clinical evidence. Evaluate on a held-out test split (ideally from "
        "other patients, sites and scanners) before any use.\n\n";
  md += "## Selection\n\n";
  md += fmt::format("- rank {} of {} ranked trial(s) by {} ({}), {} epoch\n", c.ranked->rank,
                    c.ranked_count, metric,
                    c.ro->goal == results::Goal::maximize ? "higher is better" : "lower is better",
                    c.ro->by == results::EpochChoice::best ? "each trial's best" : "each trial's final");
  md += fmt::format("- selected epoch: {} of {} trained (status {})\n", c.ranked->epoch,
                    t.epochs.size(), results::to_string(t.status));
  md += "\n## Validation metrics (epoch " + std::to_string(c.ranked->epoch) +
        ", threshold " + fmt::format("{}", c.info->threshold) + ")\n\n";
  md += "| metric | value | 95% CI (bootstrap) |\n|---|---|---|\n";
  const results::BootstrapResult* ci = c.ranked->ci ? &*c.ranked->ci : nullptr;
  md += fmt::format("| AUC | {} | {} |\n", fmt3(e.val.auc), ci_text(ci ? &ci->auc : nullptr));
  md += fmt::format("| accuracy | {} | {} |\n", fmt3(e.val.accuracy),
                    ci_text(ci ? &ci->accuracy : nullptr));
  md += fmt::format("| sensitivity | {} | {} |\n", fmt3(e.val.recall),
                    ci_text(ci ? &ci->sensitivity : nullptr));
  md += fmt::format("| specificity | {} | {} |\n", fmt3(e.val.specificity),
                    ci_text(ci ? &ci->specificity : nullptr));
  md += fmt::format("| precision (PPV) | {} | |\n| F1 | {} | |\n| loss | {} | |\n",
                    fmt3(e.val.precision), fmt3(e.val.f1), fmt3(e.val.loss));
  md += fmt::format("\nConfusion matrix: TP {}, FP {}, TN {}, FN {} ({} val images).\n",
                    e.val.cm.tp, e.val.cm.fp, e.val.cm.tn, e.val.cm.fn, e.val.cm.total());
  if (!ci) md += fmt::format("\nConfidence intervals unavailable: {}.\n", c.ranked->ci_note);
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
    results::SweepSnapshot snap = load_sweep(opt.dir);
    results::RankingOptions ro = ranking_options(snap, opt.choice);
    results::Ranking ranking = results::rank_trials(snap.trials, ro);
    std::optional<sweeps::SweepSpec> spec = stored_spec(snap.info);
    if (!spec) {
      throw InputError(fmt::format("{}: the stored spec is missing or no longer parses, so the "
                                   "preprocessing of the model is unknown",
                                   results::store_path(opt.dir)));
    }

    std::size_t index = 0;
    if (opt.trial.empty()) {
      if (!ranking.winner()) {
        throw InputError(fmt::format(
            "{}: no trial can be exported yet: none is done or stopped early with an epoch",
            opt.dir));
      }
      index = ranking.winner()->index;
    } else {
      index = find_trial(snap, opt.trial, opt.dir);
    }
    const results::TrialResult& t = snap.trials[index];
    const results::RankedTrial* ranked = ranking.find(index);
    if (!ranked) {
      std::string reason = "not ranked";
      for (const auto& u : ranking.unranked) {
        if (u.index == index) reason = u.reason;
      }
      throw InputError(fmt::format("trial {} ({}) cannot be exported: {}", t.name, t.id, reason));
    }

    const std::string ckpt = find_checkpoint(opt.dir, t, ranked->epoch, ro);
    sweeps::TrainingParams params;
    try {
      params = sweeps::params_from_json(t.params_json);
    } catch (const std::exception& e) {
      throw InputError(fmt::format("trial {} ({}): its stored parameters are invalid: {}", t.name,
                                   t.id, e.what()));
    }
    worker::ResNet50Options mo;
    mo.dense_units = params.dense_units;
    mo.dropout = params.dropout;
    mo.unfrozen_fraction = params.unfrozen_fraction;
    mo.seed = t.seed;
    worker::ResNet50 model(mo);
    const int loaded = worker::load_checkpoint_weights(ckpt, *model);
    if (loaded != ranked->epoch) {
      throw InputError(fmt::format("{}: holds epoch {}, expected epoch {}", ckpt, loaded,
                                   ranked->epoch));
    }
    model->eval();

    // model.json
    worker::ModelInfo info;
    info.tool_version = MAMMOSWEEP_VERSION;
    info.architecture = {params.dense_units, params.dropout, params.unfrozen_fraction, 2};
    const sweeps::DataSpec& d = spec->data;
    info.preprocessing.options.image_size = d.image_size;
    info.preprocessing.options.keep_aspect = d.keep_aspect;
    info.preprocessing.options.clahe = d.clahe;
    info.preprocessing.options.window = d.window == "percentile"
                                            ? worker::PreprocessOptions::Window::percentile
                                            : worker::PreprocessOptions::Window::minmax;
    info.preprocessing.mean = d.mean;
    info.preprocessing.std = d.std;
    info.class_map = d.class_map.empty() ? std::map<std::string, int>{{"0", 0}, {"1", 1}}
                                         : d.class_map;
    info.threshold = ro.bootstrap.threshold;

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
                          {"goal", ro.goal == results::Goal::maximize ? "maximize" : "minimize"},
                          {"by", ro.by == results::EpochChoice::best ? "best" : "final"},
                          {"epoch", ranked->epoch},
                          {"epochs_trained", t.epochs.size()},
                          {"rank", ranked->rank},
                          {"ranked_trials", ranking.ranked.size()},
                          {"model_of_the_week", ranked->rank == 1},
                          {"justification", ranking.justification}};
    ojson metrics = {{"split", "val"},
                     {"epoch", ranked->epoch},
                     {"threshold", info.threshold},
                     {"val", split_json(e.val)},
                     {"train", split_json(e.train)}};
    if (ranked->ci) {
      const auto& ci = *ranked->ci;
      metrics["val_ci"] = {{"confidence", ci.confidence},
                           {"method", ro.bootstrap.stratified ? "stratified percentile bootstrap"
                                                              : "percentile bootstrap"},
                           {"resamples", ci.resamples},
                           {"seed", ro.bootstrap.seed},
                           {"auc", interval_json(ci.auc)},
                           {"accuracy", interval_json(ci.accuracy)},
                           {"sensitivity", interval_json(ci.sensitivity)},
                           {"specificity", interval_json(ci.specificity)}};
    } else {
      metrics["val_ci"] = nullptr;
      metrics["val_ci_note"] = ranked->ci_note;
    }
    extra["metrics"] = metrics;
    extra["caution"] =
        "All metrics are on the validation split that selected this model and epoch; they are "
        "optimistic and are not a test-set or clinical result.";
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
                   ranking.ranked.size()};
    const std::map<std::string, std::string> meta{
        {"mammosweep.trial_id", t.id},
        {"mammosweep.trial_name", t.name},
        {"mammosweep.epoch", std::to_string(ranked->epoch)},
        {"mammosweep.tool_version", MAMMOSWEEP_VERSION},
        {"mammosweep.image_size", std::to_string(d.image_size)}};
    worker::write_model_dir(opt.out, *model, info, render_card(card), meta);

    std::cout << fmt::format("exported trial {} ({}), epoch {}, rank {} of {} by {}: {}\n",
                             t.name, t.id, ranked->epoch, ranked->rank, ranking.ranked.size(),
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
