// `mammosweep prune DIR [--dry-run]`: applies the sweep's checkpoint retention policy
// (spec `checkpoints:`, results/retention.h) to a sweep folder after the fact; --keep-top-trials
// and --keep override the stored spec's policy. Refuses while a sweep writes DIR (the running
// coordinator prunes by itself).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>

#include "io/disk.h"
#include "io/files.h"
#include "io/lock.h"
#include "orchestrator/cli.h"
#include "orchestrator/cli_options.h"
#include "orchestrator/retention.h"
#include "orchestrator/sweep_results.h"
#include "orchestrator/text_table.h"

namespace mammosweep::orchestrator {

namespace {

struct PruneOptions {
  std::string dir;
  bool dry_run = false;
  std::string keep_top_trials;  // empty: the spec's
  std::string keep;             // empty: the spec's
};

sweeps::CheckpointPolicy policy_of(const results::SweepSnapshot& snap, const PruneOptions& opt) {
  std::optional<sweeps::SweepSpec> spec = stored_spec(snap.info);
  sweeps::CheckpointPolicy p = spec ? spec->checkpoints : sweeps::CheckpointPolicy{};
  if (opt.keep_top_trials == "all") {
    p.keep_top_trials.reset();
  } else if (!opt.keep_top_trials.empty()) {
    try {
      std::size_t used = 0;
      const int k = std::stoi(opt.keep_top_trials, &used);
      if (used != opt.keep_top_trials.size() || k < 1) throw std::invalid_argument("");
      p.keep_top_trials = k;
    } catch (const std::exception&) {
      throw InputError(fmt::format("--keep-top-trials '{}': expected an integer >= 1 or all",
                                   opt.keep_top_trials));
    }
  }
  if (!opt.keep.empty()) {
    const auto keep = sweeps::keep_from_string(opt.keep);
    if (!keep) {
      throw InputError(fmt::format("--keep '{}': expected best, last or best_and_last", opt.keep));
    }
    p.keep = *keep;
  }
  return p;
}

int prune(const PruneOptions& opt) {
  return with_input_errors([&]() {
    results::SweepSnapshot snap = load_sweep(opt.dir);
    io::FileLock writer(results::store_path(opt.dir) + ".lock", io::FileLock::Mode::try_once);
    if (!writer.held() && !opt.dry_run) {
      throw InputError(fmt::format("{}: a sweep is writing this folder ({}.lock is held); it "
                                   "applies the policy itself as trials end. Prune after it "
                                   "stops, or use --dry-run.",
                                   opt.dir, results::store_path(opt.dir)));
    }
    const sweeps::CheckpointPolicy policy = policy_of(snap, opt);
    const RetentionPlan plan =
        plan_retention(opt.dir, snap.trials, ranking_options(snap, {}), policy);
    std::cout << fmt::format("policy: keep_top_trials {}, keep {}\n",
                             policy.keep_top_trials ? std::to_string(*policy.keep_top_trials)
                                                    : std::string("all"),
                             sweeps::to_string(policy.keep));
    if (plan.trials.empty()) {
      std::cout << "nothing to prune\n";
      return static_cast<int>(kExitOk);
    }
    TextTable table({"id", "name", "status", opt.dry_run ? "would" : "did", "frees", "why"});
    for (const auto& p : plan.trials) {
      const auto& t = snap.trials[p.decision.index];
      table.add_row({p.id, p.name, results::to_string(t.status), describe(p),
                     p.strip.empty() ? io::format_bytes(p.remove_bytes)
                                     : fmt::format("{} + optimizer state",
                                                   io::format_bytes(p.remove_bytes)),
                     p.decision.reason});
    }
    if (opt.dry_run) {
      std::cout << table.render();
      std::cout << fmt::format("dry run: would free {} by removing files, and rewrite {} "
                               "checkpoint(s) without optimizer state (about two thirds of "
                               "each with Adam)\n",
                               io::format_bytes(plan.remove_bytes), plan.strip_count);
      return static_cast<int>(kExitOk);
    }
    const RetentionResult r = apply_retention(plan);
    std::cout << table.render();
    std::cout << fmt::format("freed {}; {} now holds {} ({} free on its file system)\n",
                             io::format_bytes(r.freed), opt.dir, io::format_bytes(io::tree_bytes(opt.dir)),
                             io::format_bytes(io::fs_space(opt.dir).available));
    for (const auto& e : r.errors) std::cerr << "mammosweep: warning: " << e << "\n";
    return static_cast<int>(r.errors.empty() ? kExitOk : kExitFailure);
  });
}

}  // namespace

Command add_prune_command(CLI::App& app) {
  auto opt = std::make_shared<PruneOptions>();
  CLI::App* cmd = app.add_subcommand(
      "prune", "Apply the checkpoint retention policy to a sweep folder (--dry-run: show it)");
  add_sweep_dir_option(*cmd, opt->dir);
  cmd->add_flag("--dry-run", opt->dry_run, "Show what would be deleted; change nothing");
  cmd->add_option("--keep-top-trials", opt->keep_top_trials,
                  "Override checkpoints.keep_top_trials (an integer >= 1, or all)");
  cmd->add_option("--keep", opt->keep, "Override checkpoints.keep (best, last, best_and_last)");
  return [opt, cmd]() { return cmd->parsed() ? prune(*opt) : -1; };
}

}  // namespace mammosweep::orchestrator
