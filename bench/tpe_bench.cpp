// The TPE sampler (sweeps/tpe.h) against random search on analytic objectives, through the
// ask/tell interface, with no training: best value found after 50 and 100 trials over
// seeds 1..N (median and interquartile range), sequentially and asynchronously (every
// proposal made while 4 other trials still run: the constant liar at work), and the
// sampler's own cost per proposal with 10, 100 and 1,000 finished trials.
// bench/tpe_bench.py runs Optuna's TPESampler and RandomSampler on the same objectives.
//
//   build/bench/tpe_bench [--seeds 20] [--cost-only | --only OBJECTIVE]
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

void compare(int seeds, const std::string& only) {
  const std::vector<int> budgets = {50, 100};
  std::printf("%-10s %-7s %-6s %6s %5s %12s %12s %12s\n", "objective", "sampler", "mode", "budget",
              "seeds", "median", "q25", "q75");
  for (const bench::Objective& obj : bench::objectives()) {
    if (!only.empty() && obj.name != only) continue;
    for (const char* sampler : {"tpe", "random"}) {
      for (std::size_t pending : {std::size_t{0}, std::size_t{4}}) {
        if (std::strcmp(sampler, "random") == 0 && pending > 0) continue;  // same draws
        std::vector<std::vector<double>> best(budgets.size());
        for (int seed = 1; seed <= seeds; ++seed) {
          std::unique_ptr<sweeps::Sampler> s;
          if (std::strcmp(sampler, "tpe") == 0) {
            s = std::make_unique<sweeps::TpeSampler>(obj.space, static_cast<std::uint64_t>(seed));
          } else {
            s = std::make_unique<sweeps::RandomSampler>(obj.space, static_cast<std::uint64_t>(seed));
          }
          std::vector<double> b = run(*s, obj, budgets.back(), pending, budgets);
          for (std::size_t i = 0; i < budgets.size(); ++i) best[i].push_back(b[i]);
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
  sweeps::TpeSampler tpe(obj.space, 1);
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
  int seeds = 20;
  bool cost_only = false;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--seeds") == 0 && i + 1 < argc) {
      seeds = std::atoi(argv[++i]);
    } else if (std::strcmp(argv[i], "--cost-only") == 0) {
      cost_only = true;
    } else if (std::strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
      only = argv[++i];
    } else {
      std::fprintf(stderr, "usage: tpe_bench [--seeds N] [--cost-only | --only OBJECTIVE]\n");
      return 2;
    }
  }
  if (!cost_only) compare(seeds, only);
  if (only.empty()) cost();
  return 0;
}
