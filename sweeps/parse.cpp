#include "sweeps/parse.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "sweeps/parse_internal.h"
#include "sweeps/search_space.h"
#include "sweeps/trial.h"
#include "sweeps/yaml_text.h"

namespace mammosweep::sweeps {

std::string Diagnostic::to_string() const {
  if (line > 0) return fmt::format("{}:{}:{}: error: {}", file, line, column, message);
  return fmt::format("{}: error: {}", file, message);
}

static std::string join_diagnostics(const std::vector<Diagnostic>& ds) {
  std::string out;
  for (const auto& d : ds) out += d.to_string() + "\n";
  if (ds.size() > 1) out += fmt::format("{} errors", ds.size());
  else if (!out.empty()) out.pop_back();
  return out;
}

SpecError::SpecError(std::vector<Diagnostic> diagnostics)
    : std::runtime_error(join_diagnostics(diagnostics)), diagnostics_(std::move(diagnostics)) {}

static std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_d = std::max<std::size_t>(2, word.size() / 3) + 1;
  for (const auto& c : candidates) {
    std::size_t d = edit_distance(word, c);
    // A candidate that ends with the word ("brightness" for "augmentation.brightness").
    if (c.size() > word.size() && c.compare(c.size() - word.size(), word.size(), word) == 0 &&
        c[c.size() - word.size() - 1] == '.') {
      d = 1;
    }
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  return best;
}

bool is_safe_name(const std::string& name) {
  if (name.empty() || name.front() == '.' || name.size() > 200) return false;
  if (name.find("..") != std::string::npos) return false;
  for (unsigned char c : name) {
    if (c == '/' || c == '\\' || c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

namespace {

using namespace internal;

void parse_data(Ctx& ctx, const YAML::Node& n, DataSpec& d) {
  if (!expect_map(ctx, n, "data")) return;
  Reader r{ctx, n, "data"};
  r.string("root", d.root);
  r.string("layout", d.layout, {"folders", "csv"});
  r.string("manifest", d.manifest);
  r.integer("image_size", d.image_size, 32, 4096);
  r.boolean("keep_aspect", d.keep_aspect);
  r.boolean("clahe", d.clahe);
  r.string("window", d.window, {"minmax", "percentile"});
  r.real("val_fraction", d.val_fraction, open_open(0, 1));
  r.real("test_fraction", d.test_fraction, closed_open(0, 1));
  r.string("leakage", d.leakage, {"error", "warn", "ignore"});
  r.string("on_bad_image", d.on_bad_image, {"error", "skip"});
  r.reals("mean", d.mean, 3, -1e9);
  r.reals("std", d.std, 3, 0);
  if (YAML::Node splits = r.get("splits")) {
    if (expect_map(ctx, splits, "data.splits")) {
      Reader s{ctx, splits, "data.splits"};
      s.string("train", d.train_split);
      s.string("val", d.val_split);
      s.string("test", d.test_split);
      s.finish();
    }
  }
  if (YAML::Node cm = r.get("class_map")) {
    if (expect_map(ctx, cm, "data.class_map")) {
      std::set<int> seen;
      for (const auto& kv : cm) {
        Value v = kv.second.IsScalar() ? infer(kv.second) : Value{std::string()};
        if (!std::holds_alternative<std::int64_t>(v) ||
            (std::get<std::int64_t>(v) != 0 && std::get<std::int64_t>(v) != 1)) {
          ctx.error(kv.second,
                    fmt::format("data.class_map['{}'] expects 0 (benign) or 1 (malignant), got {}",
                                kv.first.Scalar(), describe(kv.second)));
          continue;
        }
        d.class_map[kv.first.Scalar()] = static_cast<int>(std::get<std::int64_t>(v));
        seen.insert(static_cast<int>(std::get<std::int64_t>(v)));
      }
      if (seen.size() == 1) {
        ctx.error(cm, "data.class_map must map at least one name to 0 and one to 1");
      }
    }
  }
  r.finish();
  if (d.layout == "csv" && d.manifest.empty() && n["layout"]) {
    ctx.error(n["layout"], "data.layout csv needs data.manifest: the CSV file's path");
  }
}

void parse_training(Ctx& ctx, const YAML::Node& n, TrainingParams& t) {
  if (!expect_map(ctx, n, "training")) return;
  walk_params(ctx, n, "", "training", {},
              [&](const ParamDef& def, const YAML::Node&, const YAML::Node& value) {
                if (auto v = param_value(ctx, def, value)) def.set(t, *v);
              });
}

void parse_variants(Ctx& ctx, const YAML::Node& n, SweepSpec& spec) {
  if (!n.IsSequence() || n.size() == 0) {
    ctx.error(n, fmt::format("variants expects a non-empty list of named trials, got {}",
                             n.IsSequence() ? "an empty list" : describe(n)));
    return;
  }
  std::map<std::string, int> first_line;
  for (const auto& item : n) {
    if (!expect_map(ctx, item, "each variant")) continue;
    Variant v;
    YAML::Node name = item["name"];
    if (!name || !name.IsScalar() || name.Scalar().empty()) {
      ctx.error(item, "each variant needs a name: (a string)");
    } else if (!is_safe_name(name.Scalar())) {
      ctx.error(name, fmt::format("variant name '{}' is not allowed: names must not be empty, "
                                  "start with '.', or contain '/', '\\' or '..'",
                                  name.Scalar()));
    } else if (auto it = first_line.find(name.Scalar()); it != first_line.end()) {
      ctx.error(name, fmt::format("duplicate variant name '{}' (first used on line {})",
                                  name.Scalar(), it->second));
    } else {
      first_line[name.Scalar()] = name.Mark().line + 1;
      v.name = name.Scalar();
    }
    walk_params(ctx, item, "", "variant '" + v.name + "'", {"name"},
                [&](const ParamDef& def, const YAML::Node&, const YAML::Node& value) {
                  if (auto val = param_value(ctx, def, value)) v.overrides[def.name] = *val;
                });
    spec.variants.push_back(std::move(v));
  }
}

// selection.threshold: a number in [0, 1], youden, sensitivity@X or specificity@X (0 < X < 1).
void parse_threshold(Ctx& ctx, const YAML::Node& n, ThresholdRule& t) {
  static const char* const expected =
      "a number in [0, 1], youden, sensitivity@X or specificity@X with 0 < X < 1";
  static const std::regex number_re("[-+]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][-+]?[0-9]+)?");
  if (!n.IsScalar()) {
    ctx.error(n, fmt::format("selection.threshold expects {}, got {}", expected, describe(n)));
    return;
  }
  const std::string v = n.Scalar();
  if (std::regex_match(v, number_re)) {
    const double d = std::strtod(v.c_str(), nullptr);
    if (!(d >= 0.0 && d <= 1.0)) {
      ctx.error(n, fmt::format("selection.threshold expects {}, got {}", expected, describe(n)));
      return;
    }
    t.kind = ThresholdRule::Kind::fixed;
    t.value = d;
    return;
  }
  if (v == "youden") {
    t.kind = ThresholdRule::Kind::youden;
    return;
  }
  const std::size_t at = v.find('@');
  const std::string name = v.substr(0, at);
  if (at != std::string::npos && (name == "sensitivity" || name == "specificity")) {
    const std::string x = v.substr(at + 1);
    const double d = std::regex_match(x, number_re) ? std::strtod(x.c_str(), nullptr) : -1.0;
    if (!(d > 0.0 && d < 1.0)) {
      ctx.error(n, fmt::format("selection.threshold {}@X expects a target rate X with 0 < X < 1, "
                               "got '{}'",
                               name, x));
      return;
    }
    t.kind = name == "sensitivity" ? ThresholdRule::Kind::sensitivity
                                   : ThresholdRule::Kind::specificity;
    t.value = d;
    return;
  }
  std::string msg = fmt::format("selection.threshold expects {}, got {}", expected, describe(n));
  if (std::string s = did_you_mean(name, {"youden", "sensitivity", "specificity"}); !s.empty()) {
    msg += fmt::format(" (did you mean '{}'?)",
                       s + (at == std::string::npos ? std::string() : v.substr(at)));
  }
  ctx.error(n, msg);
}

// selection: {rule: best | one_se, alpha: (0, 0.5), threshold: see parse_threshold}.
/// checkpoints: {keep_top_trials: K | all, keep: best | last | best_and_last}
void parse_checkpoints(Ctx& ctx, const YAML::Node& n, CheckpointPolicy& c) {
  Reader r{ctx, n, "checkpoints"};
  if (YAML::Node k = r.get("keep_top_trials")) {
    const Value v = k.IsScalar() ? infer(k) : Value{std::string()};
    const auto* top = std::get_if<std::int64_t>(&v);
    if (k.IsScalar() && k.Scalar() == "all") {
      c.keep_top_trials.reset();
    } else if (top && *top >= 1 && *top <= 1000000) {
      c.keep_top_trials = static_cast<int>(*top);
    } else {
      ctx.error(k, "checkpoints.keep_top_trials expects an integer >= 1, or all (keep every "
                   "trial's weights), got " + describe(k));
    }
  }
  std::string keep = to_string(c.keep);
  r.string("keep", keep, {"best", "last", "best_and_last"});
  c.keep = keep_from_string(keep).value_or(c.keep);  // r.string reported any other text
  r.finish();
}

void parse_selection(Ctx& ctx, const YAML::Node& n, SelectionSpec& s) {
  if (!expect_map(ctx, n, "selection")) return;
  Reader r{ctx, n, "selection"};
  if (YAML::Node rule = r.get("rule")) {
    const std::string v = rule.IsScalar() ? rule.Scalar() : std::string();
    if (v == "best") {
      s.rule = SelectionSpec::Rule::best;
    } else if (v == "one_se") {
      s.rule = SelectionSpec::Rule::one_se;
    } else {
      std::string msg = "selection.rule expects best or one_se, got " + describe(rule);
      if (std::string dm = did_you_mean(v, {"best", "one_se"}); !dm.empty() && rule.IsScalar()) {
        msg += fmt::format(" (did you mean '{}'?)", dm);
      }
      ctx.error(rule, msg);
    }
  }
  r.real("alpha", s.alpha, open_open(0, 0.5));
  if (YAML::Node t = r.get("threshold")) parse_threshold(ctx, t, s.threshold);
  r.finish();
}

std::uint64_t grid_size(const SweepSpec& spec) {
  std::uint64_t size = 1;
  for (const auto& [name, dom] : spec.parameters) {
    size *= std::max<std::size_t>(1, dom.values.size());
    if (size > (1ULL << 40)) break;
  }
  return size;
}

}  // namespace

SweepSpec parse_spec(const std::string& text, const std::string& file) {
  Ctx ctx(file);
  SweepSpec spec;
  spec.source_path = file;
  spec.source_text = text;
  spec.effective_text = text;
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    ctx.error(e.mark, "invalid YAML: " + e.msg);
    throw SpecError(ctx.diagnostics());
  }
  if (!root.IsMap()) {
    ctx.error(root, "a sweep spec must be a mapping with at least name:, data: and "
                    "training:, got " + describe(root));
    throw SpecError(ctx.diagnostics());
  }

  Reader top{ctx, root, "the spec"};
  top.string("name", spec.name);
  top.get("description");
  if (YAML::Node seed = top.get("seed")) {
    Value v = seed.IsScalar() ? infer(seed) : Value{std::string()};
    if (!std::holds_alternative<std::int64_t>(v) || std::get<std::int64_t>(v) < 0) {
      ctx.error(seed, "seed expects a non-negative integer, got " + describe(seed));
    } else {
      spec.seed = static_cast<std::uint64_t>(std::get<std::int64_t>(v));
    }
  }
  const SpecStyle style = detect_style(root);
  std::string method = "variants";
  bool method_known = true;  // false: the method's own rules below would only add noise
  YAML::Node method_node = top.get("method");
  if (method_node && method_node.IsScalar() && method_node.Scalar() == "custom") {
    ctx.error(method_node, "method custom (W&B's scheduler engines) is not supported; use "
                           "grid, random or bayes");
    method_known = false;
  } else {
    top.string("method", method, {"grid", "random", "variants", "bayes"});
  }
  spec.method = method == "grid"     ? Method::grid
                : method == "random" ? Method::random
                : method == "bayes"  ? Method::bayes
                                     : Method::variants;
  int max_trials = -1;
  top.integer("max_trials", max_trials, 1);
  if (max_trials > 0) spec.max_trials = max_trials;
  YAML::Node startup_node = top.get("n_startup_trials");
  top.integer("n_startup_trials", spec.n_startup_trials, 0);
  if (YAML::Node m = top.get("metric"); m && expect_map(ctx, m, "metric")) {
    Reader r{ctx, m, "metric"};
    r.string("name", spec.metric.name,
             {"val_auc", "val_accuracy", "val_loss", "val_f1", "val_precision", "val_recall",
              "val_specificity"});
    std::string goal = spec.metric.name == "val_loss" ? "minimize" : "maximize";
    if (style.wandb && !m["goal"] && goal == "maximize") {
      // W&B's default goal is minimize; mammosweep's for this metric is maximize.
      ctx.error(m, fmt::format("metric.goal is required in a W&B sweep file for {}: W&B's "
                               "default is minimize, mammosweep's for {} is maximize; write "
                               "goal: maximize (or minimize)",
                               spec.metric.name, spec.metric.name));
    }
    r.string("goal", goal, {"maximize", "minimize"});
    spec.metric.goal = goal == "minimize" ? Goal::minimize : Goal::maximize;
    if (YAML::Node t = r.get("target")) {
      const Value v = t.IsScalar() ? infer(t) : Value{std::string()};
      if (const auto* d = std::get_if<double>(&v); d && std::isfinite(*d)) {
        spec.metric.target = *d;
      } else if (const auto* i = std::get_if<std::int64_t>(&v)) {
        spec.metric.target = static_cast<double>(*i);
      } else {
        ctx.error(t, "metric.target expects a number (the sweep starts no new trial once a "
                     "trial reaches it), got " + describe(t));
      }
    }
    for (const char* key : {"impute", "impute_while_running"}) {
      if (YAML::Node i = r.get(key)) {
        ctx.note(i, fmt::format("metric.{} is used by W&B's bayes search only; mammosweep "
                                "ignores it",
                                key));
      }
    }
    r.finish();
  }
  YAML::Node selection = top.get("selection");
  if (selection) parse_selection(ctx, selection, spec.selection);
  if (YAML::Node d = top.get("data")) parse_data(ctx, d, spec.data);
  if (YAML::Node t = top.get("training")) parse_training(ctx, t, spec.training);
  YAML::Node params = top.get("parameters");
  if (params) parse_parameters(ctx, params, spec, style);
  YAML::Node variants = top.get("variants");
  if (variants) parse_variants(ctx, variants, spec);
  if (YAML::Node r = top.get("resources"); r && expect_map(ctx, r, "resources")) {
    Reader rr{ctx, r, "resources"};
    rr.integer("replicas", spec.resources.replicas, 1, 4096);
    rr.gpu_share("gpus", spec.resources.gpus);
    rr.integer("threads", spec.resources.threads, 0, 4096);
    rr.boolean("lend_idle_threads", spec.resources.lend_idle_threads);
    rr.finish();
  }
  if (YAML::Node e = top.get("early_stopping"); e && expect_map(ctx, e, "early_stopping")) {
    Reader r{ctx, e, "early_stopping"};
    r.string("policy", spec.early_stopping.policy, {"fifo", "median", "asha"});
    r.string("metric", spec.early_stopping.metric,
             {"val_auc", "val_accuracy", "val_loss", "val_f1", "val_precision", "val_recall",
              "val_specificity"});
    r.integer("grace_epochs", spec.early_stopping.grace_epochs, 0);
    r.real("reduction_factor", spec.early_stopping.reduction_factor, open_closed(1, 1e6));
    r.integer("min_trials", spec.early_stopping.min_trials, 1);
    if (YAML::Node rungs = r.get("rungs")) {
      std::vector<int> list;
      for (std::size_t i = 0; rungs.IsSequence() && i < rungs.size(); ++i) {
        const Value v = rungs[i].IsScalar() ? infer(rungs[i]) : Value{std::string()};
        const auto* epoch = std::get_if<std::int64_t>(&v);
        if (!epoch || *epoch < 1 || *epoch > 1000000 || (!list.empty() && *epoch <= list.back())) {
          list.clear();
          break;
        }
        list.push_back(static_cast<int>(*epoch));
      }
      if (list.empty()) {
        ctx.error(rungs, "early_stopping.rungs expects a non-empty list of increasing epochs "
                         ">= 1, got " + describe(rungs));
      } else if (spec.early_stopping.policy != "asha") {
        ctx.error(rungs, "early_stopping.rungs is used by policy asha only");
      } else {
        spec.early_stopping.rungs = list;
      }
    }
    r.finish();
  }
  parse_wandb_keys(ctx, top, root, spec, style);
  top.integer("retries", spec.retries, 0, 100);
  if (YAML::Node c = top.get("checkpoints"); c && expect_map(ctx, c, "checkpoints")) {
    parse_checkpoints(ctx, c, spec.checkpoints);
  }
  if (YAML::Node s = top.get("slurm"); s && expect_map(ctx, s, "slurm")) {
    Reader r{ctx, s, "slurm"};
    r.string("partition", spec.slurm.partition);
    r.string("account", spec.slurm.account);
    r.string("qos", spec.slurm.qos);
    r.string("time", spec.slurm.time);
    static const std::regex time_re("([0-9]+-)?[0-9]+(:[0-9]{2}){0,2}");
    if (s["time"] && s["time"].IsScalar() && !std::regex_match(spec.slurm.time, time_re)) {
      ctx.error(s["time"], "slurm.time expects HH:MM:SS, MM, or D-HH:MM:SS, got " +
                               describe(s["time"]));
    }
    r.integer("nodes", spec.slurm.nodes, 1);
    r.integer("ntasks_per_node", spec.slurm.ntasks_per_node, 1);
    r.integer("gpus_per_node", spec.slurm.gpus_per_node, 0);
    r.integer("cpus_per_task", spec.slurm.cpus_per_task, 1);
    r.integer("signal_grace", spec.slurm.signal_grace, 1);
    r.integer("max_requeues", spec.slurm.max_requeues, 0);
    r.integer("max_relaunches", spec.slurm.max_relaunches, 0);
    r.finish();
  }
  top.finish();

  // Cross-field rules.
  if (spec.name.empty() && style.wandb && !root["name"]) {
    // W&B's name is optional; mammosweep's reports need one: the file's name.
    std::string stem = file.substr(file.find_last_of('/') + 1);
    stem = stem.substr(0, stem.find('.'));
    for (char& c : stem) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') c = '_';
    }
    spec.name = stem.empty() || stem.front() == '_' ? "wandb-sweep" : stem;
    ctx.note(root, fmt::format("no name: in this W&B sweep file; the sweep is named '{}'",
                               spec.name));
  }
  if (spec.name.empty()) {
    ctx.error(root, "the spec needs a name: (used in reports; not a path)");
  } else if (!is_safe_name(spec.name)) {
    ctx.error(root["name"], fmt::format("name '{}' is not allowed: names must not start with "
                                        "'.', or contain '/', '\\' or '..'",
                                        spec.name));
  }
  if (!method_known) {
    // reported above
  } else if (spec.method == Method::variants) {
    if (!variants) ctx.error(root, "method variants needs a variants: list of named trials");
    if (params) {
      ctx.error(params, "parameters: is not used with method variants; put the values in "
                        "each variant, or use method grid or random");
    }
  } else {
    if (variants) {
      ctx.error(variants, fmt::format("variants: is only used with method variants, but "
                                      "method is {}",
                                      method));
    }
    if (!params) ctx.error(root, fmt::format("method {} needs a parameters: mapping", method));
  }
  if (method_known && (spec.method == Method::random || spec.method == Method::bayes) &&
      !spec.max_trials && !spec.run_cap) {
    ctx.error(method_node ? method_node : root,
              fmt::format("method {} needs max_trials: (how many trials to {}), or W&B's run_cap:",
                          method, spec.method == Method::bayes ? "propose" : "draw"));
  }
  if (startup_node && spec.method != Method::bayes) {
    ctx.error(startup_node, fmt::format("n_startup_trials: is only used with method bayes, but "
                                        "method is {}",
                                        method));
  }
  if (spec.method == Method::bayes && params) {
    bool searched = false;
    for (const auto& [name, dom] : spec.parameters) {
      searched |= dom.kind != Domain::Kind::value;
      const std::string how = search_note(name, dom);
      if (!how.empty()) ctx.note_at(dom.line, dom.column, fmt::format("parameters.{}: {}", name, how));
    }
    if (!searched && ctx.diagnostics().empty()) {  // else a parameter in error may be searched
      ctx.error(params, "method bayes needs at least one parameter to search (a distribution "
                        "or a values: list)");
    }
  }
  if (spec.method == Method::grid) {
    for (const auto& [name, dom] : spec.parameters) {
      if (dom.kind != Domain::Kind::value && dom.kind != Domain::Kind::values) {
        ctx.error_at(dom.line, dom.column,
                     fmt::format("parameters.{}: method grid needs value: or values:, not a "
                                 "distribution (int_uniform and q_uniform are enumerated, as "
                                 "in W&B's grid)",
                                 name));
      }
    }
    std::uint64_t size = grid_size(spec);
    if (spec.run_cap) size = std::min<std::uint64_t>(size, static_cast<std::uint64_t>(*spec.run_cap));
    std::uint64_t cap = spec.max_trials ? static_cast<std::uint64_t>(*spec.max_trials)
                                        : static_cast<std::uint64_t>(kGridCap);
    if (size > cap) {
      ctx.error(params ? params : root,
                spec.max_trials
                    ? fmt::format("the grid expands to {} trials, more than max_trials {}",
                                  size, *spec.max_trials)
                    : fmt::format("the grid expands to {} trials, more than the cap of {}; "
                                  "set max_trials: {} to allow it",
                                  size, kGridCap, size));
    }
  }
  // one_se compares trials with the best one: refuse a spec that can only give one trial.
  // Checked last, on an otherwise valid spec, because it expands the trials.
  if (spec.selection.rule == SelectionSpec::Rule::one_se && ctx.diagnostics().empty()) {
    std::size_t trials = 2;
    try {
      trials = spec.method == Method::bayes ? static_cast<std::size_t>(trial_budget(spec))
                                            : expand(spec).size();
    } catch (const std::exception&) {
      // expansion problems are not this rule's to report
    }
    if (trials < 2) {
      const YAML::Node& sel = selection;
      ctx.error(sel["rule"], fmt::format("selection.rule one_se picks among the trials that are "
                                         "not significantly worse than the best one, but this "
                                         "spec expands to {} trial; use rule: best, or add "
                                         "trials",
                                         trials));
    }
  }
  if (!ctx.diagnostics().empty()) throw SpecError(ctx.diagnostics());
  spec.notes = std::move(ctx.notes());
  return spec;
}

SweepSpec load_spec(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw SpecError({{path, 0, 0, fmt::format("cannot read the spec: {}", std::strerror(errno))}});
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse_spec(text.str(), path);
}

}  // namespace mammosweep::sweeps
