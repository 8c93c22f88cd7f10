// `mammosweep status DIR`: what a sweep is doing (or did): trials by state, epochs, ETA.
// Safe while the sweep runs: the store is read in SWMR mode.
// Slurm: for every job id recorded for the sweep (the store's /slurm_job_ids and
// DIR/slurm_jobs.txt, which `submit` appends to), the job's state is asked from the controller
// (cluster::query_job) when squeue and scontrol are on PATH. A folder that `submit` made but
// whose job has not started yet (no results.h5) shows the jobs alone.
#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "cluster/slurm.h"
#include "orchestrator/cli.h"
#include "io/disk.h"
#include "io/files.h"
#include "orchestrator/cli_options.h"
#include "orchestrator/trial_disk.h"
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

// ---- Slurm jobs ----------------------------------------------------------------------------

/// True when `name` is an executable file in one of PATH's folders.
bool on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const std::string file = (dir.empty() ? std::string(".") : dir) + "/" + name;
    if (io::is_regular_file(file) && ::access(file.c_str(), X_OK) == 0) {
      return true;
    }
  }
  return false;
}

/// Job ids of the sweep, oldest first, without repeats: the store's, then slurm_jobs.txt's.
std::vector<std::string> recorded_job_ids(const std::string& dir,
                                          const std::vector<std::string>& from_store) {
  std::vector<std::string> ids = from_store;
  for (const auto& id : cluster::recorded_job_ids(dir)) {
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  }
  return ids;
}

/// One job as status shows it. `state` is empty when it was not asked (no Slurm client) or
/// the controller did not answer (`error` says why).
struct SlurmJobView {
  std::string id;
  std::optional<cluster::JobState> state;
  std::string error;
};

std::vector<SlurmJobView> query_jobs(const std::vector<std::string>& ids) {
  std::vector<SlurmJobView> out;
  const bool client = on_path("squeue") && on_path("scontrol");
  for (const auto& id : ids) {
    SlurmJobView v{id, std::nullopt, ""};
    if (!client) {
      v.error = "squeue/scontrol not on PATH; state not queried";
    } else {
      try {
        v.state = cluster::query_job(id);
      } catch (const std::exception& e) {
        std::string msg = e.what();
        v.error = "controller did not answer: " + msg.substr(0, msg.find('\n'));
      }
    }
    out.push_back(std::move(v));
  }
  return out;
}

/// What the state means for the sweep, and what to do about it.
std::string job_hint(const cluster::JobState& st, const std::string& dir, bool sweep_finished) {
  using cluster::JobStatus;
  const std::string log = fmt::format("{}/logs/slurm-{}.out", dir, st.id);
  if (sweep_finished && st.terminal() && st.status != JobStatus::completed) {
    return "ended early; the sweep has finished since (in a later job or run)";
  }
  switch (st.status) {
    case JobStatus::running: return "the sweep is running in this job";
    case JobStatus::completing: return "the job is ending; its processes are being cleaned up";
    case JobStatus::pending:
      return st.restarts > 0 ? "requeued; waiting to start again (the rerun resumes the sweep)"
                             : "waiting in the queue";
    case JobStatus::requeued: return "requeued; it will start again and resume the sweep";
    case JobStatus::suspended: return "suspended by Slurm";
    case JobStatus::preempted:
      return "preempted; with PreemptMode=REQUEUE it comes back as PENDING and resumes";
    case JobStatus::completed:
      return sweep_finished ? "finished"
                            : "the job ended, but the sweep is not finished: check " + log +
                                  ", then submit again with the same --out to resume";
    case JobStatus::timeout:
      return "hit its time limit (no requeue left?); submit again with the same --out to resume";
    case JobStatus::cancelled:
      return "cancelled; submit again with the same --out (or `mammosweep run SPEC --out " + dir +
             " --resume`) to resume";
    case JobStatus::failed:
    case JobStatus::node_fail:
    case JobStatus::out_of_memory:
      return "see " + log + " and .err; submit again with the same --out to resume";
    case JobStatus::unknown: return "unknown to the controller (finished and purged, or another cluster)";
    case JobStatus::other: break;
  }
  return "state not known to this mammosweep";
}

std::string job_line(const SlurmJobView& v, const std::string& dir, bool sweep_finished) {
  if (!v.state) return fmt::format("slurm job {}: {}", v.id, v.error);
  const cluster::JobState& st = *v.state;
  if (st.status == cluster::JobStatus::unknown) {
    return fmt::format("slurm job {}: {}", v.id, job_hint(st, dir, sweep_finished));
  }
  std::string text = fmt::format("slurm job {}: {}", v.id, st.state);
  if (st.exit_code >= 0) text += fmt::format(", exit code {}:{}", st.exit_code, st.exit_signal);
  if (st.restarts >= 0) text += fmt::format(", restarts {}", st.restarts);
  if (!st.reason.empty() && st.reason != "None") text += ", reason " + st.reason;
  return text + " -- " + job_hint(st, dir, sweep_finished);
}

nlohmann::json jobs_json(const std::vector<SlurmJobView>& jobs, const std::string& dir,
                         bool sweep_finished) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& v : jobs) {
    nlohmann::json j{{"id", v.id}};
    if (v.state) {
      const auto& st = *v.state;
      j["status"] = cluster::to_string(st.status);
      j["state"] = st.state.empty() ? nlohmann::json(nullptr) : nlohmann::json(st.state);
      j["reason"] = st.reason.empty() ? nlohmann::json(nullptr) : nlohmann::json(st.reason);
      j["exit_code"] = st.exit_code >= 0 ? nlohmann::json(st.exit_code) : nlohmann::json(nullptr);
      j["exit_signal"] =
          st.exit_signal >= 0 ? nlohmann::json(st.exit_signal) : nlohmann::json(nullptr);
      j["restarts"] = st.restarts >= 0 ? nlohmann::json(st.restarts) : nlohmann::json(nullptr);
      j["hint"] = job_hint(st, dir, sweep_finished);
    } else {
      j["status"] = nullptr;
      j["error"] = v.error;
    }
    out.push_back(std::move(j));
  }
  return out;
}

bool all_finished(const SweepProgress& p) {
  for (auto s : {results::TrialStatus::running, results::TrialStatus::pending}) {
    auto it = p.counts.find(s);
    if (it != p.counts.end() && it->second > 0) return false;
  }
  return true;
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
  std::uint64_t trial_bytes = 0;
  for (const auto& tp : p.trials) {
    const auto& t = snap.trials[tp.index];
    const TrialDisk disk = trial_disk(opt.dir, t.id);
    trial_bytes += disk.bytes;
    std::vector<int> weights = disk.full;
    weights.insert(weights.end(), disk.weights_only.begin(), disk.weights_only.end());
    std::sort(weights.begin(), weights.end());
    j["trials"].push_back(
        {{"id", t.id},
         {"disk_bytes", disk.bytes},
         {"weights_epochs", weights},
         {"optimizer_state_epochs", disk.full},
         {"name", t.name},
         {"status", results::to_string(t.status)},
         {"epochs_done", tp.epochs_done},
         {"epochs_planned", tp.epochs_planned ? nlohmann::json(*tp.epochs_planned) : nullptr},
         {"last_val_auc", number_or_null(tp.last_val_auc)},
         {"attempts", t.attempts},
         {"reason", t.failure_reason}});
  }
  const io::FsSpace fs = io::fs_space(opt.dir);
  j["disk"] = {{"trials_bytes", trial_bytes},
               {"total_bytes", io::tree_bytes(opt.dir)},
               {"free_bytes", fs.available},
               {"filesystem_bytes", fs.total}};
  j["seconds_per_epoch"] = number_or_null(p.seconds_per_epoch);
  j["remaining_epochs"] = p.remaining_epochs ? nlohmann::json(*p.remaining_epochs) : nullptr;
  j["eta_seconds"] = p.eta_seconds ? number_or_null(*p.eta_seconds) : nullptr;
  j["slurm_job_ids"] = snap.info.slurm_job_ids;
  j["slurm_jobs"] = jobs_json(query_jobs(recorded_job_ids(opt.dir, snap.info.slurm_job_ids)),
                              opt.dir, all_finished(p));
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

  TextTable table({"id", "name", "status", "epochs", "last val AUC", "attempts", "disk",
                   "weights (epochs)", "reason"});
  std::uint64_t trial_bytes = 0;
  for (const auto& tp : p.trials) {
    const auto& t = snap.trials[tp.index];
    const TrialDisk disk = trial_disk(opt.dir, t.id);
    trial_bytes += disk.bytes;
    table.add_row({t.id, t.name, results::to_string(t.status), epochs_text(tp),
                   std::isfinite(tp.last_val_auc) ? fmt::format("{:.3f}", tp.last_val_auc) : "n/a",
                   std::to_string(t.attempts), io::format_bytes(disk.bytes), weights_text(disk),
                   t.failure_reason});
  }
  std::cout << table.render() << "\n";
  const io::FsSpace fs = io::fs_space(opt.dir);
  std::cout << fmt::format("disk: {} in all ({} of checkpoints), {} free on the file system "
                           "of {}\n",
                           io::format_bytes(io::tree_bytes(opt.dir)),
                           io::format_bytes(trial_bytes), io::format_bytes(fs.available),
                           opt.dir);

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
  for (const auto& v : query_jobs(recorded_job_ids(opt.dir, snap.info.slurm_job_ids))) {
    std::cout << job_line(v, opt.dir, all_finished(p)) << "\n";
  }
  return kExitOk;
}

/// A folder `submit` made whose job has not created results.h5 yet: the jobs alone.
int print_jobs_only(const StatusOptions& opt, const std::vector<std::string>& ids) {
  std::vector<SlurmJobView> jobs = query_jobs(ids);
  if (opt.format == "json") {
    nlohmann::json j{{"dir", opt.dir},
                     {"results", nullptr},
                     {"slurm_job_ids", ids},
                     {"slurm_jobs", jobs_json(jobs, opt.dir, false)}};
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << fmt::format("{}: no results.h5 yet (the sweep has not started)\n", opt.dir);
    for (const auto& v : jobs) std::cout << job_line(v, opt.dir, false) << "\n";
  }
  return kExitOk;
}

int status(const StatusOptions& opt) {
  return with_input_errors([&]() {
    if (!io::file_exists(results::store_path(opt.dir))) {
      std::vector<std::string> ids = recorded_job_ids(opt.dir, {});
      if (!ids.empty()) return print_jobs_only(opt, ids);
    }
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
  add_sweep_dir_option(*cmd, opt->dir);
  cmd->add_option("--format", opt->format, "Output format")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  return [opt, cmd]() { return cmd->parsed() ? status(*opt) : -1; };
}

}  // namespace mammosweep::orchestrator
