// The TPE sampler (sweeps/tpe.h) on its ask/tell interface: reproducible proposals, bounds
// and types kept, concentration near the optimum of a simple objective (against random
// search, whose rate near the optimum is known exactly), the constant liar spreading
// proposals made while others run, and the normal-distribution helpers against reference
// values computed elsewhere.
#include "sweeps/tpe.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <vector>

namespace mammosweep::sweeps {
namespace {

Dimension real(const char* name, double lo, double hi, bool log = false, double step = 0) {
  Dimension d;
  d.name = name;
  d.low = lo;
  d.high = hi;
  d.log = log;
  d.step = step;
  return d;
}
Dimension cat(const char* name, int n) {
  Dimension d;
  d.name = name;
  d.kind = Dimension::Kind::categorical;
  d.choices = n;
  return d;
}

const Space kMixed = {real("lr", 1e-5, 1e-1, true), cat("optimizer", 4), real("units", 16, 256, false, 16),
                      real("dropout", 0, 0.7), real("epochs", 1, 9, false, 1),
                      real("batch", 8, 128, true, 1)};

/// Runs `n` sequential trials of `f` (smaller is better) and returns the history.
std::vector<Observation> run(const Sampler& s, const std::function<double(const Point&)>& f, int n) {
  std::vector<Observation> h;
  for (int i = 0; i < n; ++i) {
    Point x = s.ask(static_cast<std::uint64_t>(i), h, {});
    h.push_back({x, f(x)});
  }
  return h;
}

double mixed_objective(const Point& x) {
  return std::pow(std::log10(x[0]) + 3, 2) + (x[1] == 2 ? 0 : 1) + std::abs(x[2] - 128) / 64 +
         x[3] + std::abs(x[4] - 5) + std::abs(std::log2(x[5]) - 5);
}

TEST(Tpe, SameSeedAndHistoryGiveTheSameProposal) {
  TpeSampler a(kMixed, 42), b(kMixed, 42), c(kMixed, 43);
  std::vector<Observation> h = run(a, mixed_objective, 30);
  // A second sampler fed the same history proposes the same points, bit for bit.
  std::vector<Observation> h2 = run(b, mixed_objective, 30);
  for (std::size_t i = 0; i < h.size(); ++i) EXPECT_EQ(h[i].x, h2[i].x) << "proposal " << i;
  const std::vector<Point> pending = {h[3].x};
  EXPECT_EQ(a.ask(30, h, pending), b.ask(30, h, pending));
  // Another seed or another proposal number gives another point.
  EXPECT_NE(a.ask(30, h, pending), c.ask(30, h, pending));
  EXPECT_NE(a.ask(30, h, pending), a.ask(31, h, pending));
}

TEST(Tpe, ProposalsStayInBoundsOnTheGridAndInTheChoices) {
  TpeSampler s(kMixed, 7, {5, 24, 1.0});
  std::vector<Observation> h = run(s, mixed_objective, 80);
  for (const Observation& o : h) {
    ASSERT_EQ(o.x.size(), kMixed.size());
    EXPECT_GE(o.x[0], 1e-5);
    EXPECT_LE(o.x[0], 1e-1);
    EXPECT_TRUE(o.x[1] == 0 || o.x[1] == 1 || o.x[1] == 2 || o.x[1] == 3) << o.x[1];
    EXPECT_EQ(std::fmod(o.x[2] - 16, 16), 0.0) << o.x[2];
    EXPECT_GE(o.x[2], 16);
    EXPECT_LE(o.x[2], 256);
    EXPECT_GE(o.x[3], 0);
    EXPECT_LE(o.x[3], 0.7);
    EXPECT_EQ(o.x[4], std::round(o.x[4]));
    EXPECT_GE(o.x[4], 1);
    EXPECT_LE(o.x[4], 9);
    EXPECT_EQ(o.x[5], std::round(o.x[5]));
    EXPECT_GE(o.x[5], 8);
    EXPECT_LE(o.x[5], 128);
  }
  // The optimum's categorical choice is found and kept: most late proposals take it.
  int hits = 0;
  for (std::size_t i = 40; i < h.size(); ++i) hits += h[i].x[1] == 2;
  EXPECT_GT(hits, 20) << "of 40";
}

TEST(Tpe, ConcentratesNearTheOptimumOfAOneDimensionalObjective) {
  // f(x) = (x - 0.3)^2 on [0, 1]. Random search puts exactly 10% of its points within
  // 0.05 of the optimum; TPE, after its 10 random trials, puts several times as many there
  // (Optuna 5.0's TPESampler, same seeds 1..20 and budget: 36% of trials 20..39).
  const Space space = {real("x", 0, 1)};
  auto f = [](const Point& x) { return (x[0] - 0.3) * (x[0] - 0.3); };
  int near = 0, total = 0;
  double tpe_best_sum = 0, random_best_sum = 0;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    std::vector<Observation> h = run(TpeSampler(space, seed), f, 40);
    for (std::size_t i = 20; i < h.size(); ++i) near += std::abs(h[i].x[0] - 0.3) < 0.05, ++total;
    auto best = [](const std::vector<Observation>& hist) {
      double b = std::numeric_limits<double>::infinity();
      for (const auto& o : hist) b = std::min(b, o.value);
      return b;
    };
    tpe_best_sum += best(h);
    random_best_sum += best(run(RandomSampler(space, seed), f, 40));
  }
  const double rate = static_cast<double>(near) / total;  // 400 proposals
  // Under the random rate 0.1 the count is Binomial(400, 0.1): mean 40, sd 6; 0.25 is 10 sd.
  EXPECT_GT(rate, 0.25);
  EXPECT_LT(tpe_best_sum, random_best_sum / 5);
}

TEST(Tpe, ConstantLiarSpreadsProposalsMadeWhileOthersRun) {
  // Four proposals in a row, each made while the previous ones run: told about them (the
  // liar), they spread; not told, the same four proposal numbers crowd the same optimum.
  const Space space = {real("x", 0, 1), real("y", 0, 1)};
  auto f = [](const Point& p) { return std::pow(p[0] - 0.7, 2) + std::pow(p[1] - 0.2, 2); };
  double spread_liar = 0, spread_blind = 0;
  for (std::uint64_t seed = 1; seed <= 30; ++seed) {
    TpeSampler s(space, seed);
    std::vector<Observation> h = run(s, f, 30);
    std::vector<Point> with, without;
    for (std::uint64_t k = 30; k < 34; ++k) {
      with.push_back(s.ask(k, h, with));
      without.push_back(s.ask(k, h, {}));
    }
    auto min_pair = [](const std::vector<Point>& ps) {
      double m = std::numeric_limits<double>::infinity();
      for (std::size_t i = 0; i < ps.size(); ++i)
        for (std::size_t j = i + 1; j < ps.size(); ++j)
          m = std::min(m, std::hypot(ps[i][0] - ps[j][0], ps[i][1] - ps[j][1]));
      return m;
    };
    spread_liar += min_pair(with);
    spread_blind += min_pair(without);
    EXPECT_EQ(with[0], without[0]);  // nothing pending yet: the same proposal
  }
  EXPECT_GT(spread_liar, 1.5 * spread_blind) << spread_liar / 30 << " vs " << spread_blind / 30;
}

TEST(Tpe, StoppedTrialsRankAfterCompleteOnesByEpochsReached) {
  // Eleven trials: ten at x = 0.9 that ran to the end with bad values, and one at x = 0.1
  // stopped early with an excellent last-epoch value. gamma(11) = 2 trials are "good":
  // the best complete trial and then the stopped one, so proposals still go towards the
  // complete trials' region rather than only to the stopped one.
  const Space space = {real("x", 0, 1)};
  std::vector<Observation> h;
  for (int i = 0; i < 10; ++i) h.push_back({{0.9 + 0.001 * i}, 5.0 + i});
  h.push_back({{0.1}, -100.0, /*stopped=*/true, 1});
  TpeSampler s(space, 3);
  int near_complete = 0;
  for (std::uint64_t k = 0; k < 40; ++k) near_complete += s.ask(11 + k, h, {})[0] > 0.5;
  // Were the stopped trial's value taken at face value it would be the only good trial
  // and most proposals would sit near 0.1; ranked after complete ones, both are "good".
  EXPECT_GT(near_complete, 8) << "of 40";
  // And the same history with the trial not stopped: it is then the clear best.
  h.back().stopped = false;
  int near_complete_unstopped = 0;
  for (std::uint64_t k = 0; k < 40; ++k) near_complete_unstopped += s.ask(11 + k, h, {})[0] > 0.5;
  EXPECT_LT(near_complete_unstopped, near_complete);
}

TEST(Tpe, RandomPhaseUsesTheStartupCount) {
  const Space space = {real("x", 0, 1)};
  TpeSampler tpe(space, 9, {4, 24, 1.0});
  RandomSampler rnd(space, 9);
  std::vector<Observation> h;
  for (std::uint64_t k = 0; k < 4; ++k) {
    EXPECT_EQ(tpe.ask(k, h, {}), rnd.ask(k, h, {}));
    h.push_back({{0.5}, 1.0});
  }
  EXPECT_NE(tpe.ask(4, h, {}), rnd.ask(4, h, {}));
}

TEST(Tpe, BadSpacesAreRefusedByName) {
  EXPECT_THROW(TpeSampler({real("lr", 0, 1, true)}, 1), std::invalid_argument);
  EXPECT_THROW(TpeSampler({real("x", 2, 1)}, 1), std::invalid_argument);
  EXPECT_THROW(TpeSampler({cat("c", 0)}, 1), std::invalid_argument);
  try {
    TpeSampler({real("lr", 0, 1, true)}, 1);
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("'lr'"), std::string::npos) << e.what();
  }
}

TEST(Tpe, ParzenEstimatorMatchesOptunas) {
  // Reference: optuna 5.0.0, _ParzenEstimator(observations, search_space,
  // _ParzenEstimatorParameters(1.0, True, False, default_weights, True)).log_pdf(x), for
  // FloatDistribution(-5, 10), FloatDistribution(1e-5, 1e-1, log=True),
  // CategoricalDistribution(["a", "b", "c"]) and IntDistribution(1, 9).
  const Space space = {real("x", -5, 10), real("lr", 1e-5, 1e-1, true), cat("c", 3),
                       real("i", 1, 9, false, 1)};
  const std::vector<Point> obs = {{0.5, 1e-3, 1, 3}, {2.0, 3e-2, 0, 7}, {-4, 2e-5, 2, 1},
                                  {9, 1e-4, 1, 5}};
  EXPECT_NEAR(parzen_log_pdf(space, obs, {0, 1e-3, 1, 3}), -7.32302925472306, 1e-12);
  EXPECT_NEAR(parzen_log_pdf(space, obs, {5, 1e-2, 2, 9}), -9.227300159518343, 1e-12);
  EXPECT_NEAR(parzen_log_pdf(space, obs, {-5, 1e-5, 0, 1}), -7.673072163945327, 1e-12);
  EXPECT_NEAR(parzen_log_pdf(space, obs, {9.9, 0.09, 1, 6}), -9.222905644484317, 1e-12);
  // 30 observations: past 25 the older ones weigh less (Optuna's ramp).
  std::vector<Point> many;
  for (int i = 0; i < 30; ++i) many.push_back({std::fmod(i * 0.37, 1.0)});
  const Space unit_space = {real("x", 0, 1)};
  EXPECT_NEAR(parzen_log_pdf(unit_space, many, {0.05}), -0.1324960397880668, 1e-12);
  EXPECT_NEAR(parzen_log_pdf(unit_space, many, {0.5}), 0.002768850880722651, 1e-12);
  EXPECT_NEAR(parzen_log_pdf(unit_space, many, {0.99}), 0.1357153073535316, 1e-12);
  // The same through the options: TpeOptions::optuna() is Optuna's estimator.
  EXPECT_NEAR(parzen_log_pdf(space, obs, {0, 1e-3, 1, 3}, TpeOptions::optuna()), -7.32302925472306,
              1e-12);
  EXPECT_NEAR(parzen_log_pdf(unit_space, many, {0.5}, TpeOptions::optuna()), 0.002768850880722651,
              1e-12);
}

TEST(Tpe, DefaultBandwidthFloorIsFivePercentOfTheRange) {
  // Two observations 1e-4 apart in [0, 1]: their gap-based bandwidths are clipped up to the
  // floor, Optuna's range / min(100, n + 2) = 1/4 or mammosweep's default 0.05 * range.
  const Space unit_space = {real("x", 0, 1)};
  const std::vector<Point> obs = {{0.5}, {0.5001}};
  auto expected = [](double sigma) {
    auto phi = [](double z) { return std::exp(-0.5 * z * z) / std::sqrt(2 * 3.14159265358979323846); };
    auto mass = [](double mu, double s) {
      return 0.5 * (std::erf((1 - mu) / s / std::sqrt(2.0)) - std::erf((0 - mu) / s / std::sqrt(2.0)));
    };
    const double k1 = phi(0) / sigma / mass(0.5, sigma);
    const double k2 = phi(1e-4 / sigma) / sigma / mass(0.5001, sigma);
    const double prior = phi(0) / 1.0 / mass(0.5, 1.0);
    return std::log((k1 + k2 + prior) / 3);
  };
  EXPECT_NEAR(parzen_log_pdf(unit_space, obs, {0.5}, TpeOptions{}), expected(0.05), 1e-9);
  EXPECT_NEAR(parzen_log_pdf(unit_space, obs, {0.5}, TpeOptions::optuna()), expected(0.25), 1e-9);
  // The split is Optuna's in both: ceil(0.1 n), at most 25.
  for (std::size_t n : std::vector<std::size_t>{1, 9, 10, 11, 50, 100, 249, 251, 1000}) {
    EXPECT_EQ(tpe_n_below(n, TpeOptions{}), std::min<std::size_t>(25, (n + 9) / 10)) << n;
  }
}

TEST(Tpe, RunningTrialsKernelsUseTheLiarFloor) {
  // Three observations in [0, 1], the last one running (the constant liar): its gap-based
  // bandwidth (1e-4) is clipped up to the liar's floor, 1 % of the range by default, where
  // the finished trials' kernels (gap 0.3) keep theirs. With the liar's floor at 0 the
  // running kernel gets the common floor (5 %), and TpeOptions::optuna() clips every kernel
  // alike (range / min(100, n + 2) = 1/5).
  const Space unit_space = {real("x", 0, 1)};
  const std::vector<Point> obs = {{0.2}, {0.5}, {0.5001}};
  auto kernel = [](double x, double mu, double s) {
    const double phi = std::exp(-0.5 * std::pow((x - mu) / s, 2)) / std::sqrt(2 * 3.14159265358979323846);
    const double mass = 0.5 * (std::erf((1 - mu) / s / std::sqrt(2.0)) - std::erf((0 - mu) / s / std::sqrt(2.0)));
    return phi / s / mass;
  };
  auto expected = [&](double x, double s_other, double s_running) {
    return std::log((kernel(x, 0.2, s_other) + kernel(x, 0.5, s_other) +
                     kernel(x, 0.5001, s_running) + kernel(x, 0.5, 1.0)) / 4);
  };
  TpeOptions common_floor;
  common_floor.liar_min_bandwidth_factor = 0;
  for (double x : {0.5, 0.51, 0.55, 0.9}) {
    EXPECT_NEAR(parzen_log_pdf(unit_space, obs, {x}, TpeOptions{}, 1), expected(x, 0.3, 0.01), 1e-9) << x;
    EXPECT_NEAR(parzen_log_pdf(unit_space, obs, {x}, TpeOptions{}, 0), expected(x, 0.3, 0.05), 1e-9) << x;
    EXPECT_NEAR(parzen_log_pdf(unit_space, obs, {x}, common_floor, 1), expected(x, 0.3, 0.05), 1e-9) << x;
    EXPECT_NEAR(parzen_log_pdf(unit_space, obs, {x}, TpeOptions::optuna(), 1), expected(x, 0.3, 0.2), 1e-9)
        << x;
  }
  EXPECT_THROW(parzen_log_pdf(unit_space, obs, {0.5}, TpeOptions{}, 4), std::invalid_argument);
  TpeOptions bad;
  bad.liar_min_bandwidth_factor = 1.5;
  EXPECT_THROW(TpeSampler(unit_space, 1, bad), std::invalid_argument);
}

TEST(NormalHelpers, MatchReferenceValues) {
  // Reference values: Python's statistics.NormalDist().inv_cdf (Wichura's AS241) and
  // math.erfc, and mpmath's log(ncdf(-40)) for the far tail.
  EXPECT_NEAR(normal_quantile(0.975), 1.959963984540054, 1e-13);
  EXPECT_NEAR(normal_quantile(0.5), 0.0, 1e-15);
  EXPECT_NEAR(normal_quantile(1e-10), -6.361340902404056, 1e-11);
  EXPECT_NEAR(normal_quantile(1e-300), -37.0470962993612, 1e-9);
  EXPECT_NEAR(log_gauss_mass(-1, 1), std::log(0.6826894921370859), 1e-14);
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_NEAR(log_gauss_mass(40, inf), -804.6084420137538, 1e-9);
  EXPECT_NEAR(log_gauss_mass(-inf, -40), -804.6084420137538, 1e-9);
  EXPECT_NEAR(log_gauss_mass(2, 3), std::log(0.021400233916549122), 1e-12);
  EXPECT_EQ(log_gauss_mass(1, 1), -inf);
}

}  // namespace
}  // namespace mammosweep::sweeps
