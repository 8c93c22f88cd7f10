#include "sweeps/distributions.h"

#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <stdexcept>

#include "sweeps/splitmix.h"

namespace mammosweep::sweeps {

double unit_draw(std::uint64_t& state) {
  state = splitmix64(state);
  return static_cast<double>(state >> 11) * 0x1.0p-53;
}

double normal_draw(std::uint64_t& state) {
  const double u1 = unit_draw(state), u2 = unit_draw(state);
  constexpr double two_pi = 6.283185307179586476925286766559;
  return std::sqrt(-2.0 * std::log1p(-u1)) * std::cos(two_pi * u2);  // log(1 - u1), u1 < 1
}

double gamma_draw(double shape, std::uint64_t& state) {
  if (!(shape > 0) || !std::isfinite(shape)) {
    throw std::invalid_argument(fmt::format("gamma draw needs a finite shape > 0, got {}", shape));
  }
  if (shape < 1) {
    const double u = unit_draw(state);
    return gamma_draw(shape + 1, state) * std::pow(u, 1.0 / shape);
  }
  const double d = shape - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
  for (;;) {
    const double z = normal_draw(state);
    double v = 1.0 + c * z;
    if (v <= 0) continue;
    v = v * v * v;
    const double u = unit_draw(state);
    if (u < 1.0 - 0.0331 * z * z * z * z) return d * v;
    if (std::log(u) < 0.5 * z * z + d * (1.0 - v + std::log(v))) return d * v;
  }
}

double beta_draw(double a, double b, std::uint64_t& state) {
  for (;;) {
    const double x = gamma_draw(a, state), y = gamma_draw(b, state);
    if (x + y > 0) return x / (x + y);  // both 0 only when both shapes are tiny
  }
}

double quantize(double x, double q) {
  const double k = std::nearbyint(x / q);  // the default rounding mode: ties to even
  return std::strtod(fmt::format("{:.15g}", k * q).c_str(), nullptr);
}

double draw_real(const Domain& dom, std::uint64_t& state) {
  using Kind = Domain::Kind;
  switch (dom.kind) {
    case Kind::uniform:
      return dom.min + unit_draw(state) * (dom.max - dom.min);
    case Kind::log_uniform:
      return std::exp(std::log(dom.min) +
                      unit_draw(state) * (std::log(dom.max) - std::log(dom.min)));
    case Kind::int_uniform: {
      const double lo = std::ceil(dom.min), hi = std::floor(dom.max);
      const double k = std::floor(unit_draw(state) * (hi - lo + 1));
      return std::min(lo + k, hi);
    }
    case Kind::normal:
      return dom.mu + dom.sigma * normal_draw(state);
    case Kind::log_normal:
      return std::exp(dom.mu + dom.sigma * normal_draw(state));
    case Kind::beta:
      return beta_draw(dom.a, dom.b, state);
    case Kind::value:
    case Kind::values:
    case Kind::categorical:
      break;
  }
  throw std::invalid_argument("draw_real: not a continuous distribution");
}

namespace {

Value draw_once(const ParamDef& def, const Domain& dom, std::uint64_t& state) {
  using Kind = Domain::Kind;
  if (dom.kind == Kind::value || dom.kind == Kind::values || dom.kind == Kind::categorical) {
    const double u = unit_draw(state);
    std::size_t i = 0;
    if (dom.weights.empty()) {
      i = static_cast<std::size_t>(u * static_cast<double>(dom.values.size()));
    } else {  // the first value whose cumulative probability exceeds u
      double cumulative = 0;
      while (i + 1 < dom.values.size() && u >= (cumulative += dom.weights[i])) ++i;
    }
    return dom.values[std::min(i, dom.values.size() - 1)];
  }
  if (dom.kind == Kind::int_uniform) {
    // Kept exactly as random search has always drawn it (trial ids of existing sweeps).
    auto lo = static_cast<std::int64_t>(std::ceil(dom.min));
    auto hi = static_cast<std::int64_t>(std::floor(dom.max));
    auto span = static_cast<double>(hi - lo + 1);
    auto k = static_cast<std::int64_t>(unit_draw(state) * span);
    const std::int64_t v = std::min(lo + k, hi);
    if (def.type == ParamType::real) return static_cast<double>(v);
    return v;
  }
  double x = draw_real(dom, state);
  if (dom.q > 0) x = quantize(x, dom.q);
  if (def.type == ParamType::integer) {
    // Only integral draws reach here for integer parameters (the parser allows an integer
    // parameter a rounded distribution with an integer q); anything else is out of range.
    if (std::isfinite(x) && x == std::floor(x) && std::fabs(x) < 9.0e15) {
      return static_cast<std::int64_t>(x);
    }
    return x;  // a double: check() refuses it and the draw is repeated
  }
  return x;
}

}  // namespace

Value draw(const ParamDef& def, const Domain& dom, std::uint64_t& state) {
  for (int attempt = 0; attempt < 1000; ++attempt) {
    Value v = draw_once(def, dom, state);
    if (def.check(v).empty()) return v;
  }
  throw std::invalid_argument(fmt::format(
      "parameters.{}: 1000 draws of distribution {} in a row fell outside {}; the "
      "distribution puts (almost) no probability on the parameter's allowed values",
      def.name, dom.distribution.empty() ? "list" : dom.distribution, def.expected()));
}

std::vector<double> grid_points(const Domain& dom) {
  std::vector<double> out;
  if (dom.kind == Domain::Kind::int_uniform && dom.q == 0) {
    for (double v = std::ceil(dom.min); v <= std::floor(dom.max); v += 1) out.push_back(v);
  } else if (dom.kind == Domain::Kind::uniform && dom.q > 0) {
    const auto n = static_cast<std::int64_t>(std::ceil((dom.max - dom.min) / dom.q - 1e-9));
    for (std::int64_t k = 0; k < n; ++k) {
      out.push_back(std::strtod(
          fmt::format("{:.15g}", dom.min + static_cast<double>(k) * dom.q).c_str(), nullptr));
    }
  }
  return out;
}

}  // namespace mammosweep::sweeps
