#include "sweeps/sampler.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace mammosweep::sweeps {

SplitMix64 proposal_rng(std::uint64_t seed, std::uint64_t index) {
  return SplitMix64(splitmix64(splitmix64(seed ^ 0x7be5a3c1d2f4e6b9ULL) + index));
}

double unit(SplitMix64& rng) { return static_cast<double>(rng.next() >> 11) * 0x1.0p-53; }

namespace {

/// Number of grid points of a stepped dimension: low, low + step, ... <= high.
double grid_points(const Dimension& d) {
  return std::floor((d.high - d.low) / d.step * (1 + 1e-12)) + 1;
}

}  // namespace

double snap(const Dimension& d, double x) {
  if (d.kind == Dimension::Kind::categorical) {
    return std::clamp(std::round(x), 0.0, static_cast<double>(d.choices - 1));
  }
  if (d.step > 0) {
    const double k = std::clamp(std::round((x - d.low) / d.step), 0.0, grid_points(d) - 1);
    return d.low + k * d.step;
  }
  return std::clamp(x, d.low, d.high);
}

Point random_point(const Space& space, SplitMix64& rng) {
  Point p;
  p.reserve(space.size());
  for (const Dimension& d : space) {
    const double u = unit(rng);
    if (d.kind == Dimension::Kind::categorical) {
      p.push_back(std::min(std::floor(u * d.choices), static_cast<double>(d.choices - 1)));
    } else if (d.step > 0 && !d.log) {
      const double n = grid_points(d);
      p.push_back(d.low + std::min(std::floor(u * n), n - 1) * d.step);
    } else if (d.log) {
      const double lo = std::log(d.step > 0 ? d.low - d.step / 2 : d.low);
      const double hi = std::log(d.step > 0 ? d.high + d.step / 2 : d.high);
      p.push_back(snap(d, std::exp(lo + u * (hi - lo))));
    } else {
      p.push_back(snap(d, d.low + u * (d.high - d.low)));
    }
  }
  return p;
}

Point RandomSampler::ask(std::uint64_t index, const std::vector<Observation>&,
                         const std::vector<Point>&) const {
  SplitMix64 rng = proposal_rng(seed_, index);
  return random_point(space_, rng);
}

void check_space(const Space& space) {
  if (space.empty()) throw std::invalid_argument("the search space has no dimension");
  for (const Dimension& d : space) {
    auto bad = [&](const std::string& why) {
      throw std::invalid_argument(fmt::format("search dimension '{}': {}", d.name, why));
    };
    if (d.kind == Dimension::Kind::categorical) {
      if (d.choices < 1) bad("a categorical dimension needs at least one choice");
      continue;
    }
    if (!std::isfinite(d.low) || !std::isfinite(d.high) || !(d.low <= d.high))
      bad(fmt::format("bounds [{}, {}] are not a finite range", d.low, d.high));
    if (d.log && !(d.low > (d.step > 0 ? d.step / 2 : 0)))
      bad(fmt::format("a log dimension needs low > {}, got {}", d.step > 0 ? d.step / 2 : 0,
                      d.low));
    if (!(d.step >= 0) || !std::isfinite(d.step)) bad("step must be 0 or positive");
  }
}

}  // namespace mammosweep::sweeps
