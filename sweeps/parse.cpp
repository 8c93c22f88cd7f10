#include "sweeps/parse.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

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

/// Collects diagnostics while walking the YAML tree.
class Ctx {
 public:
  explicit Ctx(std::string file) : file_(std::move(file)) {}

  void error(const YAML::Mark& m, std::string message) {
    diags_.push_back({file_, m.is_null() ? 0 : m.line + 1, m.is_null() ? 0 : m.column + 1,
                      std::move(message)});
  }
  void error(const YAML::Node& n, std::string message) { error(n.Mark(), std::move(message)); }
  void error_at(int line, int column, std::string message) {
    diags_.push_back({file_, line, column, std::move(message)});
  }
  std::vector<Diagnostic>& diagnostics() { return diags_; }

 private:
  std::string file_;
  std::vector<Diagnostic> diags_;
};


bool is_quoted(const YAML::Node& n) { return n.Tag() == "!"; }

/// A plain YAML scalar as the most specific Value (bool, integer, real, string).
Value infer(const YAML::Node& n) {
  const std::string& s = n.Scalar();
  if (is_quoted(n)) return s;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  static const std::regex int_re("[-+]?[0-9]+");
  static const std::regex real_re(
      "[-+]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][-+]?[0-9]+)?");
  if (std::regex_match(s, int_re)) {
    errno = 0;
    long long v = std::strtoll(s.c_str(), nullptr, 10);
    if (errno == 0) return static_cast<std::int64_t>(v);
  }
  if (std::regex_match(s, real_re)) return std::strtod(s.c_str(), nullptr);
  return s;
}

/// The value of `n` for parameter `def`, or nullopt after reporting why not.
std::optional<Value> param_value(Ctx& ctx, const ParamDef& def, const YAML::Node& n) {
  if (!n.IsScalar()) {
    ctx.error(n, fmt::format("'{}' expects {}, got {}", def.name, def.expected(), describe(n)));
    return std::nullopt;
  }
  Value v = def.type == ParamType::string ? Value{n.Scalar()} : infer(n);
  if (def.type == ParamType::real && std::holds_alternative<std::int64_t>(v)) {
    v = static_cast<double>(std::get<std::int64_t>(v));
  }
  if (std::string expected = def.check(v); !expected.empty()) {
    ctx.error(n, fmt::format("'{}' expects {}, got {}", def.name, expected, describe(n)));
    return std::nullopt;
  }
  return v;
}

std::vector<std::string> param_names() {
  std::vector<std::string> names;
  for (const auto& d : param_defs()) names.push_back(d.name);
  return names;
}

/// Reports an unknown key with a suggestion.
void unknown_key(Ctx& ctx, const YAML::Node& key, const std::string& section,
                 const std::vector<std::string>& allowed) {
  std::string name = key.Scalar();
  std::string msg = fmt::format("unknown key '{}' in {}", name, section);
  if (std::string s = did_you_mean(name, allowed); !s.empty()) {
    msg += fmt::format(" (did you mean '{}'?)", s);
  } else {
    std::string list;
    for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
    msg += "; expected one of: " + list;
  }
  ctx.error(key, msg);
}

bool expect_map(Ctx& ctx, const YAML::Node& n, const std::string& what) {
  if (n.IsMap()) return true;
  ctx.error(n, fmt::format("{} must be a mapping of key: value, got {}", what, describe(n)));
  return false;
}

/// Flattens a mapping of parameters (nested "augmentation:" maps become dotted names) and
/// hands each (name, key node, value node) to `fn`.
template <class Fn>
void walk_params(Ctx& ctx, const YAML::Node& map, const std::string& prefix,
                 const std::string& section, const std::set<std::string>& skip, Fn fn) {
  for (const auto& kv : map) {
    std::string name = prefix + kv.first.Scalar();
    if (prefix.empty() && skip.count(name)) continue;
    if (kv.second.IsMap() && !find_param(name)) {
      bool is_group = false;
      for (const auto& d : param_defs()) is_group |= d.name.rfind(name + ".", 0) == 0;
      if (is_group) {
        walk_params(ctx, kv.second, name + ".", section, skip, fn);
        continue;
      }
    }
    if (!find_param(name)) {
      YAML::Node key = kv.first;
      std::vector<std::string> allowed = param_names();
      if (prefix.empty()) allowed.insert(allowed.end(), skip.begin(), skip.end());
      std::string msg = fmt::format("unknown parameter '{}' in {}", name, section);
      if (std::string s = did_you_mean(name, allowed); !s.empty()) {
        msg += fmt::format(" (did you mean '{}'?)", s);
      } else {
        msg += "; see docs/sweep-spec.md for the parameter list";
      }
      ctx.error(key, msg);
      continue;
    }
    fn(*find_param(name), kv.first, kv.second);
  }
}

// --- typed readers for the fixed sections ------------------------------------------------

struct Reader {
  Ctx& ctx;
  const YAML::Node& map;
  std::string section;
  std::vector<std::string> allowed;

  // Reports unknown keys once all reads were declared through `allowed`.
  void finish() {
    for (const auto& kv : map) {
      if (std::find(allowed.begin(), allowed.end(), kv.first.Scalar()) == allowed.end()) {
        unknown_key(ctx, kv.first, section, allowed);
      }
    }
  }

  YAML::Node get(const std::string& key) {
    allowed.push_back(key);
    return map[key];
  }

  void integer(const std::string& key, int& out, long long min, long long max = 1LL << 40) {
    YAML::Node n = get(key);
    if (!n) return;
    Value v = n.IsScalar() ? infer(n) : Value{std::string()};
    if (!std::holds_alternative<std::int64_t>(v) || std::get<std::int64_t>(v) < min ||
        std::get<std::int64_t>(v) > max) {
      std::string range = max == (1LL << 40) ? fmt::format(">= {}", min)
                                              : fmt::format("in [{}, {}]", min, max);
      ctx.error(n, fmt::format("{}.{} expects an integer {}, got {}", section, key, range,
                               describe(n)));
      return;
    }
    out = static_cast<int>(std::get<std::int64_t>(v));
  }

  /// `range` has both ends (closed(...), open_open(...), closed_open(...), open_closed(...)).
  void real(const std::string& key, double& out, const Interval& range) {
    YAML::Node n = get(key);
    if (!n) return;
    Value v = n.IsScalar() ? infer(n) : Value{std::string()};
    double d = std::holds_alternative<double>(v) ? std::get<double>(v)
               : std::holds_alternative<std::int64_t>(v)
                   ? static_cast<double>(std::get<std::int64_t>(v))
                   : std::nan("");
    const double min = range.min.value(), max = range.max.value();
    bool ok = std::isfinite(d) && (range.min_exclusive ? d > min : d >= min) &&
              (range.max_exclusive ? d < max : d <= max);
    if (!ok) {
      ctx.error(n, fmt::format("{}.{} expects a number in {}{}, {}{}, got {}", section, key,
                               range.min_exclusive ? "(" : "[", min, max,
                               range.max_exclusive ? ")" : "]", describe(n)));
      return;
    }
    out = d;
  }

  /// 0, 1 or 1/n for an integer n in [2, 64] (written to 0.5% precision: 0.333 is 1/3);
  /// `out` gets the exact 0, 1 or 1/n.
  void gpu_share(const std::string& key, double& out) {
    YAML::Node n = get(key);
    if (!n) return;
    Value v = n.IsScalar() ? infer(n) : Value{std::string()};
    const double d = std::holds_alternative<double>(v) ? std::get<double>(v)
                     : std::holds_alternative<std::int64_t>(v)
                         ? static_cast<double>(std::get<std::int64_t>(v))
                         : std::nan("");
    const double parts = d > 0 ? std::round(1.0 / d) : 0;
    if (d == 0 || (parts >= 1 && parts <= 64 && std::fabs(d * parts - 1.0) <= 0.005)) {
      out = d == 0 ? 0.0 : 1.0 / parts;
      return;
    }
    const std::string why = d > 1 ? " (a rank drives one GPU: use resources.replicas for more "
                                    "GPUs per trial)"
                                  : "";
    ctx.error(n, fmt::format("{}.{} expects 0, 1 or a share 1/n of one GPU (0.5, 0.25, 0.125, "
                             "..., n <= 64), got {}{}",
                             section, key, describe(n), why));
  }

  void boolean(const std::string& key, bool& out) {
    YAML::Node n = get(key);
    if (!n) return;
    Value v = n.IsScalar() ? infer(n) : Value{std::string()};
    if (!std::holds_alternative<bool>(v)) {
      ctx.error(n, fmt::format("{}.{} expects true or false, got {}", section, key, describe(n)));
      return;
    }
    out = std::get<bool>(v);
  }

  void string(const std::string& key, std::string& out,
              const std::vector<std::string>& choices = {}) {
    YAML::Node n = get(key);
    if (!n) return;
    if (!n.IsScalar()) {
      ctx.error(n, fmt::format("{}.{} expects a string, got {}", section, key, describe(n)));
      return;
    }
    if (!choices.empty() &&
        std::find(choices.begin(), choices.end(), n.Scalar()) == choices.end()) {
      std::string list;
      for (const auto& c : choices) list += (list.empty() ? "" : ", ") + c;
      ctx.error(n, fmt::format("{}.{} expects one of {}, got {}", section, key, list,
                               describe(n)));
      return;
    }
    out = n.Scalar();
  }

  void reals(const std::string& key, std::vector<double>& out, std::size_t count, double min_excl) {
    YAML::Node n = get(key);
    if (!n) return;
    std::vector<double> vals;
    if (n.IsSequence() && n.size() == count) {
      for (const auto& e : n) {
        Value v = e.IsScalar() ? infer(e) : Value{std::string()};
        double d = std::holds_alternative<double>(v) ? std::get<double>(v)
                   : std::holds_alternative<std::int64_t>(v)
                       ? static_cast<double>(std::get<std::int64_t>(v))
                       : std::nan("");
        if (!(d > min_excl)) break;
        vals.push_back(d);
      }
    }
    if (vals.size() != count) {
      ctx.error(n, fmt::format("{}.{} expects a list of {} numbers > {}, got {}", section, key,
                               count, min_excl, describe(n)));
      return;
    }
    out = vals;
  }
};

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

void parse_domain(Ctx& ctx, const ParamDef& def, const YAML::Node& key, const YAML::Node& n,
                  Domain& dom) {
  dom.line = key.Mark().line + 1;
  dom.column = key.Mark().column + 1;
  if (!n.IsMap()) {
    ctx.error(n, fmt::format("parameters.{} expects a mapping with value:, values: or "
                             "distribution:, got {}",
                             def.name, describe(n)));
    return;
  }
  Reader r{ctx, n, "parameters." + def.name};
  YAML::Node value = r.get("value"), values = r.get("values"), dist = r.get("distribution");
  YAML::Node mn = r.get("min"), mx = r.get("max");
  r.finish();
  int given = !!value + !!values + !!dist;
  if (given != 1) {
    ctx.error(key, fmt::format("parameters.{} needs exactly one of value:, values: or "
                               "distribution:",
                               def.name));
    return;
  }
  if (value) {
    dom.kind = Domain::Kind::value;
    if (auto v = param_value(ctx, def, value)) dom.values.push_back(*v);
    return;
  }
  if (values) {
    dom.kind = Domain::Kind::values;
    if (!values.IsSequence() || values.size() == 0) {
      ctx.error(values, fmt::format("parameters.{}.values expects a non-empty list, got {}",
                                    def.name, values.IsSequence() ? "an empty list"
                                                                  : describe(values)));
      return;
    }
    for (const auto& e : values) {
      if (auto v = param_value(ctx, def, e)) dom.values.push_back(*v);
    }
    return;
  }
  const std::string kind = dist.IsScalar() ? dist.Scalar() : "";
  static const std::vector<std::string> kinds{"uniform", "log_uniform", "int_uniform",
                                              "categorical"};
  if (kind == "categorical") {
    ctx.error(dist, fmt::format("parameters.{}: distribution categorical takes its choices "
                                "from values:; write values: [...] instead",
                                def.name));
    return;
  }
  if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end()) {
    ctx.error(dist, fmt::format("parameters.{}.distribution expects one of uniform, "
                                "log_uniform, int_uniform or categorical, got {}",
                                def.name, describe(dist)));
    return;
  }
  dom.kind = kind == "uniform"       ? Domain::Kind::uniform
             : kind == "log_uniform" ? Domain::Kind::log_uniform
                                     : Domain::Kind::int_uniform;
  bool numeric = def.type == ParamType::real ||
                 (def.type == ParamType::integer && dom.kind == Domain::Kind::int_uniform);
  if (!numeric) {
    ctx.error(dist, fmt::format("parameters.{} is {}; distribution {} does not fit it",
                                def.name, to_string(def.type), kind));
    return;
  }
  if (!mn || !mx) {
    ctx.error(dist, fmt::format("parameters.{}: distribution {} needs min: and max:", def.name,
                                kind));
    return;
  }
  auto bound = [&](const YAML::Node& b) -> std::optional<double> {
    auto v = param_value(ctx, def, b);
    if (!v) return std::nullopt;
    return std::holds_alternative<double>(*v) ? std::get<double>(*v)
                                              : static_cast<double>(std::get<std::int64_t>(*v));
  };
  auto lo = bound(mn), hi = bound(mx);
  if (!lo || !hi) return;
  if (!(*lo < *hi)) {
    ctx.error(mx, fmt::format("parameters.{}: max ({}) must be greater than min ({})", def.name,
                              *hi, *lo));
    return;
  }
  if (dom.kind == Domain::Kind::log_uniform && *lo <= 0) {
    ctx.error(mn, fmt::format("parameters.{}: log_uniform needs min > 0, got {}", def.name, *lo));
    return;
  }
  if (dom.kind == Domain::Kind::int_uniform && std::ceil(*lo) > std::floor(*hi)) {
    ctx.error(mx, fmt::format("parameters.{}: int_uniform needs an integer between min ({}) and "
                              "max ({})",
                              def.name, *lo, *hi));
    return;
  }
  dom.min = *lo;
  dom.max = *hi;
}

void parse_parameters(Ctx& ctx, const YAML::Node& n, SweepSpec& spec) {
  if (!expect_map(ctx, n, "parameters")) return;
  walk_params(ctx, n, "", "parameters", {},
              [&](const ParamDef& def, const YAML::Node& key, const YAML::Node& value) {
                Domain dom;
                parse_domain(ctx, def, key, value, dom);
                spec.parameters.emplace_back(def.name, std::move(dom));
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
  std::string method = "variants";
  YAML::Node method_node = top.get("method");
  top.string("method", method, {"grid", "random", "variants", "bayes"});
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
    r.string("goal", goal, {"maximize", "minimize"});
    spec.metric.goal = goal == "minimize" ? Goal::minimize : Goal::maximize;
    r.finish();
  }
  YAML::Node selection = top.get("selection");
  if (selection) parse_selection(ctx, selection, spec.selection);
  if (YAML::Node d = top.get("data")) parse_data(ctx, d, spec.data);
  if (YAML::Node t = top.get("training")) parse_training(ctx, t, spec.training);
  YAML::Node params = top.get("parameters");
  if (params) parse_parameters(ctx, params, spec);
  YAML::Node variants = top.get("variants");
  if (variants) parse_variants(ctx, variants, spec);
  if (YAML::Node r = top.get("resources"); r && expect_map(ctx, r, "resources")) {
    Reader rr{ctx, r, "resources"};
    rr.integer("replicas", spec.resources.replicas, 1, 4096);
    rr.gpu_share("gpus", spec.resources.gpus);
    rr.integer("threads", spec.resources.threads, 0, 4096);
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
    r.finish();
  }
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
    r.finish();
  }
  top.finish();

  // Cross-field rules.
  if (spec.name.empty()) {
    ctx.error(root, "the spec needs a name: (used in reports; not a path)");
  } else if (!is_safe_name(spec.name)) {
    ctx.error(root["name"], fmt::format("name '{}' is not allowed: names must not start with "
                                        "'.', or contain '/', '\\' or '..'",
                                        spec.name));
  }
  if (spec.method == Method::variants) {
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
  if ((spec.method == Method::random || spec.method == Method::bayes) && !spec.max_trials) {
    ctx.error(method_node ? method_node : root,
              fmt::format("method {} needs max_trials: (how many trials to {})", method,
                          spec.method == Method::bayes ? "propose" : "draw"));
  }
  if (startup_node && spec.method != Method::bayes) {
    ctx.error(startup_node, fmt::format("n_startup_trials: is only used with method bayes, but "
                                        "method is {}",
                                        method));
  }
  if (spec.method == Method::bayes && params) {
    bool searched = false;
    for (const auto& [name, dom] : spec.parameters) searched |= dom.kind != Domain::Kind::value;
    if (!searched) {
      ctx.error(params, "method bayes needs at least one parameter to search (a distribution "
                        "or a values: list)");
    }
  }
  if (spec.method == Method::grid) {
    for (const auto& [name, dom] : spec.parameters) {
      if (dom.kind != Domain::Kind::value && dom.kind != Domain::Kind::values) {
        ctx.error_at(dom.line, dom.column,
                     fmt::format("parameters.{}: method grid needs value: or values:, not a "
                                 "distribution",
                                 name));
      }
    }
    std::uint64_t size = grid_size(spec);
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
      trials = spec.method == Method::bayes ? static_cast<std::size_t>(*spec.max_trials)
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
