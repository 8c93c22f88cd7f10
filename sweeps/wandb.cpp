// The top-level keys of W&B sweep files that mammosweep's own specs do not have: run_cap,
// early_terminate (mapped onto early_stopping: asha with W&B's brackets as rungs), and the
// keys only W&B's server reads. The mapping is documented row by row in docs/sweep-spec.md,
// "W&B sweep files".
#include <cmath>

#include "sweeps/parse_internal.h"

namespace mammosweep::sweeps::internal {

namespace {

/// Keys that only W&B's server or agent reads, and why mammosweep can ignore each.
const std::vector<std::pair<std::string, std::string>>& server_keys() {
  static const std::vector<std::pair<std::string, std::string>> keys{
      {"program", "tells W&B's agent which script to run; mammosweep trains the trials itself "
                  "and does not run it"},
      {"command", "tells W&B's agent how to start the script; mammosweep trains the trials "
                  "itself and does not run it"},
      {"job", "names a W&B Launch job; mammosweep trains the trials itself"},
      {"image_uri", "names a W&B Launch image; mammosweep trains the trials itself"},
      {"entity", "names where W&B stores runs; mammosweep writes results.h5 under run --out"},
      {"project", "names where W&B stores runs; mammosweep writes results.h5 under run --out"},
      {"controller", "chooses W&B's controller; mammosweep's coordinator is rank 0"},
      {"apiVersion", "is W&B's schema version"},
      {"kind", "is W&B's schema kind"},
  };
  return keys;
}

/// Keys W&B has that mammosweep refuses, with the pointer the message gives.
const std::vector<std::pair<std::string, std::string>>& refused_keys() {
  static const std::vector<std::pair<std::string, std::string>> keys{
      {"metrics", "several metrics (W&B's multi-objective method custom) are not supported: "
                  "mammosweep ranks trials by one metric:"},
      {"scheduler", "W&B's custom scheduler engines (optuna, ax) are not supported: use method "
                    "grid or random"},
  };
  return keys;
}

/// W&B's hyperband brackets (its hyperband_stopping.py): with max_iter and s,
/// int(max_iter / eta^i) for i = 1..s while >= 1; with min_iter, int(min_iter * eta^k).
/// At most 100 (as W&B), increasing, without repeats, below 10^6 epochs.
std::vector<int> hyperband_brackets(std::optional<int> min_iter, std::optional<int> max_iter,
                                    int s, double eta) {
  std::vector<int> out;
  if (max_iter) {
    double band = *max_iter;
    for (int i = 0; i < s; ++i) {
      band /= eta;
      if (band < 1) break;
      out.push_back(static_cast<int>(band));
    }
    std::sort(out.begin(), out.end());
  } else if (min_iter) {
    double band = *min_iter;
    for (int i = 0; i < 100 && band < 1e6; ++i, band *= eta) out.push_back(static_cast<int>(band));
  }
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void parse_early_terminate(Ctx& ctx, const YAML::Node& n, SweepSpec& spec) {
  if (!expect_map(ctx, n, "early_terminate")) return;
  Reader r{ctx, n, "early_terminate"};
  std::string type;
  r.string("type", type, {"hyperband"});
  int min_iter = 0, max_iter = 0, s = 0;
  double eta = 3;
  bool strict = false;
  r.integer("min_iter", min_iter, 1);
  r.integer("max_iter", max_iter, 1);
  r.integer("s", s, 1, 1000);
  r.real("eta", eta, open_closed(1, 1e6));
  r.boolean("strict", strict);
  r.finish();
  if (!n["type"]) {
    ctx.error(n, "early_terminate needs type: hyperband (the only type W&B has)");
    return;
  }
  if (type.empty()) return;  // r.string reported it
  if (n["max_iter"] && !n["s"]) {
    ctx.error(n["max_iter"], "early_terminate.max_iter needs s: (how many brackets below "
                             "max_iter), as in W&B");
    return;
  }
  if (!n["max_iter"] && !n["min_iter"]) {
    ctx.error(n, "early_terminate needs min_iter:, or max_iter: and s: (W&B's hyperband "
                 "brackets)");
    return;
  }
  if (n["max_iter"] && n["min_iter"]) {
    ctx.note(n["min_iter"], "early_terminate has max_iter and min_iter; as in W&B, the "
                            "brackets come from max_iter and s and min_iter is not used");
  }
  if (n["strict"]) {
    ctx.note(n["strict"], "early_terminate.strict is accepted and has no effect: mammosweep "
                          "has one stopping rule (docs/early-stopping.md, \"W&B's hyperband\")");
  }
  const std::vector<int> rungs = hyperband_brackets(
      n["min_iter"] ? std::optional<int>(min_iter) : std::nullopt,
      n["max_iter"] ? std::optional<int>(max_iter) : std::nullopt, s, eta);
  if (rungs.empty()) {
    ctx.error(n, fmt::format("early_terminate gives no bracket: max_iter {} / eta {} is below "
                             "1; increase max_iter or lower eta",
                             max_iter, eta));
    return;
  }
  EarlyStopping& es = spec.early_stopping;
  es.policy = "asha";
  es.reduction_factor = eta;
  es.grace_epochs = rungs.front();
  es.rungs = rungs;
  std::string shown;
  for (std::size_t i = 0; i < rungs.size() && i < 6; ++i) {
    shown += (i ? ", " : "") + std::to_string(rungs[i]);
  }
  if (rungs.size() > 6) shown += ", ...";
  ctx.note(n, fmt::format("early_terminate (hyperband) runs as early_stopping: {{policy: asha, "
                          "reduction_factor: {}, rungs: [{}]}}: at each bracket epoch a trial "
                          "goes on while fewer than max(1, floor(n/{})) of the n values recorded "
                          "there are better (docs/early-stopping.md, \"W&B's hyperband\")",
                          eta, shown, eta));
}

}  // namespace

SpecStyle detect_style(const YAML::Node& root) {
  SpecStyle style;
  if (!root.IsMap()) return style;
  for (const auto& kv : root) {
    const std::string key = kv.first.Scalar();
    bool wandb_only = key == "run_cap" || key == "early_terminate";
    for (const auto& [k, why] : server_keys()) wandb_only |= key == k;
    for (const auto& [k, why] : refused_keys()) wandb_only |= key == k;
    if (wandb_only) {
      style.wandb = true;
      style.marker = key;
      style.line = kv.first.Mark().line + 1;
      style.column = kv.first.Mark().column + 1;
      return style;
    }
  }
  return style;
}

void parse_wandb_keys(Ctx& ctx, Reader& top, const YAML::Node& root, SweepSpec& spec,
                      const SpecStyle& style) {
  (void)root;
  for (const auto& [key, why] : server_keys()) {
    if (YAML::Node n = top.get(key)) ctx.note(n, fmt::format("'{}' {}", key, why));
  }
  for (const auto& [key, why] : refused_keys()) {
    if (YAML::Node n = top.get(key)) {
      ctx.error(n, fmt::format("'{}': {} (docs/sweep-spec.md, \"W&B sweep files\")", key, why));
    }
  }
  int run_cap = 0;
  top.integer("run_cap", run_cap, 1);
  if (run_cap > 0) spec.run_cap = run_cap;
  if (YAML::Node et = top.get("early_terminate")) {
    if (root["early_stopping"]) {
      ctx.error(et, "give early_terminate (W&B's hyperband) or early_stopping, not both");
    } else {
      parse_early_terminate(ctx, et, spec);
    }
  }
  if (style.wandb) {
    ctx.note(root, fmt::format("read as a W&B sweep file ('{}' at line {}): W&B's meaning for "
                               "log_uniform (exponents) and metric.goal (required)",
                               style.marker, style.line));
  }
}

}  // namespace mammosweep::sweeps::internal
