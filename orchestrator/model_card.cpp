#include "orchestrator/model_card.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>

#include "io/time.h"
#include "results/metrics.h"
#include "worker/preprocess.h"

namespace mammosweep::orchestrator {

using ojson = nlohmann::ordered_json;

std::string fmt3(double v) { return std::isfinite(v) ? fmt::format("{:.3f}", v) : "n/a"; }

namespace {

std::string ci_text(const results::Interval* i) {
  if (!i || !i->has_ci()) return "n/a";
  return fmt::format("{} – {}", fmt3(i->lo), fmt3(i->hi));
}

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

}  // namespace

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
                    c.info->tool_version, io::iso_utc_now(), c.spec->name, c.dir);
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
  md += "\n## Files\n\n| format | file | size | notes |\n|---|---|---|---|\n";
  for (const auto& f : c.formats) {
    md += fmt::format("| {} | `{}` | {:.1f} MB | {} |\n", f.format, f.file,
                      static_cast<double>(f.bytes) / 1e6, f.note);
  }
  md += c.tflite != nullptr ? "\n- single-image CPU latency per format: below (Deployment checks)\n"
                            : "\n- single-image CPU latency per format: docs/performance.md, "
                              "section 9 (not measured at export)\n";
  md += "- `model.json`: this card, machine-readable\n"
        "- usage: `mammosweep predict --model THIS_FOLDER IMAGE...`; ONNX: input `image` "
        "float32 [batch, 3, S, S], RGB pixel / 255 (normalisation is in the graph), outputs "
        "`probabilities` [batch, 2] and `p_malignant` [batch] (see docs/export-and-predict.md)\n";
  if (c.tflite != nullptr) {
    md += "- TF Lite: signature `serving_default`, input `image` [1, S, S, 3] NHWC, RGB pixel / "
          "255 (int8 file: quantised with its input scale and zero point), outputs "
          "`probabilities` and `p_malignant` (docs/export-and-predict.md, \"TF Lite\")\n";
    md += tflite_report_markdown(*c.tflite);
  }
  return md;
}

}  // namespace mammosweep::orchestrator
