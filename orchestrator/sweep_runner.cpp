#include "orchestrator/sweep_runner.h"

#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <iostream>
#include <optional>
#include <thread>
#include <utility>

#include "cluster/mpi.h"
#include "io/crash_note.h"
#include "io/disk.h"
#include "io/files.h"
#include "io/phases.h"
#include "orchestrator/cli.h"
#include "orchestrator/coordinator.h"
#include "orchestrator/mpi_sweep.h"
#include "orchestrator/process_deaths.h"
#include "orchestrator/retention.h"
#include "orchestrator/trial_disk.h"
#include "orchestrator/run_setup.h"
#include "orchestrator/store_setup.h"
#include "orchestrator/sweep_results.h"
#include "results/leaderboard.h"
#include "results/ranking.h"
#include "results/store.h"
#include "worker/data.h"
#include "worker/trainer.h"

namespace mammosweep::orchestrator {

std::atomic<bool>& stop_requested() {
  static std::atomic<bool> flag{false};
  return flag;
}

extern "C" void mammosweep_on_stop_signal(int) {
  stop_requested().store(true);
  io::stand_down_notes();  // asked to stop: not charged as a death, even if SIGKILL follows
}

ProfileReport::ProfileReport(bool enabled, std::string title)
    : enabled_(enabled), title_(std::move(title)), start_(io::monotonic_seconds()) {}

ProfileReport::~ProfileReport() {
  if (!enabled_) return;
  try {
    std::cout << "\n" << io::render_phases(io::phase_totals(), io::monotonic_seconds() - start_,
                                          title_)
              << std::flush;
  } catch (...) {  // a report must not turn an ending run into a crash
  }
}

void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = mammosweep_on_stop_signal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGUSR1}) sigaction(sig, &sa, nullptr);
}

namespace {

/// The one-process path: the coordinator and its worker share the process.
int run_local(SweepCoordinator& coord, const Setup& s, const worker::PreparedData& data,
              const RunOptions& opt) {
  while (auto job = coord.next_job()) {
    if (stop_requested()) return kExitInterrupted;
    coord.started(*job, {0});
    worker::TrainerOptions to = trainer_options(s, opt, job->trial, job->resume_from_epoch, 0);
    to.should_stop = [] { return stop_requested().load(); };
    const std::string id = job->trial.id;
    to.on_epoch = [&](const results::EpochRecord& r, const results::Predictions& val) {
      return coord.epoch(id, r, val);
    };
    AttemptDeathNote note(opt.out_dir, id, job->attempt, 0);
    try {
      worker::TrainOutcome outcome = worker::train_trial(job->trial, data, to);
      coord.finished(id, outcome.status);
    } catch (const worker::Interrupted&) {
      coord.interrupted(id);
      return kExitInterrupted;
    } catch (const worker::DiskFull& e) {
      coord.disk_full(id, e.what());
      return kExitInterrupted;
    } catch (const worker::TrialFailure& e) {
      coord.failed(id, e.kind(), e.what(), 0);
    }
  }
  return kExitOk;
}

/// Warns (does not refuse: the projection is an upper bound) when the sweep's projected peak
/// disk use, less what its trials already hold, exceeds the free space of the output file
/// system.
void check_disk_space(const std::string& out_dir, const DiskProjection& need) {
  const std::uint64_t held = io::tree_bytes(io::join_path(out_dir, "trials"));
  const std::uint64_t more = need.peak > held ? need.peak - held : 0;
  const io::FsSpace fs = io::fs_space(out_dir);
  if (more <= fs.available) return;
  std::cout << fmt::format(
                   "warning: this sweep may need {} more disk than the {} free on the file system "
                   "of {}: peak {} = {} running trial(s) x 4 checkpoints of {} + {} kept trial(s) "
                   "x {} x {} of weights (docs/sweep-spec.md, checkpoints). A full disk stops the "
                   "sweep, resumably; lower checkpoints.keep_top_trials or free space.\n",
                   io::format_bytes(more - fs.available), io::format_bytes(fs.available), out_dir,
                   io::format_bytes(need.peak), need.concurrent, io::format_bytes(need.full),
                   need.kept, need.files_per_kept, io::format_bytes(need.weights))
            << std::flush;
}

/// What to do after a checkpoint did not fit: how much space is needed, and how to resume.
std::string disk_full_message(const std::string& out_dir, const std::string& reason,
                              const DiskProjection& need) {
  const std::uint64_t free_now = io::fs_space(out_dir).available;
  const std::uint64_t held = io::tree_bytes(io::join_path(out_dir, "trials"));
  const std::uint64_t more = need.peak > held + free_now ? need.peak - held - free_now : 0;
  return fmt::format(
      "disk full: {}\nThe trial is not failed: it resumes from its last checkpoint. Free at "
      "least {} on that file system to continue (one checkpoint); the rest of the sweep may need "
      "{} more than the {} free now (projected peak {}). `mammosweep prune {}` applies the "
      "retention policy now.\n",
      reason, io::format_bytes(need.full), io::format_bytes(more), io::format_bytes(free_now),
      io::format_bytes(need.peak), out_dir);
}

/// Worker ranks on this node: every rank of the node except the coordinator.
int workers_on_this_node(const cluster::MpiSession& session,
                         const std::vector<std::string>& hosts) {
  if (session.size() == 1) return 1;
  return session.local_size() - (hosts[0] == session.hostname() ? 1 : 0);
}

/// Threads for rank 0's data preparation: its own, or under a launcher those of the worker
/// ranks on its node (each trains on `threads`), which wait meanwhile; at most the node's cores.
int preparation_threads(const cluster::MpiSession& session, int threads, int workers_on_node) {
  if (session.size() == 1) return threads;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return std::clamp(threads * workers_on_node, std::min(threads, cores), cores);
}

}  // namespace

int run_sweep(const RunOptions& opt) {
  cluster::MpiSession session;  // a world of one without a launcher
  cluster::MpiComm control = session.world().dup();
  io::install_crash_note_handler();  // after MPI's own handlers, which it chains to
  const std::vector<std::string> hosts = session.all_hostnames();
  const int workers_on_node = workers_on_this_node(session, hosts);
  ProfileReport profile(opt.profile, session.size() == 1
                                         ? std::string("profile")
                                         : fmt::format("profile of rank {} ({})", session.rank(),
                                                       session.rank() == 0 ? "coordinator"
                                                                           : "worker"));
  if (session.rank() != 0) return work(opt, session, control, workers_on_node);
  ShutdownWorkers shutdown(control, session.size());

  Setup s = make_setup(opt, workers_on_node);
  for (const auto& note : s.spec.notes) std::cout << note << "\n";
  io::make_dirs(opt.out_dir);
  const std::string store_file = results::store_path(opt.out_dir);
  if (io::file_exists(store_file) && !opt.resume) {
    std::cerr << fmt::format("{} already holds a sweep; add --resume to continue it\n",
                             opt.out_dir);
    return kExitUsage;
  }
  std::cout << fmt::format("preparing data from {} ({}x{} px, cache in {})\n", s.spec.data.root,
                           s.spec.data.image_size, s.spec.data.image_size, s.prepare.cache_dir)
            << std::flush;
  // Under mpirun the worker ranks on this node sleep until their first trial, which comes after
  // the data is ready: the leakage guard and the image cache take their threads too.
  worker::PrepareOptions prepare = s.prepare;
  prepare.threads = preparation_threads(session, s.threads, workers_on_node);
  worker::PreparedData data = worker::prepare_data(s.spec.data, prepare);
  std::cout << fmt::format(
                   "data: {} train / {} val / {} test images; leakage guard: {} finding(s){}; "
                   "cache {}; {} rank(s), {} thread(s) per training rank; prepared on {} "
                   "thread(s)\n",
                   data.train.size(), data.val.size(), data.test.size(),
                   data.leakage.findings.size(),
                   data.leakage_cached ? " (its report for these files, kept in the cache)" : "",
                   data.cache->stats().hit ? "hit (no decoding)" : "built", session.size(),
                   s.threads, prepare.threads)
            << std::flush;

  std::optional<io::PhaseTimer> store_phase(std::in_place, "open results.h5");
  results::SweepStore store = open_store(opt, s, data, hosts);
  store_phase.reset();
  const int concurrent =
      session.size() > 1 ? std::max(1, (session.size() - 1) / s.spec.resources.replicas) : 1;
  // method bayes proposes its trials later: project with max_trials random draws instead.
  sweeps::SweepSpec drawn = s.spec;
  drawn.method = sweeps::Method::random;
  const DiskProjection need =
      project_disk(s.spec.method == sweeps::Method::bayes ? sweeps::expand(drawn) : s.trials,
                   s.spec.checkpoints, concurrent);
  check_disk_space(opt.out_dir, need);

  int rc = kExitOk;
  std::string out_of_space;
  {
    if (std::string line = settle_previous_launch(opt.out_dir); !line.empty()) {
      std::cout << line << "\n";
    }
    SweepCoordinator coord(s.spec, s.trials, store, opt, concurrent);
    if (s.fault.at_report) coord.fail_at_report(s.fault.trial, s.fault.epoch);
    LaunchDeathNote launch_note(opt.out_dir);
    if (session.size() > 1) {
      // The coordinator's own CPU use while it dispatches (target: < 2% of a core).
      auto cpu_seconds = [] {
        rusage ru {};
        getrusage(RUSAGE_THREAD, &ru);
        return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
               1e-6 * static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
      };
      const double cpu0 = cpu_seconds();
      const auto wall0 = std::chrono::steady_clock::now();
      rc = coordinate(coord, control, session.size());
      const double wall =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
      const double cpu = cpu_seconds() - cpu0;
      std::cout << fmt::format("coordinator: {:.2f}s CPU over {:.1f}s of dispatching ({:.2f}% "
                               "of a core)\n",
                               cpu, wall, 100.0 * cpu / std::max(wall, 1e-9));
    } else {
      rc = run_local(coord, s, data, opt);
    }
    {
      io::PhaseTimer phase("waiting for the last checkpoint retention");  // run --profile
      coord.wait_for_retention();
    }
    out_of_space = coord.out_of_space();
    if (rc == kExitOk && coord.failures() > 0) {
      std::cout << fmt::format("{} trial(s) failed; see the leaderboard for reasons\n",
                               coord.failures());
      if (opt.fail_on_trial_error) rc = kExitTrialsFailed;
    }
  }
  store.close();
  if (rc == kExitInterrupted && !out_of_space.empty()) {
    std::cout << "\n" << disk_full_message(opt.out_dir, out_of_space, need);
  }
  if (rc == kExitInterrupted) {
    std::cout << fmt::format(
        "\ninterrupted: every reported epoch is saved; resume with\n  mammosweep run {} --out {} "
        "--resume\n",
        opt.spec_path, opt.out_dir);
    return rc;
  }
  io::PhaseTimer phase("ranking and leaderboard");
  results::SweepSnapshot snap = load_sweep(opt.out_dir);
  results::Ranking ranking = results::rank_trials(snap.trials, ranking_options(snap, {}));
  results::LeaderboardOptions lo;
  for (const auto& t : snap.trials) lo.weights[t.id] = weights_text(trial_disk(opt.out_dir, t.id));
  std::cout << "\n" << results::render_leaderboard(snap.trials, ranking, "md", lo);
  if (!ranking.justification.empty()) {
    std::cout << "\n## Model of the week\n\n" << ranking.justification << "\n";
  }
  std::cout << fmt::format("\nresults: {}\n", store_file);
  return rc;
}

}  // namespace mammosweep::orchestrator
