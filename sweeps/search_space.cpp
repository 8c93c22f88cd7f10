#include "sweeps/search_space.h"

#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include "sweeps/distributions.h"

namespace mammosweep::sweeps {

namespace {

/// How far from mu a normal (of log x for log_normal) is searched, in standard deviations:
/// all but 6e-5 of its mass.
constexpr double kSigmas = 4;

/// [low, high] cut to the parameter's allowed range (an open end moves one double inside).
void clip(Dimension& d, const Interval& range) {
  if (range.min && d.low < *range.min)
    d.low = range.min_exclusive ? std::nextafter(*range.min, HUGE_VAL) : *range.min;
  if (range.max && d.high > *range.max)
    d.high = range.max_exclusive ? std::nextafter(*range.max, -HUGE_VAL) : *range.max;
}

Dimension dimension_of(const std::string& name, const Domain& dom) {
  Dimension d;
  d.name = name;
  switch (dom.kind) {
    case Domain::Kind::value:
      throw std::logic_error("a value: parameter is not searched");
    case Domain::Kind::values:
    case Domain::Kind::categorical:
      d.kind = Dimension::Kind::categorical;
      d.choices = static_cast<int>(dom.values.size());
      return d;
    case Domain::Kind::uniform:
      d.low = dom.min, d.high = dom.max;
      return d;
    case Domain::Kind::log_uniform:
      d.low = dom.min, d.high = dom.max, d.log = true;
      return d;
    case Domain::Kind::int_uniform:
      d.low = std::ceil(dom.min), d.high = std::floor(dom.max), d.step = 1;
      return d;
    case Domain::Kind::normal:
      d.low = dom.mu - kSigmas * dom.sigma, d.high = dom.mu + kSigmas * dom.sigma;
      break;
    case Domain::Kind::log_normal:
      d.low = std::exp(dom.mu - kSigmas * dom.sigma);
      d.high = std::exp(dom.mu + kSigmas * dom.sigma);
      d.log = true;
      break;
    case Domain::Kind::beta:
      d.low = 0, d.high = 1;
      break;
  }
  if (const ParamDef* def = find_param(name)) clip(d, def->range);
  return d;
}

/// x rounded by q (when given) and typed as the parameter, inside [d.low, d.high].
Value typed(const ParamDef& def, const Domain& dom, const Dimension& d, double x) {
  if (dom.q > 0) {
    x = quantize(x, dom.q);
    if (x > d.high) x = quantize(x - dom.q, dom.q);
    if (x < d.low) x = quantize(x + dom.q, dom.q);
  }
  if (def.type == ParamType::integer) return static_cast<std::int64_t>(std::llround(x));
  return x;
}

double number(const Value& v) {
  if (const auto* i = std::get_if<std::int64_t>(&v)) return static_cast<double>(*i);
  if (const auto* d = std::get_if<double>(&v)) return *d;
  return std::nan("");
}

}  // namespace

Space search_space(const SweepSpec& spec) {
  Space space;
  for (const auto& [name, dom] : spec.parameters) {
    if (dom.kind != Domain::Kind::value) space.push_back(dimension_of(name, dom));
  }
  return space;
}

TrainingParams params_at(const SweepSpec& spec, const Point& point) {
  TrainingParams p = spec.training;
  std::size_t i = 0;
  for (const auto& [name, dom] : spec.parameters) {
    const ParamDef& def = *find_param(name);
    if (dom.kind == Domain::Kind::value) {
      def.set(p, dom.values.at(0));
      continue;
    }
    const double x = point.at(i++);
    if (dom.kind == Domain::Kind::values || dom.kind == Domain::Kind::categorical) {
      def.set(p, dom.values.at(static_cast<std::size_t>(x)));
    } else {
      def.set(p, typed(def, dom, dimension_of(name, dom), x));
    }
  }
  if (i != point.size()) throw std::invalid_argument("point has more coordinates than the space");
  return p;
}

std::optional<Point> point_of(const SweepSpec& spec, const TrainingParams& params) {
  Point x;
  for (const auto& [name, dom] : spec.parameters) {
    const ParamDef& def = *find_param(name);
    const Value v = def.get(params);
    if (dom.kind == Domain::Kind::value) {
      if (v != dom.values.at(0)) return std::nullopt;
      continue;
    }
    if (dom.kind == Domain::Kind::values || dom.kind == Domain::Kind::categorical) {
      std::size_t k = 0;
      while (k < dom.values.size() && dom.values[k] != v) ++k;
      if (k == dom.values.size()) return std::nullopt;
      x.push_back(static_cast<double>(k));
      continue;
    }
    const Dimension d = dimension_of(name, dom);
    const double n = number(v);
    if (!(n >= d.low && n <= d.high)) return std::nullopt;
    x.push_back(n);
  }
  return x;
}

std::string search_note(const std::string& name, const Domain& dom) {
  const bool listed = dom.kind == Domain::Kind::value || dom.kind == Domain::Kind::values ||
                      dom.kind == Domain::Kind::categorical;
  const Dimension d = listed ? Dimension{} : dimension_of(name, dom);
  auto g = [](double v) { return fmt::format("{:.6g}", v); };
  switch (dom.kind) {
    case Domain::Kind::values:
    case Domain::Kind::categorical:
      return dom.weights.empty() ? "" : "method bayes searches these values without their "
                                        "probabilities (W&B's bayes search does the same)";
    case Domain::Kind::normal:
    case Domain::Kind::log_normal:
    case Domain::Kind::beta:
      return fmt::format("method bayes searches {} over [{}, {}]{}, uniformly{} before TPE "
                         "takes over: its prior is that range, not the {} shape",
                         dom.distribution, g(d.low), g(d.high),
                         dom.kind == Domain::Kind::beta ? "" : " (4 standard deviations)",
                         d.log ? " in log space" : "", dom.distribution);
    default:
      return "";
  }
}

}  // namespace mammosweep::sweeps
