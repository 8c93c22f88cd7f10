// Random search's draws follow W&B's distributions. Each test draws many values with a fixed
// seed and compares them with the distribution's CDF or probability mass written out here
// independently of sweeps/distributions.cpp (closed forms, std::erfc): a Kolmogorov-Smirnov
// statistic below its 0.1 % critical value, or every frequency within 4.5 standard errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>

#include "sweeps/distributions.h"
#include "sweeps/parse.h"

namespace mammosweep::sweeps {
namespace {

constexpr int kDraws = 20000;
const double kKsCritical = 1.949 / std::sqrt(static_cast<double>(kDraws));  // alpha = 0.001

/// A parameter with no bounds, so that the draws are the distribution itself.
ParamDef free_param(ParamType type, Interval range = {}) {
  ParamDef d;
  d.name = "x";
  d.type = type;
  d.range = range;
  return d;
}

std::vector<double> draw_reals(const Domain& dom, const ParamDef& def, std::uint64_t seed) {
  std::vector<double> xs;
  std::uint64_t state = seed;
  for (int i = 0; i < kDraws; ++i) {
    Value v = draw(def, dom, state);
    xs.push_back(std::holds_alternative<double>(v) ? std::get<double>(v)
                                                    : static_cast<double>(std::get<std::int64_t>(v)));
  }
  return xs;
}

/// sup |F_n(x) - F(x)| over the sample.
double ks_statistic(std::vector<double> xs, const std::function<double(double)>& cdf) {
  std::sort(xs.begin(), xs.end());
  double d = 0;
  const double n = static_cast<double>(xs.size());
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const double f = cdf(xs[i]);
    d = std::max({d, std::fabs(static_cast<double>(i + 1) / n - f),
                  std::fabs(f - static_cast<double>(i) / n)});
  }
  return d;
}

double normal_cdf(double x, double mu, double sigma) {
  return 0.5 * std::erfc(-(x - mu) / (sigma * std::sqrt(2.0)));
}

/// Regularised incomplete beta I_x(a, b) for integer a, b: the binomial tail sum.
double beta_cdf_integer(double x, int a, int b) {
  const int n = a + b - 1;
  double sum = 0;
  for (int j = a; j <= n; ++j) {
    sum += std::exp(std::lgamma(n + 1.0) - std::lgamma(j + 1.0) - std::lgamma(n - j + 1.0)) *
           std::pow(x, j) * std::pow(1 - x, n - j);
  }
  return sum;
}

/// Every value's frequency within 4.5 standard errors of its probability; no other value.
void expect_pmf(const std::vector<double>& xs, const std::map<double, double>& pmf) {
  std::map<double, int> counts;
  for (double x : xs) ++counts[x];
  for (const auto& [x, c] : counts) {
    ASSERT_TRUE(pmf.count(x)) << "drew " << x << ", which has probability 0";
  }
  double total = 0;
  for (const auto& [x, p] : pmf) {
    total += p;
    const double freq = static_cast<double>(counts[x]) / kDraws;
    const double se = std::sqrt(std::max(p * (1 - p), 1e-12) / kDraws);
    EXPECT_NEAR(freq, p, 4.5 * se) << "value " << x;
  }
  EXPECT_NEAR(total, 1.0, 1e-9);
}

TEST(Distributions, UniformMatchesItsCdf) {
  Domain d;
  d.kind = Domain::Kind::uniform;
  d.min = -2;
  d.max = 5;
  const auto xs = draw_reals(d, free_param(ParamType::real), 1);
  EXPECT_LT(ks_statistic(xs, [](double x) { return (x + 2) / 7; }), kKsCritical);
}

TEST(Distributions, LogUniformIsUniformInLogSpace) {
  Domain d;
  d.kind = Domain::Kind::log_uniform;
  d.min = 1e-5;
  d.max = 1e-2;
  const auto xs = draw_reals(d, free_param(ParamType::real), 2);
  EXPECT_LT(ks_statistic(xs, [](double x) {
              return (std::log10(x) + 5) / 3;  // log10 uniform on [-5, -2]
            }),
            kKsCritical);
}

TEST(Distributions, NormalAndLogNormalMatchTheirCdfs) {
  Domain d;
  d.kind = Domain::Kind::normal;
  d.mu = 3;
  d.sigma = 0.5;
  auto xs = draw_reals(d, free_param(ParamType::real), 3);
  EXPECT_LT(ks_statistic(xs, [](double x) { return normal_cdf(x, 3, 0.5); }), kKsCritical);
  d.kind = Domain::Kind::log_normal;
  d.mu = -7;
  d.sigma = 1.5;
  xs = draw_reals(d, free_param(ParamType::real), 4);
  EXPECT_LT(ks_statistic(xs, [](double x) { return normal_cdf(std::log(x), -7, 1.5); }),
            kKsCritical);
}

TEST(Distributions, BetaMatchesItsCdf) {
  Domain d;
  d.kind = Domain::Kind::beta;
  d.a = 2;
  d.b = 5;
  auto xs = draw_reals(d, free_param(ParamType::real), 5);
  EXPECT_LT(ks_statistic(xs, [](double x) { return beta_cdf_integer(x, 2, 5); }), kKsCritical);
  // Shapes below 1 take the Gamma(shape + 1) * U^(1/shape) path: arcsine law.
  d.a = 0.5;
  d.b = 0.5;
  xs = draw_reals(d, free_param(ParamType::real), 6);
  constexpr double pi = 3.14159265358979323846;
  EXPECT_LT(ks_statistic(xs, [](double x) { return 2 / pi * std::asin(std::sqrt(x)); }),
            kKsCritical);
  // Moments of Beta(3.5, 1.2): mean a/(a+b), variance ab/((a+b)^2 (a+b+1)).
  d.a = 3.5;
  d.b = 1.2;
  xs = draw_reals(d, free_param(ParamType::real), 7);
  double mean = 0, var = 0;
  for (double x : xs) mean += x / kDraws;
  for (double x : xs) var += (x - mean) * (x - mean) / (kDraws - 1);
  const double m = 3.5 / 4.7, v = 3.5 * 1.2 / (4.7 * 4.7 * 5.7);
  EXPECT_NEAR(mean, m, 4.5 * std::sqrt(v / kDraws));
  EXPECT_NEAR(var, v, 0.05 * v);
}

TEST(Distributions, IntUniformIsUniformOnTheIntegers) {
  Domain d;
  d.kind = Domain::Kind::int_uniform;
  d.min = 3;
  d.max = 9;
  const auto xs = draw_reals(d, free_param(ParamType::integer), 8);
  std::map<double, double> pmf;
  for (int k = 3; k <= 9; ++k) pmf[k] = 1.0 / 7;
  expect_pmf(xs, pmf);
}

TEST(Distributions, QUniformRoundsHalfToEven) {
  // W&B: round(U(0.1, 1.05) / 0.25) * 0.25, numpy.round (ties to even; a tie has
  // probability 0 here). Each multiple k*q gets the length of [(k-1/2)q, (k+1/2)q] inside
  // [0.1, 1.05] over 0.95.
  Domain d;
  d.kind = Domain::Kind::uniform;
  d.min = 0.1;
  d.max = 1.05;
  d.q = 0.25;
  const auto xs = draw_reals(d, free_param(ParamType::real), 9);
  std::map<double, double> pmf;
  for (int k = 0; k <= 4; ++k) {
    const double lo = std::max(0.1, (k - 0.5) * 0.25), hi = std::min(1.05, (k + 0.5) * 0.25);
    if (hi > lo) pmf[k * 0.25] = (hi - lo) / 0.95;
  }
  expect_pmf(xs, pmf);
  EXPECT_EQ(quantize(2.5, 1), 2.0);  // ties to even, as numpy.round
  EXPECT_EQ(quantize(3.5, 1), 4.0);
  EXPECT_EQ(quantize(0.29, 0.1), 0.3);  // not 0.30000000000000004
}

TEST(Distributions, QLogUniformValuesAndQNormalFollowTheirCdfs) {
  // q_log_uniform_values(min 10, max 1000, q 100): P(k*100) = F((k+1/2)100) - F((k-1/2)100),
  // F the log-uniform CDF clipped to [10, 1000]; integer parameter, integer q.
  Domain d;
  d.kind = Domain::Kind::log_uniform;
  d.min = 10;
  d.max = 1000;
  d.q = 100;
  auto log_cdf = [](double x) {
    x = std::clamp(x, 10.0, 1000.0);
    return (std::log(x) - std::log(10.0)) / (std::log(1000.0) - std::log(10.0));
  };
  auto xs = draw_reals(d, free_param(ParamType::integer), 10);
  std::map<double, double> pmf;
  for (int k = 0; k <= 10; ++k) {
    const double p = log_cdf((k + 0.5) * 100) - log_cdf((k - 0.5) * 100);
    if (p > 0) pmf[k * 100.0] = p;
  }
  expect_pmf(xs, pmf);

  d = Domain{};
  d.kind = Domain::Kind::normal;
  d.mu = 0;
  d.sigma = 2;
  d.q = 1;
  xs = draw_reals(d, free_param(ParamType::integer), 11);
  pmf.clear();
  for (int k = -12; k <= 12; ++k) {
    pmf[k] = normal_cdf(k + 0.5, 0, 2) - normal_cdf(k - 0.5, 0, 2);
  }
  double tails = 1;
  for (const auto& [k, p] : pmf) tails -= p;
  ASSERT_LT(tails, 1e-8);  // beyond +-12.5: never drawn in 20,000
  pmf[0] += tails;         // keeps the total 1 for the check
  expect_pmf(xs, pmf);
}

TEST(Distributions, WeightedValuesFollowTheirProbabilities) {
  Domain d;
  d.kind = Domain::Kind::values;
  d.values = {std::string("adam"), std::string("sgd"), std::string("rmsprop")};
  d.weights = {0.6, 0.1, 0.3};
  std::uint64_t state = 12;
  std::map<std::string, int> counts;
  for (int i = 0; i < kDraws; ++i) {
    ++counts[std::get<std::string>(draw(free_param(ParamType::string), d, state))];
  }
  const std::map<std::string, double> p{{"adam", 0.6}, {"sgd", 0.1}, {"rmsprop", 0.3}};
  for (const auto& [name, prob] : p) {
    EXPECT_NEAR(static_cast<double>(counts[name]) / kDraws, prob,
                4.5 * std::sqrt(prob * (1 - prob) / kDraws))
        << name;
  }
}

TEST(Distributions, DrawsOutsideTheParameterRangeAreDrawnAgain) {
  // normal(0.5, 0.5) for a parameter in [0, 1): the normal restricted to [0, 1).
  Domain d;
  d.kind = Domain::Kind::normal;
  d.mu = 0.5;
  d.sigma = 0.5;
  const auto xs = draw_reals(d, free_param(ParamType::real, closed_open(0, 1)), 13);
  for (double x : xs) ASSERT_TRUE(x >= 0 && x < 1) << x;
  const double f0 = normal_cdf(0, 0.5, 0.5), f1 = normal_cdf(1, 0.5, 0.5);
  EXPECT_LT(ks_statistic(xs, [&](double x) { return (normal_cdf(x, 0.5, 0.5) - f0) / (f1 - f0); }),
            kKsCritical);
  // A distribution with no mass in range: a clear error after 1000 draws.
  d.mu = 50;
  d.sigma = 0.1;
  std::uint64_t state = 14;
  EXPECT_THROW(draw(free_param(ParamType::real, closed_open(0, 1)), d, state),
               std::invalid_argument);
}

TEST(Distributions, SameSeedSameDraws) {
  Domain d;
  d.kind = Domain::Kind::beta;
  d.a = 0.7;
  d.b = 2.5;
  d.q = 0.05;
  EXPECT_EQ(draw_reals(d, free_param(ParamType::real), 99),
            draw_reals(d, free_param(ParamType::real), 99));
}

TEST(Distributions, GridPointsAreWandbs) {
  Domain d;
  d.kind = Domain::Kind::int_uniform;
  d.min = 2;
  d.max = 5;
  EXPECT_EQ(grid_points(d), (std::vector<double>{2, 3, 4, 5}));
  d.kind = Domain::Kind::uniform;
  d.min = 0.1;
  d.max = 0.5;
  d.q = 0.1;  // numpy.arange(0.1, 0.5, 0.1): max excluded
  EXPECT_EQ(grid_points(d), (std::vector<double>{0.1, 0.2, 0.3, 0.4}));
  d.q = 0;
  EXPECT_TRUE(grid_points(d).empty());
}

}  // namespace
}  // namespace mammosweep::sweeps
