#pragma once
// A spec's searched parameters as a sampler's search space (sweeps/sampler.h), and back:
// how each kind of Domain maps into the sampler's numeric/categorical dimensions. A new
// distribution kind only adds a case to `dimension_of` (and, when its values are not the
// dimension's numbers, to `value_at` and `coordinate_of`).
#include <optional>
#include <string>
#include <vector>

#include "sweeps/params.h"
#include "sweeps/sampler.h"
#include "sweeps/spec.h"

namespace mammosweep::sweeps {

/// The spec's parameters other than value: ones, in file order:
///   uniform      numeric [min, max]
///   log_uniform  numeric [min, max], searched in log space
///   int_uniform  numeric [ceil(min), floor(max)], step 1
///   categorical, values   categorical over the listed values (index = position)
Space search_space(const SweepSpec& spec);

/// The training parameters at `point` (one coordinate per search_space dimension): the
/// spec's training defaults, its value: parameters, then the searched ones.
TrainingParams params_at(const SweepSpec& spec, const Point& point);

/// The inverse of params_at for a trial read back from results.h5: nullopt when one of its
/// values lies outside the spec's search space (a trial of an earlier, changed spec).
std::optional<Point> point_of(const SweepSpec& spec, const TrainingParams& params);

}  // namespace mammosweep::sweeps
