#pragma once
// The Tree-structured Parzen Estimator (Bergstra et al. 2011) as Optuna 5's default
// TPESampler runs it for one objective (multivariate, constant liar), on sweeps/sampler.h's
// ask/tell interface. docs/sweep-spec.md ("method: bayes") describes it for users.
//
// One proposal:
//  1. Fewer than n_startup_trials finished trials: a uniform random point (seeded per
//     proposal number), as the random phase.
//  2. Otherwise the finished trials are split: the best gamma(n) = min(ceil(0.1 n), 25)
//     form "below" (good), the rest "above". Trials that ran to the end rank first (by
//     value), then trials stopped early (more epochs first, then value): Optuna's rule for
//     pruned trials. Running trials join "above": a constant liar whose lie is "worse than
//     every result", so the next proposals move away from points already being tried
//     (Optuna's constant_liar=True).
//  3. Each group becomes a mixture of product kernels, one per trial (weights 1 below 25
//     trials, then Optuna's ramp that weighs old trials less) plus a prior kernel of weight
//     prior_weight: a truncated normal per numeric dimension (searched in log space when
//     log; integer/stepped dimensions integrate over their step), its bandwidth the larger
//     gap to the neighbouring observations, clipped to [range / min(100, n + 2), range]
//     (the prior: centre, bandwidth = range); a categorical dimension puts weight 1 +
//     prior_weight / (n + 1) on the observed choice and prior_weight / (n + 1) on the others.
//  4. n_ei_candidates points are drawn from "below"; the one with the largest
//     log l(x) - log g(x) is proposed.
#include <cstdint>

#include "sweeps/sampler.h"

namespace mammosweep::sweeps {

struct TpeOptions {
  int n_startup_trials = 10;
  int n_ei_candidates = 24;
  double prior_weight = 1.0;
};

class TpeSampler : public Sampler {
 public:
  /// Throws std::invalid_argument for an unusable space (check_space) or options.
  TpeSampler(Space space, std::uint64_t seed, TpeOptions options = {});
  Point ask(std::uint64_t index, const std::vector<Observation>& history,
            const std::vector<Point>& pending) const override;
  const Space& space() const { return space_; }

 private:
  Space space_;
  std::uint64_t seed_;
  TpeOptions options_;
};

/// The log density at `x` of the Parzen estimator (one group: kernels for `observations`,
/// in trial order, plus the prior) that a proposal builds: for tests against Optuna's
/// `_ParzenEstimator.log_pdf`.
double parzen_log_pdf(const Space& space, const std::vector<Point>& observations, const Point& x,
                      double prior_weight = 1.0);

/// log(Phi(b) - Phi(a)) of the standard normal, for a <= b, accurate in both tails.
double log_gauss_mass(double a, double b);
/// The x with Phi(x) = p, 0 < p < 1.
double normal_quantile(double p);

}  // namespace mammosweep::sweeps
