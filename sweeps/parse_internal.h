#pragma once
// Internal to the sweeps library: the pieces of the spec parser that parse.cpp,
// parse_domain.cpp and wandb.cpp share (diagnostics, scalar inference, typed section readers).
// Nothing outside sweeps/ includes this.
#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "sweeps/params.h"
#include "sweeps/parse.h"
#include "sweeps/spec.h"
#include "sweeps/yaml_text.h"

namespace mammosweep::sweeps::internal {

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

  /// Something the user should know that is not an error ("file:line:col: note: ...").
  void note(const YAML::Node& n, const std::string& message) {
    const YAML::Mark m = n.Mark();
    notes_.push_back(m.is_null() ? fmt::format("{}: note: {}", file_, message)
                                 : fmt::format("{}:{}:{}: note: {}", file_, m.line + 1,
                                               m.column + 1, message));
  }
  void note_at(int line, int column, const std::string& message) {
    notes_.push_back(fmt::format("{}:{}:{}: note: {}", file_, line, column, message));
  }
  std::vector<std::string>& notes() { return notes_; }
  const std::string& file() const { return file_; }

 private:
  std::string file_;
  std::vector<Diagnostic> diags_;
  std::vector<std::string> notes_;
};


inline bool is_quoted(const YAML::Node& n) { return n.Tag() == "!"; }

/// A plain YAML scalar as the most specific Value (bool, integer, real, string).
inline Value infer(const YAML::Node& n) {
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
inline std::optional<Value> param_value(Ctx& ctx, const ParamDef& def, const YAML::Node& n) {
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

inline std::vector<std::string> param_names() {
  std::vector<std::string> names;
  for (const auto& d : param_defs()) names.push_back(d.name);
  return names;
}

/// Reports an unknown key with a suggestion.
inline void unknown_key(Ctx& ctx, const YAML::Node& key, const std::string& section,
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

inline bool expect_map(Ctx& ctx, const YAML::Node& n, const std::string& what) {
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
        // W&B nests a group's parameters one level deeper: {augmentation: {parameters: {...}}}.
        const YAML::Node group = kv.second;
        const YAML::Node nested = group.size() == 1 ? group["parameters"] : YAML::Node();
        const YAML::Node inner = nested && nested.IsMap() ? nested : group;
        walk_params(ctx, inner, name + ".", section, skip, fn);
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
  std::vector<std::string> allowed = {};

  // Reports unknown keys once all reads were declared through `allowed`.
  void finish() {
    for (const auto& kv : map) {
      if (std::find(allowed.begin(), allowed.end(), kv.first.Scalar()) == allowed.end()) {
        unknown_key(ctx, kv.first, section, allowed);
      }
    }
  }

  YAML::Node get(const std::string& key) {
    // A key read twice (peeked, then parsed) is listed once in "expected one of".
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) allowed.push_back(key);
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

/// Which meaning the file's keys have (docs/sweep-spec.md, "W&B sweep files").
struct SpecStyle {
  bool wandb = false;   // a W&B sweep file: log_uniform takes exponents, goal is required...
  std::string marker;   // the key that made it one ("program"), for notes and messages
  int line = 0, column = 0;
};

/// The style of a parsed document: W&B when it has a top-level key only W&B uses.
SpecStyle detect_style(const YAML::Node& root);

/// parameters: (parse_domain.cpp). Every domain is checked against its parameter's type and
/// range; for method grid, int_uniform and q_uniform become value lists (W&B's grid).
void parse_parameters(Ctx& ctx, const YAML::Node& n, SweepSpec& spec, const SpecStyle& style);

/// The W&B-only top-level keys (wandb.cpp): run_cap, early_terminate, and the keys only
/// W&B's server reads (program, command, entity, project, ...), each accepted with a note or
/// refused with a pointer. Declares every key it reads in `top`.
void parse_wandb_keys(Ctx& ctx, Reader& top, const YAML::Node& root, SweepSpec& spec,
                      const SpecStyle& style);

}  // namespace mammosweep::sweeps::internal
