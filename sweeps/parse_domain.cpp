// parameters: each entry's domain, with W&B's distributions (docs/sweep-spec.md, "Parameter
// domains"). Every W&B distribution becomes one Domain kind plus an optional rounding step q.
#include <cmath>
#include <map>

#include "sweeps/distributions.h"
#include "sweeps/parse_internal.h"

namespace mammosweep::sweeps::internal {

namespace {

/// The keys each distribution takes besides `distribution` (W&B's schema).
const std::map<std::string, std::vector<std::string>>& distribution_keys() {
  static const std::map<std::string, std::vector<std::string>> keys{
      {"constant", {"value"}},
      {"categorical", {"values"}},
      {"categorical_w_probabilities", {"values", "probabilities"}},
      {"int_uniform", {"min", "max"}},
      {"uniform", {"min", "max"}},
      {"q_uniform", {"min", "max", "q"}},
      {"log_uniform", {"min", "max"}},
      {"log_uniform_values", {"min", "max"}},
      {"q_log_uniform", {"min", "max", "q"}},
      {"q_log_uniform_values", {"min", "max", "q"}},
      {"inv_log_uniform", {"min", "max"}},
      {"inv_log_uniform_values", {"min", "max"}},
      {"normal", {"mu", "sigma"}},
      {"q_normal", {"mu", "sigma", "q"}},
      {"log_normal", {"mu", "sigma"}},
      {"q_log_normal", {"mu", "sigma", "q"}},
      {"beta", {"a", "b"}},
      {"q_beta", {"a", "b", "q"}},
  };
  return keys;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

std::optional<double> number(const YAML::Node& n) {
  if (!n.IsScalar()) return std::nullopt;
  const Value v = infer(n);
  if (const auto* d = std::get_if<double>(&v)) return *d;
  if (const auto* i = std::get_if<std::int64_t>(&v)) return static_cast<double>(*i);
  return std::nullopt;
}

bool is_integer(const YAML::Node& n) {
  return n.IsScalar() && std::holds_alternative<std::int64_t>(infer(n));
}

/// Probability that a normal(mu, sigma) draw lies in the parameter's range (log space for
/// log_normal): 1 when the range has no ends.
double mass_in_range(const ParamDef& def, const Domain& dom) {
  auto cdf = [&](double x) { return 0.5 * std::erfc(-(x - dom.mu) / (dom.sigma * std::sqrt(2.0))); };
  const bool log = dom.kind == Domain::Kind::log_normal;
  double lo = 0, hi = 1;
  if (def.range.min) {
    const double m = *def.range.min;
    lo = log ? (m <= 0 ? 0.0 : cdf(std::log(m))) : cdf(m);
  }
  if (def.range.max) {
    const double m = *def.range.max;
    hi = log ? (m <= 0 ? 0.0 : cdf(std::log(m))) : cdf(m);
  }
  return std::max(0.0, hi - lo);
}

std::string num(double v) { return fmt::format("{:.6g}", v); }

void parse_domain(Ctx& ctx, const ParamDef& def, const YAML::Node& key, const YAML::Node& n,
                  Domain& dom, const SpecStyle& style) {
  dom.line = key.Mark().line + 1;
  dom.column = key.Mark().column + 1;
  const std::string where = "parameters." + def.name;
  if (!n.IsMap()) {
    ctx.error(n, fmt::format("{} expects a mapping with value:, values: or distribution:, got {}",
                             where, describe(n)));
    return;
  }
  Reader r{ctx, n, where};
  const std::size_t errors_before = ctx.diagnostics().size();
  const YAML::Node value = r.get("value"), values = r.get("values"), dist = r.get("distribution");
  const YAML::Node probabilities = r.get("probabilities");
  const YAML::Node mn = r.get("min"), mx = r.get("max"), q = r.get("q");
  const YAML::Node mu = r.get("mu"), sigma = r.get("sigma"), a = r.get("a"), b = r.get("b");
  r.finish();
  if (ctx.diagnostics().size() > errors_before) return;  // an unknown key

  // Which distribution: written, or inferred as W&B does.
  std::string kind;
  if (dist) {
    if (!dist.IsScalar() || !distribution_keys().count(dist.Scalar())) {
      std::vector<std::string> names;
      for (const auto& [name, keys] : distribution_keys()) names.push_back(name);
      std::string msg = fmt::format("{}.distribution expects one of {}, got {}", where,
                                    join(names), describe(dist));
      if (std::string s = dist.IsScalar() ? did_you_mean(dist.Scalar(), names) : "";
          !s.empty()) {
        msg = fmt::format("{}.distribution: unknown distribution {} (did you mean '{}'?)", where,
                          describe(dist), s);
      }
      ctx.error(dist, msg);
      return;
    }
    kind = dist.Scalar();
  } else if (value && values) {
    kind = "";
  } else if (value) {
    kind = "constant";
  } else if (values) {
    kind = probabilities ? "categorical_w_probabilities" : "categorical";
  } else if (mn && mx) {
    kind = is_integer(mn) && is_integer(mx) ? "int_uniform" : "uniform";  // W&B's inference
  }
  if (kind.empty() || (value && values)) {
    ctx.error(key, fmt::format("{} needs exactly one of value:, values: or distribution: (or "
                               "min: and max:, which W&B reads as int_uniform or uniform)",
                               where));
    return;
  }
  if (kind == "categorical" && probabilities) kind = "categorical_w_probabilities";
  dom.distribution = kind;

  // Only the keys this distribution takes.
  const std::vector<std::string>& allowed = distribution_keys().at(kind);
  for (const auto& [k, node] : std::vector<std::pair<std::string, YAML::Node>>{
           {"value", value}, {"values", values}, {"probabilities", probabilities},
           {"min", mn}, {"max", mx}, {"q", q}, {"mu", mu}, {"sigma", sigma}, {"a", a}, {"b", b}}) {
    if (node && std::find(allowed.begin(), allowed.end(), k) == allowed.end()) {
      ctx.error(node, fmt::format("{}: distribution {} takes {}, not {}:", where, kind,
                                  join(allowed), k));
      return;
    }
  }

  if (kind == "constant") {
    if (!value) {
      ctx.error(dist, fmt::format("{}: distribution constant needs value:", where));
      return;
    }
    dom.kind = Domain::Kind::value;
    if (auto v = param_value(ctx, def, value)) dom.values.push_back(*v);
    return;
  }
  if (kind == "categorical" || kind == "categorical_w_probabilities") {
    dom.kind = Domain::Kind::values;
    if (!values || !values.IsSequence() || values.size() == 0) {
      const YAML::Node& at = values ? values : dist;
      ctx.error(at, fmt::format("{}.values expects a non-empty list, got {}", where,
                                !values ? "nothing"
                                : values.IsSequence() ? "an empty list" : describe(values)));
      return;
    }
    for (const auto& e : values) {
      if (auto v = param_value(ctx, def, e)) dom.values.push_back(*v);
    }
    if (kind == "categorical_w_probabilities") {
      double sum = 0;
      bool ok = probabilities && probabilities.IsSequence() &&
                probabilities.size() == values.size();
      for (std::size_t i = 0; ok && i < probabilities.size(); ++i) {
        auto p = number(probabilities[i]);
        ok = p && *p >= 0;
        if (ok) {
          dom.weights.push_back(*p);
          sum += *p;
        }
      }
      if (!ok || std::fabs(sum - 1.0) > 1e-6) {
        ctx.error(probabilities ? probabilities : dist,
                  fmt::format("{}.probabilities expects a list of {} numbers >= 0 (one per "
                              "value) that sum to 1, got {}",
                              where, values.size(),
                              probabilities ? describe(probabilities) : "nothing"));
        dom.weights.clear();
      }
    }
    return;
  }

  // A distribution. Numeric keys first.
  auto read = [&](const YAML::Node& node, const char* name, double fallback,
                  std::optional<double>& out) {
    if (!node) {
      out = fallback;
      return true;
    }
    out = number(node);
    if (!out || !std::isfinite(*out)) {
      ctx.error(node, fmt::format("{}.{} expects a number, got {}", where, name, describe(node)));
      out.reset();
      return false;
    }
    return true;
  };
  const bool rounded = kind.rfind("q_", 0) == 0;
  std::optional<double> qv;
  if (rounded) {
    if (!read(q, "q", 1.0, qv)) return;
    if (!(*qv > 0)) {
      ctx.error(q, fmt::format("{}.q expects a number > 0, got {}", where, describe(q)));
      return;
    }
    dom.q = *qv;
  }
  const std::string base = rounded ? kind.substr(2) : kind;

  // The parameter's type: strings and booleans take lists only; an integer parameter takes
  // int_uniform, or a rounded distribution with an integer step.
  if (def.type == ParamType::string || def.type == ParamType::boolean) {
    ctx.error(dist ? dist : key, fmt::format("{} is {}; distribution {} does not fit it (use "
                                             "values: [...])",
                                             where, to_string(def.type), kind));
    return;
  }
  if (def.type == ParamType::integer && kind != "int_uniform" &&
      !(rounded && dom.q == std::floor(dom.q))) {
    ctx.error(dist ? dist : key,
              fmt::format("{} is {}; distribution {} does not fit it (draws reals: use "
                          "int_uniform, or q_{} with an integer q)",
                          where, to_string(def.type), kind,
                          rounded ? base : kind));
    return;
  }

  if (base == "normal" || base == "log_normal" || base == "beta") {
    std::optional<double> p1, p2;
    const bool is_beta = base == "beta";
    if (!read(is_beta ? a : mu, is_beta ? "a" : "mu", is_beta ? 1.0 : 0.0, p1) ||
        !read(is_beta ? b : sigma, is_beta ? "b" : "sigma", 1.0, p2)) {
      return;
    }
    if (is_beta) {
      if (!(*p1 > 0) || !(*p2 > 0)) {
        ctx.error(!(*p1 > 0) ? (a ? a : dist) : (b ? b : dist),
                  fmt::format("{}: beta needs a > 0 and b > 0, got a = {}, b = {}", where,
                              num(*p1), num(*p2)));
        return;
      }
      dom.kind = Domain::Kind::beta;
      dom.a = *p1;
      dom.b = *p2;
      const bool touches = (!def.range.min || *def.range.min < 1) &&
                           (!def.range.max || *def.range.max > 0);
      if (!touches) {
        ctx.error(dist, fmt::format("{}: beta draws lie in [0, 1], outside {}'s range ({})",
                                    where, def.name, def.expected()));
      }
      return;
    }
    if (!(*p2 > 0)) {
      ctx.error(sigma ? sigma : dist,
                fmt::format("{}.sigma expects a number > 0, got {}", where, num(*p2)));
      return;
    }
    dom.kind = base == "normal" ? Domain::Kind::normal : Domain::Kind::log_normal;
    dom.mu = *p1;
    dom.sigma = *p2;
    const double inside = mass_in_range(def, dom);
    if (inside < 1e-3) {
      ctx.error(dist, fmt::format("{}: {}(mu={}, sigma={}) puts {:.2g}% of its draws in {}'s "
                                  "range ({})",
                                  where, base, num(dom.mu), num(dom.sigma), 100 * inside,
                                  def.name, def.expected()));
    } else if (inside < 1 - 1e-9) {
      ctx.note(dist, fmt::format("{}: {:.3g}% of {}(mu={}, sigma={}) lies outside {}'s range "
                                 "({}); such draws are drawn again",
                                 where, 100 * (1 - inside), base, num(dom.mu), num(dom.sigma),
                                 def.name, def.expected()));
    }
    return;
  }

  // min/max distributions: uniform, int_uniform and the log-uniform family.
  if (!mn || !mx) {
    ctx.error(dist ? dist : key,
              fmt::format("{}: distribution {} needs min: and max:", where, kind));
    return;
  }
  std::optional<double> lo, hi;
  if (!read(mn, "min", 0, lo) || !read(mx, "max", 0, hi)) return;
  if (!(*lo < *hi)) {
    ctx.error(mx, fmt::format("{}: max ({}) must be greater than min ({})", where, *hi, *lo));
    return;
  }
  // The bounds as values of the parameter: exponent forms are exponentiated.
  const bool exponents = base == "inv_log_uniform" || (base == "log_uniform" && style.wandb);
  if (base == "int_uniform") {
    if (!is_integer(mn) || !is_integer(mx)) {
      if (style.wandb || def.type == ParamType::integer) {
        ctx.error(!is_integer(mn) ? mn : mx,
                  fmt::format("{}: int_uniform expects integer min and max, got {} and {}",
                              where, describe(mn), describe(mx)));
        return;
      }
    }
    if (std::ceil(*lo) > std::floor(*hi)) {
      ctx.error(mx, fmt::format("{}: int_uniform draws integers, but [{}, {}] contains none",
                                where, num(*lo), num(*hi)));
      return;
    }
    dom.kind = Domain::Kind::int_uniform;
    dom.min = *lo;
    dom.max = *hi;
  } else if (base == "uniform") {
    dom.kind = Domain::Kind::uniform;
    dom.min = *lo;
    dom.max = *hi;
  } else if (exponents) {
    dom.kind = Domain::Kind::log_uniform;
    const bool inverse = base == "inv_log_uniform";
    dom.min = std::exp(inverse ? -*hi : *lo);
    dom.max = std::exp(inverse ? -*lo : *hi);
    ctx.note(dist, fmt::format(
                       "{}: {} takes exponents (W&B's meaning{}): {} is log-uniform on "
                       "[{}, {}] = [{}, {}]{}",
                       where, kind,
                       base == "log_uniform" ? fmt::format(", in a W&B sweep file: '{}' at "
                                                           "line {}", style.marker, style.line)
                                             : std::string(),
                       def.name, inverse ? fmt::format("e^-{}", num(*hi)) : fmt::format("e^{}", num(*lo)),
                       inverse ? fmt::format("e^-{}", num(*lo)) : fmt::format("e^{}", num(*hi)),
                       num(dom.min), num(dom.max),
                       base == "log_uniform" ? "; log_uniform_values takes the values" : ""));
  } else {  // log_uniform (values, mammosweep's meaning), log_uniform_values, inv_log_uniform_values
    if (*lo <= 0) {
      std::string msg = fmt::format("{}: {} needs min > 0, got {}", where, kind, num(*lo));
      if (base == "log_uniform") {
        msg += "; in mammosweep specs log_uniform takes values. W&B's log_uniform takes "
               "exponents and is read so only in W&B sweep files (docs/sweep-spec.md, \"W&B "
               "sweep files\"); log_uniform_values always takes values";
      }
      ctx.error(mn, msg);
      return;
    }
    dom.kind = Domain::Kind::log_uniform;
    dom.min = *lo;
    dom.max = *hi;
  }
  // Both ends (rounded, when q is given) must be values the parameter allows.
  for (double end : {dom.min, dom.max}) {
    Value v = dom.q > 0 ? quantize(end, dom.q) : end;
    if (def.type == ParamType::integer) {
      const double d = std::get<double>(v);
      if (d == std::floor(d)) v = static_cast<std::int64_t>(d);
    }
    if (std::string expected = def.check(v); !expected.empty()) {
      ctx.error(end == dom.min ? mn : mx,
                fmt::format("{}: distribution {} reaches {}{}, but '{}' expects {}", where,
                            kind, to_text(v), dom.q > 0 ? " after rounding by q" : "",
                            def.name, expected));
      return;
    }
  }
}

}  // namespace

void parse_parameters(Ctx& ctx, const YAML::Node& n, SweepSpec& spec, const SpecStyle& style) {
  if (!expect_map(ctx, n, "parameters")) return;
  walk_params(ctx, n, "", "parameters", {},
              [&](const ParamDef& def, const YAML::Node& key, const YAML::Node& value) {
                Domain dom;
                parse_domain(ctx, def, key, value, dom, style);
                if (spec.method == Method::grid) {
                  if (!dom.weights.empty()) {
                    ctx.error(key, fmt::format("parameters.{}: method grid takes no "
                                               "probabilities (as in W&B)",
                                               def.name));
                  }
                  // W&B's grid enumerates int_uniform and q_uniform.
                  const std::vector<double> points = grid_points(dom);
                  if (!points.empty()) {
                    dom.kind = Domain::Kind::values;
                    dom.values.clear();
                    for (double p : points) {
                      Value v = p;
                      if (def.type == ParamType::integer) v = static_cast<std::int64_t>(p);
                      if (std::string expected = def.check(v); !expected.empty()) {
                        ctx.error(key, fmt::format("parameters.{}: the grid point {} of {} is "
                                                   "not allowed: '{}' expects {}",
                                                   def.name, to_text(v), dom.distribution,
                                                   def.name, expected));
                        break;
                      }
                      dom.values.push_back(v);
                    }
                  }
                }
                spec.parameters.emplace_back(def.name, std::move(dom));
              });
}

}  // namespace mammosweep::sweeps::internal
