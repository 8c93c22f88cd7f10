// The whole `method: bayes` proposal path of the coordinator, without training: the real
// results store and SweepCoordinator (orchestrator/proposer.h + sweeps/tpe.h), one trial at a
// time, each reporting `--epochs` epochs whose val AUC is a function of its parameters and no
// val predictions. Prints, per block of trials, the median time of next_job() (the proposal:
// the proposer's view of the table, TPE, and adding the trial to results.h5, which copies the
// file) and of the rest of the trial's bookkeeping, plus results.h5's size.
// With --method random every trial is drawn and stored up front (the store a random or grid
// sweep of that size has), and at the end the time to reopen the finished store and replay
// it into a new coordinator is printed: what `run --resume` does before it dispatches.
//
//   build/bench/bayes_dispatch --out /tmp/bd --trials 1000 [--epochs 2] [--block 100]
//                              [--method bayes|random]
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <memory>
#include <optional>
#include <vector>

#include "io/disk.h"
#include "io/files.h"
#include "orchestrator/coordinator.h"
#include "results/store.h"
#include "sweeps/parse.h"
#include "sweeps/trial.h"

namespace ms = mammosweep;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bayes proposal path: coordinator + TPE + results.h5, no training"};
  std::string out;
  int trials = 1000, epochs = 2, block = 100;
  app.add_option("--out", out, "empty folder for results.h5")->required();
  app.add_option("--trials", trials, "max_trials");
  app.add_option("--epochs", epochs, "epochs per trial");
  app.add_option("--block", block, "trials per printed row");
  std::string method = "bayes";
  app.add_option("--method", method, "bayes (proposed one by one) or random (all up front)")
      ->check(CLI::IsMember({"bayes", "random"}));
  bool resume_only = false;
  app.add_flag("--resume-only", resume_only,
               "time only the resume start on the finished sweep in --out (same other flags)");
  CLI11_PARSE(app, argc, argv);

  const ms::sweeps::SweepSpec spec = ms::sweeps::parse_spec(fmt::format(
      "name: bd\nseed: 1\nmethod: {}\nmax_trials: {}\ndata: {{root: /nonexistent}}\n"
      "training: {{epochs: {}}}\ncheckpoints: {{keep_top_trials: all}}\nparameters:\n"
      "  lr: {{distribution: log_uniform, min: 1.0e-5, max: 1.0e-1}}\n"
      "  optimizer: {{values: [adam, adamw, rmsprop, sgd]}}\n"
      "  dense_units: {{values: [256, 512, 1024, 2048]}}\n"
      "  dropout: {{distribution: uniform, min: 0.0, max: 0.7}}\n"
      "  unfrozen_fraction: {{distribution: uniform, min: 0.0, max: 1.0}}\n",
      method, trials, epochs));
  ms::io::make_dirs(out);
  const std::string path = ms::results::store_path(out);
  const std::vector<ms::sweeps::Trial> drawn =
      method == "random" ? ms::sweeps::expand(spec) : std::vector<ms::sweeps::Trial>{};
  std::vector<ms::results::TrialInit> inits;
  for (const auto& t : drawn)
    inits.push_back({t.id, t.name, ms::sweeps::params_to_json(t.params), t.seed});
  std::optional<ms::results::SweepStore> store;
  ms::orchestrator::RunOptions opt;
  opt.out_dir = out;
  opt.progress = false;
  std::unique_ptr<ms::orchestrator::SweepCoordinator> coord;
  if (!resume_only) {
    store.emplace(ms::results::SweepStore::create(path, {}, inits));
    coord = std::make_unique<ms::orchestrator::SweepCoordinator>(spec, drawn, *store, opt, 1);
  }
  using clock = std::chrono::steady_clock;
  auto ms_since = [](clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(clock::now() - t0).count();
  };
  if (resume_only) {
    const auto t0 = clock::now();
    store.emplace(ms::results::SweepStore::open_for_append(path, inits));
    coord = std::make_unique<ms::orchestrator::SweepCoordinator>(spec, drawn, *store, opt, 1);
    std::cerr << fmt::format("resume start at {} trials: {:.0f} ms\n", drawn.size(), ms_since(t0));
    return 0;
  }
  std::vector<double> propose, rest;
  std::cerr << "(the coordinator's progress lines go to stdout; the table to stderr)\n";
  std::cerr << fmt::format("{:>8} {:>18} {:>22} {:>14}\n", "trials", "next_job median ms",
                           "epochs+finish median ms", "results.h5 MB");
  int done = 0;
  while (true) {
    const auto t0 = clock::now();
    std::optional<ms::orchestrator::Job> job = coord->next_job();
    if (!job) break;
    propose.push_back(ms_since(t0));
    const auto t1 = clock::now();
    coord->started(*job, {1});
    const auto& p = job->trial.params;
    for (int e = 1; e <= epochs; ++e) {
      ms::results::EpochRecord r;
      r.epoch = e;
      r.val.auc = 0.9 - 0.05 * std::pow(std::log10(p.lr) + 3.5, 2) - 0.2 * std::abs(p.dropout - 0.3);
      r.val.loss = 1 - r.val.auc;
      coord->epoch(job->trial.id, r, {});
    }
    coord->finished(job->trial.id, ms::results::TrialStatus::done);
    rest.push_back(ms_since(t1));
    if (++done % block == 0) {
      std::cerr << fmt::format("{:>8} {:>18.2f} {:>22.2f} {:>14.1f}\n", done, median(propose),
                               median(rest), static_cast<double>(ms::io::tree_bytes(path)) / 1e6);
      propose.clear();
      rest.clear();
    }
  }
  coord.reset();
  store->close();
  // What `run --resume` does before its first dispatch: reopen the store, replay it.
  const auto t0 = clock::now();
  store.emplace(ms::results::SweepStore::open_for_append(path, inits));
  coord = std::make_unique<ms::orchestrator::SweepCoordinator>(spec, drawn, *store, opt, 1);
  std::cerr << fmt::format("resume start (open_for_append + coordinator replay) at {} trials: "
                           "{:.0f} ms\n", done, ms_since(t0));
  coord.reset();
  store->close();
  return 0;
}
