// The TPE sampler (sweeps/tpe.h) against random search on analytic objectives, through the
// ask/tell interface, with no training: best value found after 50 and 100 trials over
// seeds 1..N (median and interquartile range), sequentially and asynchronously (every
// proposal made while 4 other trials still run: the constant liar at work), and the
// sampler's own cost per proposal with 10, 100 and 1,000 finished trials.
// bench/tpe_bench.py runs Optuna's TPESampler and RandomSampler on the same objectives.
//
//   build/bench/tpe_bench [--seeds 20] [--first-seed 1] [--cost-only | --only OBJECTIVE]
//                         [--tpe-only] [--optuna] [--gamma linear|sqrt] [--beta B]
//                         [--weights old-decay|uniform] [--candidates N] [--prior W]
//                         [--startup N] [--clip-exponent A] [--min-bandwidth F]
//                         [--liar-bandwidth F] [--per-seed]
//
// --first-seed S runs seeds S..S+N-1; --optuna uses TpeOptions::optuna() (Optuna 5's
// TPESampler defaults) instead of mammosweep's defaults; the other flags override one option
// (--liar-bandwidth 0: running trials' kernels floored like the others); --per-seed also
// prints every seed's best values after 50 and 100 trials.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "bench/tpe_objectives.h"
#include "sweeps/tpe.h"

using namespace mammosweep;

namespace {

/// numpy's default (linear) quantile.
double quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const auto i = static_cast<std::size_t>(pos);
  if (i + 1 >= v.size()) return v.back();
  return v[i] + (pos - static_cast<double>(i)) * (v[i + 1] - v[i]);
}

/// Runs `budget` trials; `pending` > 0: each proposal is made while the `pending` previous
/// ones still run (they are told, oldest first, once `pending` newer ones exist). Returns
/// the best value after each trial count in `checkpoints` (counted in proposals).
std::vector<double> run(const sweeps::Sampler& s, const bench::Objective& obj, int budget,
                        std::size_t pending, const std::vector<int>& checkpoints) {
  std::vector<sweeps::Observation> history;
  std::deque<sweeps::Point> running;
  std::vector<double> values;  // in proposal order
  auto tell_oldest = [&] {
    sweeps::Point x = running.front();
    running.pop_front();
    history.push_back({x, obj.f(x)});
  };
  for (int k = 0; k < budget; ++k) {
    std::vector<sweeps::Point> now(running.begin(), running.end());
    sweeps::Point x = s.ask(static_cast<std::uint64_t>(k), history, now);
    values.push_back(obj.f(x));
    running.push_back(x);
    if (running.size() > pending) tell_oldest();
  }
  std::vector<double> out;
  for (int c : checkpoints) {
    out.push_back(*std::min_element(values.begin(), values.begin() + std::min(c, budget)));
  }
  return out;
}

sweeps::TpeOptions g_options;  // what --optuna and the option flags make of the defaults
bool g_per_seed = false;

void compare(int seeds, int first_seed, const std::string& only, bool tpe_only) {
  const std::vector<int> budgets = {50, 100};
  std::printf("%-10s %-7s %-6s %6s %5s %12s %12s %12s\n", "objective", "sampler", "mode", "budget",
              "seeds", "median", "q25", "q75");
  for (const bench::Objective& obj : bench::objectives()) {
    if (!only.empty() && obj.name != only) continue;
    for (const char* sampler : {"tpe", "random"}) {
      if (tpe_only && std::strcmp(sampler, "random") == 0) continue;
      for (std::size_t pending : {std::size_t{0}, std::size_t{4}}) {
        if (std::strcmp(sampler, "random") == 0 && pending > 0) continue;  // same draws
        std::vector<std::vector<double>> best(budgets.size());
        for (int seed = first_seed; seed < first_seed + seeds; ++seed) {
          std::unique_ptr<sweeps::Sampler> s;
          if (std::strcmp(sampler, "tpe") == 0) {
            s = std::make_unique<sweeps::TpeSampler>(obj.space, static_cast<std::uint64_t>(seed),
                                                     g_options);
          } else {
            s = std::make_unique<sweeps::RandomSampler>(obj.space, static_cast<std::uint64_t>(seed));
          }
          std::vector<double> b = run(*s, obj, budgets.back(), pending, budgets);
          for (std::size_t i = 0; i < budgets.size(); ++i) best[i].push_back(b[i]);
          if (g_per_seed) {
            std::printf("seed %s %s %s %d %.10g %.10g\n", obj.name.c_str(), sampler,
                        pending ? "async4" : "seq", seed, b[0], b[1]);
          }
        }
        for (std::size_t i = 0; i < budgets.size(); ++i) {
          std::printf("%-10s %-7s %-6s %6d %5d %12.6g %12.6g %12.6g\n", obj.name.c_str(), sampler,
                      pending ? "async4" : "seq", budgets[i], seeds, quantile(best[i], 0.5),
                      quantile(best[i], 0.25), quantile(best[i], 0.75));
        }
      }
    }
  }
}

/// Median wall time of one proposal with n random finished trials in the week-7 space.
void cost() {
  const bench::Objective obj = bench::objectives()[2];
  sweeps::TpeSampler tpe(obj.space, 1, g_options);
  sweeps::RandomSampler rnd(obj.space, 2);
  std::printf("\n%-8s %12s %14s\n", "finished", "ms per ask", "asks per s");
  for (int n : {10, 100, 1000}) {
    std::vector<sweeps::Observation> history;
    for (int k = 0; k < n; ++k) {
      sweeps::Point x = rnd.ask(static_cast<std::uint64_t>(k), {}, {});
      history.push_back({x, obj.f(x)});
    }
    const std::vector<sweeps::Point> pending = {history[0].x, history[1].x, history[2].x};
    std::vector<double> ms;
    const int reps = n >= 1000 ? 21 : 201;
    for (int r = 0; r < reps; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      sweeps::Point x = tpe.ask(static_cast<std::uint64_t>(n + r), history, pending);
      const auto t1 = std::chrono::steady_clock::now();
      if (x.empty()) std::abort();
      ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
    const double med = quantile(ms, 0.5);
    std::printf("%-8d %12.4f %14.0f\n", n, med, 1000.0 / med);
  }
}

}  // namespace

int main(int argc, char** argv) {
  int seeds = 20, first_seed = 1;
  bool cost_only = false, tpe_only = false, optuna = false;
  sweeps::TpeOptions& o = g_options;
  for (int i = 1; i < argc; ++i) {  // --optuna first, so that the other flags override it
    if (std::strcmp(argv[i], "--optuna") == 0) optuna = true;
  }
  if (optuna) o = sweeps::TpeOptions::optuna();
  std::string only;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--seeds") == 0 && i + 1 < argc) {
      seeds = std::atoi(argv[++i]);
    } else if (std::strcmp(argv[i], "--first-seed") == 0 && i + 1 < argc) {
      first_seed = std::atoi(argv[++i]);
    } else if (std::strcmp(argv[i], "--tpe-only") == 0) {
      tpe_only = true;
    } else if (std::strcmp(argv[i], "--optuna") == 0) {
    } else if (std::strcmp(argv[i], "--gamma") == 0 && i + 1 < argc) {
      o.gamma = std::strcmp(argv[++i], "sqrt") == 0 ? sweeps::TpeGamma::sqrt : sweeps::TpeGamma::linear;
    } else if (std::strcmp(argv[i], "--beta") == 0 && i + 1 < argc) {
      o.gamma_beta = std::atof(argv[++i]);
    } else if (std::strcmp(argv[i], "--weights") == 0 && i + 1 < argc) {
      o.weights = std::strcmp(argv[++i], "uniform") == 0 ? sweeps::TpeWeights::uniform
                                                          : sweeps::TpeWeights::old_decay;
    } else if (std::strcmp(argv[i], "--candidates") == 0 && i + 1 < argc) {
      o.n_ei_candidates = std::atoi(argv[++i]);
    } else if (std::strcmp(argv[i], "--prior") == 0 && i + 1 < argc) {
      o.prior_weight = std::atof(argv[++i]);
    } else if (std::strcmp(argv[i], "--startup") == 0 && i + 1 < argc) {
      o.n_startup_trials = std::atoi(argv[++i]);
    } else if (std::strcmp(argv[i], "--clip-exponent") == 0 && i + 1 < argc) {
      o.magic_clip_exponent = std::atof(argv[++i]);
    } else if (std::strcmp(argv[i], "--min-bandwidth") == 0 && i + 1 < argc) {
      o.min_bandwidth_factor = std::atof(argv[++i]);
    } else if (std::strcmp(argv[i], "--liar-bandwidth") == 0 && i + 1 < argc) {
      o.liar_min_bandwidth_factor = std::atof(argv[++i]);
    } else if (std::strcmp(argv[i], "--per-seed") == 0) {
      g_per_seed = true;
    } else if (std::strcmp(argv[i], "--cost-only") == 0) {
      cost_only = true;
    } else if (std::strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
      only = argv[++i];
    } else {
      std::fprintf(stderr,
                   "usage: tpe_bench [--seeds N] [--first-seed S] [--cost-only | --only OBJECTIVE] "
                   "[--tpe-only] [--optuna] [--gamma linear|sqrt] [--beta B] "
                   "[--weights old-decay|uniform] [--candidates N] [--prior W] [--startup N] "
                   "[--clip-exponent A] [--min-bandwidth F] [--liar-bandwidth F] [--per-seed]\n");
      return 2;
    }
  }
  if (!cost_only) compare(seeds, first_seed, only, tpe_only);
  if (only.empty()) cost();
  return 0;
}
