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
///   normal       numeric [mu - 4 sigma, mu + 4 sigma]
///   log_normal   numeric [e^(mu - 4 sigma), e^(mu + 4 sigma)], searched in log space
///   beta         numeric [0, 1]
///   categorical, values   categorical over the listed values (index = position; W&B's
///                probabilities are not used)
/// each within the parameter's allowed range. With q > 0 the searched number is rounded as
/// random search rounds it (sweeps/distributions.h: quantize), stepping back inside the
/// dimension when rounding leaves it.
Space search_space(const SweepSpec& spec);

/// How method bayes searches `dom` when that differs from drawing it as method random does
/// (a note for the user: a normal searched over a bounded range, probabilities not used);
/// empty when it does not.
std::string search_note(const std::string& name, const Domain& dom);

/// The training parameters at `point` (one coordinate per search_space dimension): the
/// spec's training defaults, its value: parameters, then the searched ones.
TrainingParams params_at(const SweepSpec& spec, const Point& point);

/// The inverse of params_at for a trial read back from results.h5: nullopt when one of its
/// values lies outside the spec's search space (a trial of an earlier, changed spec).
std::optional<Point> point_of(const SweepSpec& spec, const TrainingParams& params);

}  // namespace mammosweep::sweeps
