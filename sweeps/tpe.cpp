#include "sweeps/tpe.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>

namespace mammosweep::sweeps {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kSqrt2 = 1.4142135623730951;
constexpr double kLogSqrt2Pi = 0.91893853320467274;  // log(sqrt(2 pi))

/// log Phi(x): erfc where it does not underflow, the asymptotic series below.
double log_ndtr(double x) {
  if (x > 0) return std::log1p(-0.5 * std::erfc(x / kSqrt2));
  if (x > -37) return std::log(0.5 * std::erfc(-x / kSqrt2));
  const double z = 1 / (x * x);
  return -0.5 * x * x - std::log(-x) - kLogSqrt2Pi + std::log1p(z * (-1 + z * (3 - 15 * z)));
}

double log_normal_pdf(double z) { return -0.5 * z * z - kLogSqrt2Pi; }

}  // namespace

double log_gauss_mass(double a, double b) {
  if (!(a < b)) return -kInf;
  if (a > 0) return log_gauss_mass(-b, -a);
  if (b <= 0) {
    const double la = log_ndtr(a), lb = log_ndtr(b);
    return lb + std::log1p(-std::exp(la - lb));
  }
  return std::log1p(-0.5 * std::erfc(-a / kSqrt2) - 0.5 * std::erfc(b / kSqrt2));
}

double normal_quantile(double p) {
  if (!(p > 0 && p < 1)) throw std::invalid_argument("normal_quantile needs 0 < p < 1");
  if (p > 0.5) return -normal_quantile(1 - p);
  // Newton's method on f(x) = log Phi(x) - log p: f is increasing and concave, so the
  // iterates converge from any start (after the first step they approach from the right).
  const double target = std::log(p);
  double x = -std::sqrt(-2 * target);
  for (int i = 0; i < 100; ++i) {
    const double lphi = log_ndtr(x);
    const double dx = (lphi - target) / std::exp(log_normal_pdf(x) - lphi);
    x -= dx;
    if (std::abs(dx) <= 1e-15 * (1 + std::abs(x))) break;
  }
  return x;
}

namespace {

/// A point of the standard normal truncated to [a, b] (a <= 0 <= b here: every kernel's
/// centre lies inside its bounds), by inverting the CDF on the side with the smaller tail.
double truncnorm_draw(double a, double b, double u) {
  const double below = 0.5 * std::erfc(-a / kSqrt2);  // Phi(a)
  const double above = 0.5 * std::erfc(b / kSqrt2);   // 1 - Phi(b)
  const double mass = 1 - below - above;
  const double t = below + u * mass;
  if (t <= 0.5) return t > 0 ? std::max(a, normal_quantile(t)) : a;
  const double tc = above + (1 - u) * mass;  // 1 - t, without cancellation
  return tc > 0 ? std::min(b, -normal_quantile(tc)) : b;
}

/// Optuna's default weights of n trials in trial order: 1 each below 25 trials, else a ramp
/// from 1/n to 1 over the oldest n - 25 and 1 for the newest 25.
std::vector<double> trial_weights(std::size_t n, TpeWeights scheme) {
  std::vector<double> w(n, 1.0);
  if (n < 25 || scheme == TpeWeights::uniform) return w;
  const std::size_t ramp = n - 25;
  const double start = 1.0 / static_cast<double>(n);
  for (std::size_t i = 0; i < ramp; ++i) {
    w[i] = ramp == 1 ? start
                     : start + (1.0 - start) * static_cast<double>(i) /
                                   static_cast<double>(ramp - 1);
  }
  return w;
}

/// A numeric dimension's working interval: log space for log, widened by half a step on
/// each side for stepped dimensions.
struct Bounds {
  double lo, hi;
};
Bounds bounds_of(const Dimension& d) {
  double lo = d.low, hi = d.high;
  if (d.step > 0) lo -= d.step / 2, hi += d.step / 2;
  if (d.log) lo = std::log(lo), hi = std::log(hi);
  return {lo, hi};
}
double to_internal(const Dimension& d, double x) { return d.log ? std::log(x) : x; }

/// A mixture of product kernels over the space (one kernel per observation + the prior).
struct Parzen {
  std::vector<double> log_weight;  // per kernel
  std::vector<double> weight;      // per kernel, normalised
  // Per dimension, per kernel. Numeric: mu, sigma (working space) and the log of the
  // truncation mass. Categorical: log probability of each choice.
  std::vector<std::vector<double>> mu, sigma, log_norm;
  std::vector<std::vector<std::vector<double>>> log_p;
};

/// `obs` in trial order; the last `n_running` are running trials (the liar).
Parzen build(const Space& space, const std::vector<const Point*>& obs, const TpeOptions& opt,
             std::size_t n_running = 0) {
  const double prior_weight = opt.prior_weight;
  const std::size_t n = obs.size();
  Parzen pz;
  if (n == 0) {
    pz.weight = {1.0};
  } else {
    pz.weight = trial_weights(n, opt.weights);
    pz.weight.push_back(prior_weight);
  }
  const double total = std::accumulate(pz.weight.begin(), pz.weight.end(), 0.0);
  for (double& w : pz.weight) w /= total;
  for (double w : pz.weight) pz.log_weight.push_back(std::log(w));
  const std::size_t kernels = pz.weight.size();
  const std::size_t dims = space.size();
  pz.mu.resize(dims);
  pz.sigma.resize(dims);
  pz.log_norm.resize(dims);
  pz.log_p.resize(dims);
  for (std::size_t d = 0; d < dims; ++d) {
    const Dimension& dim = space[d];
    if (dim.kind == Dimension::Kind::categorical) {
      const auto c = static_cast<std::size_t>(dim.choices);
      if (n == 0) {
        pz.log_p[d].assign(1, std::vector<double>(c, -std::log(static_cast<double>(c))));
        continue;
      }
      const double base = prior_weight / static_cast<double>(n + 1);
      for (std::size_t k = 0; k < kernels; ++k) {
        std::vector<double> row(c, base);
        if (k < n) row[static_cast<std::size_t>((*obs[k])[d])] += 1;
        const double sum = std::accumulate(row.begin(), row.end(), 0.0);
        for (double& r : row) r = sum > 0 ? std::log(r / sum) : -std::log(static_cast<double>(c));
        pz.log_p[d].push_back(std::move(row));
      }
      continue;
    }
    const auto [lo, hi] = bounds_of(dim);
    std::vector<double> mus(n);
    for (std::size_t k = 0; k < n; ++k) mus[k] = to_internal(dim, (*obs[k])[d]);
    // Bandwidth: the larger gap to the sorted neighbours (the bounds count as neighbours,
    // except that the outermost observations use their inner gap), clipped.
    std::vector<double> sigmas(n);
    if (n > 0) {
      std::vector<std::size_t> order(n);
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(),
                       [&](std::size_t i, std::size_t j) { return mus[i] < mus[j]; });
      std::vector<double> s{lo};
      for (std::size_t i : order) s.push_back(mus[i]);
      s.push_back(hi);
      std::vector<double> sorted(n);
      for (std::size_t i = 0; i < n; ++i) sorted[i] = std::max(s[i + 1] - s[i], s[i + 2] - s[i + 1]);
      if (n >= 2) {
        sorted[0] = s[2] - s[1];
        sorted[n - 1] = s[n] - s[n - 1];
      }
      const double maxsigma = hi - lo;
      const double minsigma =
          std::max((hi - lo) / std::pow(std::min(100.0, 1.0 + static_cast<double>(n + 1)),
                                        opt.magic_clip_exponent),
                   opt.min_bandwidth_factor * (hi - lo));
      const double liar_minsigma = opt.liar_min_bandwidth_factor > 0
                                       ? opt.liar_min_bandwidth_factor * (hi - lo)
                                       : minsigma;
      for (std::size_t i = 0; i < n; ++i) {
        const bool running = order[i] >= n - n_running;
        sigmas[order[i]] = std::clamp(sorted[i], running ? liar_minsigma : minsigma, maxsigma);
      }
    }
    mus.push_back(0.5 * (lo + hi));
    sigmas.push_back(hi - lo);
    for (std::size_t k = 0; k < kernels; ++k) {
      pz.log_norm[d].push_back(log_gauss_mass((lo - mus[k]) / sigmas[k], (hi - mus[k]) / sigmas[k]));
    }
    pz.mu[d] = std::move(mus);
    pz.sigma[d] = std::move(sigmas);
  }
  return pz;
}

Point sample(const Parzen& pz, const Space& space, SplitMix64& rng) {
  // The kernel, by its weight (inverse CDF of the cumulative weights).
  const double u = unit(rng);
  std::size_t k = 0;
  for (double acc = pz.weight[0]; k + 1 < pz.weight.size() && u >= acc; acc += pz.weight[++k]) {
  }
  Point x(space.size());
  for (std::size_t d = 0; d < space.size(); ++d) {
    const Dimension& dim = space[d];
    const double v = unit(rng);
    if (dim.kind == Dimension::Kind::categorical) {
      const std::vector<double>& row = pz.log_p[d][k];
      std::size_t c = 0;
      for (double acc = std::exp(row[0]); c + 1 < row.size() && v >= acc; acc += std::exp(row[++c])) {
      }
      x[d] = static_cast<double>(c);
      continue;
    }
    const auto [lo, hi] = bounds_of(dim);
    const double mu = pz.mu[d][k], sigma = pz.sigma[d][k];
    double y = mu + sigma * truncnorm_draw((lo - mu) / sigma, (hi - mu) / sigma, v);
    y = std::clamp(y, lo, hi);
    x[d] = snap(dim, dim.log ? std::exp(y) : y);
  }
  return x;
}

double log_pdf(const Parzen& pz, const Space& space, const Point& x) {
  const std::size_t kernels = pz.weight.size();
  std::vector<double> lp(pz.log_weight);
  for (std::size_t d = 0; d < space.size(); ++d) {
    const Dimension& dim = space[d];
    if (dim.kind == Dimension::Kind::categorical) {
      const auto c = static_cast<std::size_t>(x[d]);
      for (std::size_t k = 0; k < kernels; ++k) lp[k] += pz.log_p[d][k][c];
      continue;
    }
    if (dim.step > 0) {  // the mass of the step around x
      const double left = to_internal(dim, x[d] - dim.step / 2);
      const double right = to_internal(dim, x[d] + dim.step / 2);
      for (std::size_t k = 0; k < kernels; ++k) {
        const double mu = pz.mu[d][k], sigma = pz.sigma[d][k];
        lp[k] += log_gauss_mass((left - mu) / sigma, (right - mu) / sigma) - pz.log_norm[d][k];
      }
      continue;
    }
    const double y = to_internal(dim, x[d]);
    for (std::size_t k = 0; k < kernels; ++k) {
      const double sigma = pz.sigma[d][k];
      lp[k] += log_normal_pdf((y - pz.mu[d][k]) / sigma) - std::log(sigma) - pz.log_norm[d][k];
    }
  }
  const double top = *std::max_element(lp.begin(), lp.end());
  if (!std::isfinite(top)) return top;
  double sum = 0;
  for (double v : lp) sum += std::exp(v - top);
  return top + std::log(sum);
}

}  // namespace

double parzen_log_pdf(const Space& space, const std::vector<Point>& observations, const Point& x,
                      const TpeOptions& options, std::size_t n_running) {
  if (n_running > observations.size()) throw std::invalid_argument("n_running exceeds the observations");
  std::vector<const Point*> obs;
  for (const Point& o : observations) obs.push_back(&o);
  return log_pdf(build(space, obs, options, n_running), space, x);
}

double parzen_log_pdf(const Space& space, const std::vector<Point>& observations, const Point& x,
                      double prior_weight) {
  TpeOptions options = TpeOptions::optuna();
  options.prior_weight = prior_weight;
  return parzen_log_pdf(space, observations, x, options);
}

std::size_t tpe_n_below(std::size_t n, const TpeOptions& options) {
  const double m = options.gamma == TpeGamma::sqrt ? std::sqrt(static_cast<double>(n))
                                                   : static_cast<double>(n);
  const double k = std::ceil(options.gamma_beta * m);
  return std::min<std::size_t>({n, 25, std::max<std::size_t>(1, static_cast<std::size_t>(k))});
}

TpeSampler::TpeSampler(Space space, std::uint64_t seed, TpeOptions options)
    : space_(std::move(space)), seed_(seed), options_(options) {
  check_space(space_);
  if (options_.n_startup_trials < 0) throw std::invalid_argument("n_startup_trials must be >= 0");
  if (options_.n_ei_candidates < 1) throw std::invalid_argument("n_ei_candidates must be >= 1");
  if (!(options_.prior_weight > 0)) throw std::invalid_argument("prior_weight must be > 0");
  if (!(options_.gamma_beta > 0)) throw std::invalid_argument("gamma_beta must be > 0");
  if (!(options_.magic_clip_exponent >= 0)) throw std::invalid_argument("magic_clip_exponent must be >= 0");
  if (!(options_.min_bandwidth_factor > 0 && options_.min_bandwidth_factor <= 1))
    throw std::invalid_argument("min_bandwidth_factor must be in (0, 1]");
  if (!(options_.liar_min_bandwidth_factor >= 0 && options_.liar_min_bandwidth_factor <= 1))
    throw std::invalid_argument("liar_min_bandwidth_factor must be in [0, 1]");
}

Point TpeSampler::ask(std::uint64_t index, const std::vector<Observation>& history,
                      const std::vector<Point>& pending) const {
  SplitMix64 rng = proposal_rng(seed_, index);
  if (history.size() < static_cast<std::size_t>(options_.n_startup_trials) || history.empty()) {
    return random_point(space_, rng);
  }
  for (const Observation& o : history) {
    if (o.x.size() != space_.size()) throw std::invalid_argument("an observation has the wrong dimension");
  }
  // Rank: complete trials by value, then stopped ones (more epochs first, then value);
  // NaN counts as the worst value; ties keep proposal order.
  auto key = [](const Observation& o) { return std::isnan(o.value) ? kInf : o.value; };
  std::vector<std::size_t> rank(history.size());
  std::iota(rank.begin(), rank.end(), 0);
  std::stable_sort(rank.begin(), rank.end(), [&](std::size_t i, std::size_t j) {
    const Observation &a = history[i], &b = history[j];
    if (a.stopped != b.stopped) return !a.stopped;
    if (a.stopped && a.epochs != b.epochs) return a.epochs > b.epochs;
    return key(a) < key(b);
  });
  const std::size_t n_below = tpe_n_below(history.size(), options_);
  std::vector<bool> is_below(history.size(), false);
  for (std::size_t i = 0; i < n_below; ++i) is_below[rank[i]] = true;
  std::vector<const Point*> below, above;  // in proposal order; running trials last, above
  for (std::size_t i = 0; i < history.size(); ++i) (is_below[i] ? below : above).push_back(&history[i].x);
  for (const Point& p : pending) {
    if (p.size() != space_.size()) throw std::invalid_argument("a pending point has the wrong dimension");
    above.push_back(&p);
  }
  const Parzen l = build(space_, below, options_);
  const Parzen g = build(space_, above, options_, pending.size());
  Point best;
  double best_score = -kInf;
  for (int c = 0; c < options_.n_ei_candidates; ++c) {
    Point x = sample(l, space_, rng);
    const double score = log_pdf(l, space_, x) - log_pdf(g, space_, x);
    if (best.empty() || score > best_score) best = std::move(x), best_score = score;
  }
  return best;
}

}  // namespace mammosweep::sweeps
