#include "sweeps/search_space.h"

#include <cmath>
#include <stdexcept>

namespace mammosweep::sweeps {

namespace {

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
    case Domain::Kind::log_normal:
    case Domain::Kind::beta:
      break;  // refused for method bayes by the parser
  }
  throw std::logic_error("unknown domain kind");
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
    } else if (def.type == ParamType::integer) {
      def.set(p, static_cast<std::int64_t>(std::llround(x)));
    } else {
      def.set(p, x);
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

}  // namespace mammosweep::sweeps
