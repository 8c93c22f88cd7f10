// Disk use of a large sweep under the checkpoint retention policy, with a no-op trainer: the
// real results store, the real SweepCoordinator (which applies the spec's `checkpoints:`
// policy whenever a trial ends, orchestrator/retention.h) and the real checkpoint format and
// writer; only training is replaced. Each "epoch" reports random val metrics and predictions
// (so ranking, DeLong and the policy see a realistic table) and writes the trial's checkpoint
// the way the trainer does (write_checkpoint, then the trainer's own prune_checkpoints).
//
//   build/bench/retention_sweep --out /tmp/r1000 --trials 1000 --epochs 2
//       [--checkpoint-mb 3 | --resnet50] [--keep-top-trials 5|all] [--keep best_and_last]
//   (one command line)
//
// The checkpoint is shaped like a real one: weights (p.*), and optimizer state twice their
// size (Adam's two moments), so stripping it works as on a real trial.
// --checkpoint-mb sets its total size; --resnet50 snapshots a real ResNet50 with Adam state
// instead (about 290 MB with every layer trainable). Prints one JSON line: trials, seconds,
// checkpoint bytes (full and weights-only), the folder's peak and final bytes, results.h5
// bytes, and what the kept trials hold.
#include <fmt/format.h>
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "io/disk.h"
#include "io/files.h"
#include "orchestrator/coordinator.h"
#include "orchestrator/retention.h"
#include "orchestrator/trial_disk.h"
#include "results/metrics.h"
#include "results/store.h"
#include "sweeps/parse.h"
#include "sweeps/trial.h"
#include "worker/checkpoint.h"
#include "worker/optimizer.h"
#include "worker/resnet50.h"

namespace ms = mammosweep;

namespace {

/// A checkpoint file image of about `bytes`: weights a third, Adam's two moments two thirds.
ms::io::AlignedBytes synthetic_checkpoint(std::uint64_t bytes) {
  const std::int64_t floats = static_cast<std::int64_t>(bytes / 12);
  ms::io::AlignedBytes payload;
  ms::worker::encode_checkpoint({{"p.weight", torch::rand({floats})},
                                 {"o.weight.step", torch::scalar_tensor(1, torch::kInt64)},
                                 {"o.weight.exp_avg", torch::rand({floats})},
                                 {"o.weight.exp_avg_sq", torch::rand({floats})}},
                                {1, 1, 0.5, 0.5}, payload);
  return payload;
}

/// A real ResNet50 + Adam checkpoint (every layer trainable, one step taken so Adam has state).
ms::io::AlignedBytes resnet50_checkpoint() {
  ms::sweeps::TrainingParams p;
  p.unfrozen_fraction = 1.0;
  ms::worker::ResNet50 model(ms::worker::model_options(p, 1));
  auto optimizer = ms::worker::make_optimizer(model->trainable_parameters(), p);
  model->train();
  torch::Tensor loss = model->forward(torch::rand({2, 3, 32, 32})).sum();
  loss.backward();
  optimizer->step();
  ms::io::AlignedBytes payload;
  ms::worker::snapshot_checkpoint(*model, *optimizer, {1, 1, 0.5, 0.5}, payload);
  return payload;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("Disk use of a large sweep under checkpoint retention (no-op trainer)");
  std::string out, keep_top = "5", keep = "best_and_last";
  int trials = 1000, epochs = 2;
  double checkpoint_mb = 3;
  bool resnet50 = false;
  app.add_option("--out", out, "Sweep folder to create (must not exist)")->required();
  app.add_option("--trials", trials)->check(CLI::PositiveNumber);
  app.add_option("--epochs", epochs)->check(CLI::PositiveNumber);
  app.add_option("--checkpoint-mb", checkpoint_mb, "Size of one full checkpoint");
  app.add_flag("--resnet50", resnet50, "Write a real ResNet50 + Adam checkpoint instead");
  app.add_option("--keep-top-trials", keep_top);
  app.add_option("--keep", keep);
  CLI11_PARSE(app, argc, argv);
  torch::set_num_threads(1);

  const std::string text = fmt::format(
      "name: retention-bench\nseed: 1\nmethod: random\nmax_trials: {}\n"
      "data: {{root: /nonexistent}}\ntraining: {{epochs: {}}}\n"
      "parameters:\n  lr: {{distribution: log_uniform, min: 1.0e-5, max: 1.0e-2}}\n"
      "checkpoints: {{keep_top_trials: {}, keep: {}}}\n",
      trials, epochs, keep_top, keep);
  ms::sweeps::SweepSpec spec = ms::sweeps::parse_spec(text, "retention-bench.yaml");
  const std::vector<ms::sweeps::Trial> all = ms::sweeps::expand(spec);
  if (ms::io::file_exists(out)) {
    std::cerr << out << " exists\n";
    return 2;
  }
  ms::io::make_dirs(out);
  ms::results::SweepInfo info;
  info.spec_yaml = info.spec_effective_yaml = text;
  std::vector<ms::results::TrialInit> inits;
  for (const auto& t : all) inits.push_back({t.id, t.name, ms::sweeps::params_to_json(t.params), t.seed});
  ms::results::SweepStore store =
      ms::results::SweepStore::create(ms::results::store_path(out), info, inits);

  ms::io::AlignedBytes body = resnet50 ? resnet50_checkpoint()
                                       : synthetic_checkpoint(static_cast<std::uint64_t>(checkpoint_mb * 1e6));
  ms::orchestrator::RunOptions options;
  options.out_dir = out;
  options.progress = false;
  std::mt19937 rng(42);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::uint64_t peak = 0;
  const auto start = std::chrono::steady_clock::now();
  {
    ms::orchestrator::SweepCoordinator coord(spec, all, store, options);
    std::cout.setstate(std::ios::failbit);  // the coordinator's progress lines
    while (auto job = coord.next_job()) {
      coord.started(*job, {0});
      const std::string dir = ms::worker::checkpoint_dir(out, job->trial.id);
      ms::io::make_dirs(dir);
      const double quality = unit(rng);
      int best = 0;
      double best_auc = -1;
      for (int e = 1; e <= epochs; ++e) {
        ms::results::EpochRecord rec;
        rec.epoch = e;
        rec.val.loss = 1.0 - quality * unit(rng);
        ms::results::Predictions val;
        for (int i = 0; i < 40; ++i) {
          val.labels.push_back(static_cast<std::int8_t>(i % 2));
          val.scores.push_back(static_cast<float>((i % 2) * quality + unit(rng) * (1 - quality)));
        }
        rec.val.auc = ms::results::roc_auc(val);
        rec.seconds = 0.01;
        if (rec.val.auc > best_auc) best_auc = rec.val.auc, best = e;
        coord.epoch(job->trial.id, rec, val);
        ms::worker::write_checkpoint(ms::worker::checkpoint_path(dir, e), body);
        ms::worker::prune_checkpoints(dir, e, best);
        peak = std::max(peak, ms::io::tree_bytes(out));
      }
      coord.finished(job->trial.id, ms::results::TrialStatus::done);
      peak = std::max(peak, ms::io::tree_bytes(out));
    }
    std::cout.clear();
  }
  store.close();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::uint64_t kept_bytes = 0;
  int kept_trials = 0;
  for (const auto& t : all) {
    const ms::orchestrator::TrialDisk d = ms::orchestrator::trial_disk(out, t.id);
    if (d.bytes > 0) ++kept_trials;
    kept_bytes += d.bytes;
  }
  nlohmann::json j{{"trials", trials},
                   {"epochs", epochs},
                   {"seconds", seconds},
                   {"full_checkpoint_bytes", body.size()},
                   {"peak_bytes", peak},
                   {"final_bytes", ms::io::tree_bytes(out)},
                   {"results_h5_bytes", ms::io::tree_bytes(ms::results::store_path(out))},
                   {"kept_trials", kept_trials},
                   {"kept_checkpoint_bytes", kept_bytes}};
  std::cout << j.dump() << "\n";
  return 0;
}
