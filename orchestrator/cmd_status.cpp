// `mammosweep status DIR`: what a sweep is doing (or did): trials by state, epochs, ETA.
// Safe while the sweep runs: the store is read in SWMR mode.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <iostream>
#include <nlohmann/json.hpp>

#include "orchestrator/cli.h"
#include "orchestrator/sweep_results.h"
#include "orchestrator/text_table.h"

namespace mammosweep::orchestrator {

namespace {

struct StatusOptions {
  std::string dir;
  std::string format = "table";
};

const results::TrialStatus kStatusOrder[] = {
    results::TrialStatus::running, results::TrialStatus::pending, results::TrialStatus::done,
    results::TrialStatus::stopped_early, results::TrialStatus::failed};

nlohmann::json number_or_null(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}

std::string epochs_text(const TrialProgress& tp) {
  return fmt::format("{}/{}", tp.epochs_done,
                     tp.epochs_planned ? std::to_string(*tp.epochs_planned) : std::string("?"));
}

int print_json(const StatusOptions& opt, const results::SweepSnapshot& snap,
               const SweepProgress& p) {
  auto spec = stored_spec(snap.info);
  nlohmann::json j;
  j["dir"] = opt.dir;
  j["name"] = spec ? nlohmann::json(spec->name) : nlohmann::json(nullptr);
  j["created"] = snap.info.created;
  j["tool_version"] = snap.info.tool_version;
  j["counts"] = nlohmann::json::object();
  for (const auto& [status, n] : p.counts) j["counts"][results::to_string(status)] = n;
  j["trials"] = nlohmann::json::array();
  for (const auto& tp : p.trials) {
    const auto& t = snap.trials[tp.index];
    j["trials"].push_back(
        {{"id", t.id},
         {"name", t.name},
         {"status", results::to_string(t.status)},
         {"epochs_done", tp.epochs_done},
         {"epochs_planned", tp.epochs_planned ? nlohmann::json(*tp.epochs_planned) : nullptr},
         {"last_val_auc", number_or_null(tp.last_val_auc)},
         {"attempts", t.attempts},
         {"reason", t.failure_reason}});
  }
  j["seconds_per_epoch"] = number_or_null(p.seconds_per_epoch);
  j["remaining_epochs"] = p.remaining_epochs ? nlohmann::json(*p.remaining_epochs) : nullptr;
  j["eta_seconds"] = p.eta_seconds ? number_or_null(*p.eta_seconds) : nullptr;
  j["slurm_job_ids"] = snap.info.slurm_job_ids;
  std::cout << j.dump(2) << "\n";
  return kExitOk;
}

int print_table(const StatusOptions& opt, const results::SweepSnapshot& snap,
                const SweepProgress& p) {
  auto spec = stored_spec(snap.info);
  std::cout << fmt::format("sweep {} in {} (created {}, mammosweep {})\n",
                           spec ? spec->name : std::string("(spec unreadable)"), opt.dir,
                           snap.info.created.empty() ? "?" : snap.info.created,
                           snap.info.tool_version.empty() ? "?" : snap.info.tool_version);
  std::string counts;
  for (auto s : kStatusOrder) {
    counts += fmt::format("{}{} {}", counts.empty() ? "" : ", ", p.counts.at(s),
                          results::to_string(s));
  }
  std::cout << fmt::format("{} trial{}: {}\n\n", snap.trials.size(),
                           snap.trials.size() == 1 ? "" : "s", counts);

  TextTable table({"id", "name", "status", "epochs", "last val AUC", "attempts", "reason"});
  for (const auto& tp : p.trials) {
    const auto& t = snap.trials[tp.index];
    table.add_row({t.id, t.name, results::to_string(t.status), epochs_text(tp),
                   std::isfinite(tp.last_val_auc) ? fmt::format("{:.3f}", tp.last_val_auc) : "n/a",
                   std::to_string(t.attempts), t.failure_reason});
  }
  std::cout << table.render() << "\n";

  for (const auto& tp : p.trials) {
    const auto& t = snap.trials[tp.index];
    if (t.status != results::TrialStatus::running) continue;
    std::cout << fmt::format("running: {} ({}) epoch {} of {}\n", t.name, t.id,
                             tp.epochs_done + 1,
                             tp.epochs_planned ? std::to_string(*tp.epochs_planned) : "?");
  }
  std::cout << fmt::format(
      "mean epoch time: {}; remaining epochs: {}; ETA: {}\n",
      std::isnan(p.seconds_per_epoch) ? std::string("unknown")
                                      : fmt::format("{:.1f}s", p.seconds_per_epoch),
      p.remaining_epochs ? std::to_string(*p.remaining_epochs) : std::string("unknown"),
      p.eta_seconds ? format_duration(*p.eta_seconds)
                    : std::string(p.running == 0 ? "unknown (no trial running)" : "unknown"));
  // Seam for the Slurm state query (cluster/): once it exists, print each job's state here.
  for (const auto& id : snap.info.slurm_job_ids) std::cout << "slurm job: " << id << "\n";
  return kExitOk;
}

int status(const StatusOptions& opt) {
  return with_input_errors([&]() {
    results::SweepSnapshot snap = load_sweep(opt.dir);
    SweepProgress progress = summarize_progress(snap);
    return opt.format == "json" ? print_json(opt, snap, progress)
                                : print_table(opt, snap, progress);
  });
}

}  // namespace

Command add_status_command(CLI::App& app) {
  auto opt = std::make_shared<StatusOptions>();
  CLI::App* cmd = app.add_subcommand(
      "status", "Show the trials of a sweep by state, their epochs and an ETA (works while the "
                "sweep runs)");
  cmd->add_option("DIR", opt->dir, "Sweep output folder (holds results.h5)")->required();
  cmd->add_option("--format", opt->format, "Output format")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  return [opt, cmd]() { return cmd->parsed() ? status(*opt) : -1; };
}

}  // namespace mammosweep::orchestrator
