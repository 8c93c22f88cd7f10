#pragma once
// Random search's draws: one value of a parameter from its Domain, reproducibly from a
// splitmix64 state (sweeps/splitmix.h; std:: distributions differ between standard
// libraries). The distributions have W&B's meaning (docs/sweep-spec.md, "Parameter domains").
#include <cstdint>
#include <vector>

#include "sweeps/params.h"
#include "sweeps/spec.h"

namespace mammosweep::sweeps {

/// Uniform double in [0, 1) from 53 bits of the next state (state = splitmix64(state)).
double unit_draw(std::uint64_t& state);
/// Standard normal (Box-Muller from two unit draws).
double normal_draw(std::uint64_t& state);
/// Gamma(shape, 1), shape > 0 (Marsaglia & Tsang 2000; shape < 1 by Gamma(shape + 1) *
/// U^(1/shape)).
double gamma_draw(double shape, std::uint64_t& state);
/// Beta(a, b) as X / (X + Y), X ~ Gamma(a), Y ~ Gamma(b).
double beta_draw(double a, double b, std::uint64_t& state);
/// round(x / q) * q with ties to even (numpy.round, which W&B uses), then the nearest double
/// to its 15-significant-digit decimal (0.1 * 3 is 0.3, not 0.30000000000000004).
double quantize(double x, double q);

/// The real number a continuous domain draws before rounding by q and typing (uniform,
/// log_uniform, normal, log_normal, beta; int_uniform gives an integer-valued double).
double draw_real(const Domain& dom, std::uint64_t& state);

/// One draw of `dom` as a value of `def`'s type: a list entry (weighted by dom.weights when
/// given), or draw_real rounded by dom.q. A draw outside the parameter's allowed range (a
/// normal, log-normal or beta draw, or a rounded one) is drawn again, so the distribution
/// is restricted to the range; after 1000 misses std::invalid_argument names the parameter.
Value draw(const ParamDef& def, const Domain& dom, std::uint64_t& state);

/// The points W&B's grid search enumerates for a distribution: min..max for int_uniform;
/// min + k*q < max for q_uniform (numpy.arange, each cleaned as quantize does). Empty for
/// any other domain.
std::vector<double> grid_points(const Domain& dom);

}  // namespace mammosweep::sweeps
