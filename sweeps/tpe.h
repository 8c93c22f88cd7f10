#pragma once
// The Tree-structured Parzen Estimator (Bergstra et al. 2011) as Optuna 5's default
// TPESampler runs it for one objective (multivariate, constant liar), on sweeps/sampler.h's
// ask/tell interface, with two defaults changed: the bandwidth floor and the floor of the
// running trials' kernels (the liar), both in step 3. TpeOptions::optuna() is Optuna's
// setting exactly. docs/sweep-spec.md ("method: bayes") describes it for users;
// docs/performance.md section 12 measures both settings.
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
//     gap to the neighbouring observations, clipped to [floor, range] (the prior: centre,
//     bandwidth = range); a categorical dimension puts weight 1 + prior_weight / (n + 1) on
//     the observed choice and prior_weight / (n + 1) on the others. The floor is
//     max(range / min(100, n + 2)^magic_clip_exponent, min_bandwidth_factor * range):
//     Optuna's "magic clip" range / min(100, n + 2) with (1, 0.01); by default (infinity,
//     0.05) a fixed 5 % of the range, the "exponent alpha / minimum bandwidth factor" knobs of
//     Watanabe 2023 ("Tree-structured Parzen estimator: understanding its algorithm
//     components ..."). Optuna's floor keeps "below"'s 1-5 kernels a third to a seventh of
//     the range wide for the first 50 trials, so the good model barely sharpens; the fixed
//     floor lets it follow the best trials: far better on Branin and the week-7-shaped
//     space, better on Hartmann-6 sequentially.
//     Running trials' kernels (the liar) are floored at liar_min_bandwidth_factor (1 %) of
//     the range instead: a running trial has no result, its kernel only marks the point as
//     taken. Floored at 5 % like the others, in 6-D such a kernel covers the neighbourhood of
//     the incumbent it was drawn near and pushes the next proposals out of it (Hartmann-6
//     with 4 trials running, 50 trials, seeds 1-400: median -2.678 against Optuna's -2.772;
//     with the 1 % floor -2.765, even). docs/performance.md section 12 has the numbers.
//  4. n_ei_candidates points are drawn from "below"; the one with the largest
//     log l(x) - log g(x) is proposed.
#include <cstddef>
#include <cstdint>
#include <limits>

#include "sweeps/sampler.h"

namespace mammosweep::sweeps {

/// How many finished trials form "below" (the good group) out of n: linear ceil(beta n)
/// (Optuna, beta 0.1) or sqrt ceil(beta sqrt(n)) (Hyperopt, beta 0.25); at most 25, at least 1.
enum class TpeGamma { linear, sqrt };
/// Kernel weights of the trials in a group: Optuna's ramp that weighs old trials less past
/// 25 trials, or 1 each.
enum class TpeWeights { old_decay, uniform };

struct TpeOptions {
  int n_startup_trials = 10;
  int n_ei_candidates = 24;
  double prior_weight = 1.0;
  TpeGamma gamma = TpeGamma::linear;
  double gamma_beta = 0.1;
  TpeWeights weights = TpeWeights::old_decay;
  /// Smallest numeric bandwidth: max(range / min(100, n + 2)^magic_clip_exponent,
  /// min_bandwidth_factor * range) for a group of n trials (+ the prior). Exponent 1 and
  /// factor 0.01 are Optuna's "magic clip"; mammosweep's default (exponent infinity, factor
  /// 0.05: a fixed floor of 5 % of the range) keeps "below"'s few kernels narrower
  /// (docs/performance.md section 12 measured the choice).
  double magic_clip_exponent = std::numeric_limits<double>::infinity();
  double min_bandwidth_factor = 0.05;
  /// Smallest numeric bandwidth of a running trial's kernel (the constant liar, in "above"):
  /// liar_min_bandwidth_factor * range, no magic clip. 0: the floor above, as for every
  /// other kernel (Optuna's setting).
  double liar_min_bandwidth_factor = 0.01;

  /// Optuna 5's TPESampler() defaults (multivariate, constant liar): the estimator and the
  /// split are Optuna's to 1e-15.
  static TpeOptions optuna() {
    TpeOptions o;
    o.magic_clip_exponent = 1.0;
    o.min_bandwidth_factor = 0.01;
    o.liar_min_bandwidth_factor = 0;
    return o;
  }
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
/// The same with every estimator option of `options` (prior weight, weights, bandwidth clip);
/// the last `n_running` observations are running trials (their kernels use the liar's floor),
/// as in the "above" group of a proposal made while they run.
double parzen_log_pdf(const Space& space, const std::vector<Point>& observations, const Point& x,
                      const TpeOptions& options, std::size_t n_running = 0);
/// How many of n finished trials form "below" under `options`.
std::size_t tpe_n_below(std::size_t n, const TpeOptions& options);

/// log(Phi(b) - Phi(a)) of the standard normal, for a <= b, accurate in both tails.
double log_gauss_mass(double a, double b);
/// The x with Phi(x) = p, 0 < p < 1.
double normal_quantile(double p);

}  // namespace mammosweep::sweeps
