#include "orchestrator/sweep_runner.h"

#include <fmt/format.h>
#include <mpi.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <set>
#include <thread>

#include "orchestrator/cli.h"
#include "results/files.h"
#include "results/leaderboard.h"
#include "results/ranking.h"
#include "results/store.h"
#include "sweeps/parse.h"
#include "sweeps/trial.h"
#include "worker/data.h"
#include "worker/trainer.h"

namespace mammosweep::orchestrator {

std::atomic<bool>& stop_requested() {
  static std::atomic<bool> flag{false};
  return flag;
}

extern "C" void mammosweep_on_stop_signal(int) { stop_requested().store(true); }

void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = mammosweep_on_stop_signal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGUSR1}) sigaction(sig, &sa, nullptr);
}

namespace {

std::string now_iso() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

std::string hostname() {
  char buf[256] = {};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

std::string mpi_version() {
  char buf[MPI_MAX_LIBRARY_VERSION_STRING] = {};
  int len = 0;
  MPI_Get_library_version(buf, &len);
  std::string v(buf, static_cast<std::size_t>(len));
  if (auto nl = v.find_first_of(",\n"); nl != std::string::npos) v = v.substr(0, nl);
  return v;
}

std::string default_cache_dir() {
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/mammosweep";
  if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.cache/mammosweep";
  return "/tmp/mammosweep-cache";
}

/// Lines of `a` missing from `b` ("-") and of `b` missing from `a` ("+"), in order.
std::string line_diff(const std::string& a, const std::string& b) {
  auto lines = [](const std::string& s) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= s.size()) {
      std::size_t end = s.find('\n', start);
      if (end == std::string::npos) end = s.size();
      out.push_back(s.substr(start, end - start));
      start = end + 1;
    }
    return out;
  };
  auto la = lines(a), lb = lines(b);
  std::multiset<std::string> sa(la.begin(), la.end()), sb(lb.begin(), lb.end());
  std::string out;
  for (std::size_t i = 0; i < la.size(); ++i) {
    if (!sb.count(la[i])) out += fmt::format("  - {:>4}: {}\n", i + 1, la[i]);
  }
  for (std::size_t i = 0; i < lb.size(); ++i) {
    if (!sa.count(lb[i])) out += fmt::format("  + {:>4}: {}\n", i + 1, lb[i]);
  }
  return out;
}

std::string fmt_num(double v) { return std::isnan(v) ? "n/a" : fmt::format("{:.3f}", v); }

std::string fmt_duration(double seconds) {
  if (!(seconds >= 0)) return "unknown";
  auto s = static_cast<long long>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}h{:02d}m", s / 3600, static_cast<int>(s % 3600 / 60));
  if (s >= 60) return fmt::format("{}m{:02d}s", s / 60, static_cast<int>(s % 60));
  return fmt::format("{}s", s);
}

results::TrialInit trial_init(const sweeps::Trial& t) {
  return {t.id, t.name, sweeps::params_to_json(t.params), t.seed};
}

}  // namespace

int run_sweep(const RunOptions& opt) {
  sweeps::SweepSpec spec = sweeps::load_spec(opt.spec_path);
  if (!opt.data_root.empty()) spec.data.root = opt.data_root;
  std::vector<sweeps::Trial> trials = sweeps::expand(spec);
  results::make_dirs(opt.out_dir);
  const std::string store_file = results::store_path(opt.out_dir);
  const bool existing = results::file_exists(store_file);
  if (existing && !opt.resume) {
    std::cerr << fmt::format("{} already holds a sweep; add --resume to continue it\n",
                             opt.out_dir);
    return kExitUsage;
  }

  const int threads = opt.threads > 0 ? opt.threads
                      : spec.resources.threads > 0
                          ? spec.resources.threads
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::cout << fmt::format("preparing data from {} ({}x{} px, cache in {})\n", spec.data.root,
                           spec.data.image_size, spec.data.image_size,
                           opt.cache_dir.empty() ? default_cache_dir() : opt.cache_dir)
            << std::flush;
  worker::PrepareOptions po;
  po.cache_dir = opt.cache_dir.empty() ? default_cache_dir() : opt.cache_dir;
  po.threads = threads;
  worker::PreparedData data = worker::prepare_data(spec.data, po);
  std::cout << fmt::format(
                   "data: {} train / {} val / {} test images; leakage guard: {} finding(s); "
                   "cache {}\n",
                   data.train.size(), data.val.size(), data.test.size(),
                   data.leakage.findings.size(),
                   data.cache->stats().hit ? "hit (no decoding)" : "built")
            << std::flush;

  std::vector<results::TrialInit> inits;
  for (const auto& t : trials) inits.push_back(trial_init(t));
  std::optional<results::SweepStore> store;
  if (existing) {
    results::SweepSnapshot snap = results::read_store(store_file);
    if (snap.info.spec_yaml != spec.source_text) {
      if (!opt.allow_spec_change) {
        std::cerr << fmt::format(
            "{}: the spec changed since this sweep started; refusing to resume.\n{}"
            "Use --allow-spec-change to keep the finished trials and append the new ones.\n",
            opt.spec_path, line_diff(snap.info.spec_yaml, spec.source_text));
        return kExitUsage;
      }
      std::set<std::string> known;
      for (const auto& t : snap.trials) known.insert(t.id);
      std::vector<sweeps::Trial> kept;
      for (const auto& t : trials) {
        if (known.count(t.id)) kept.push_back(t);
      }
      for (const auto& t : trials) {
        if (!known.count(t.id)) kept.push_back(t);
      }
      trials = kept;
    }
    store.emplace(results::SweepStore::open_for_append(store_file, inits));
  } else {
    results::SweepInfo info;
    info.tool_version = MAMMOSWEEP_VERSION;
    info.spec_yaml = spec.source_text;
    info.spec_hash = fmt::format("{:016x}", worker::fnv1a64(spec.source_text.data(),
                                                             spec.source_text.size()));
    info.libtorch_version = MAMMOSWEEP_TORCH_VERSION;
    info.cuda_version = MAMMOSWEEP_CUDA_VERSION;
    info.nccl_version = MAMMOSWEEP_NCCL_VERSION;
    info.mpi_version = mpi_version();
    info.hostnames = {hostname()};
    info.data_manifest_hash = data.manifest_hash;
    info.leakage_report_json = data.leakage.to_json();
    store.emplace(results::SweepStore::create(store_file, info, inits));
  }

  results::Goal goal =
      spec.metric.goal == "minimize" ? results::Goal::minimize : results::Goal::maximize;
  int failures = 0;
  double seconds_per_epoch = -1;
  int epochs_left = 0;
  for (const auto& t : trials) epochs_left += t.params.epochs - store->last_epoch(t.id);

  for (const auto& trial : trials) {
    results::TrialState state = store->state(trial.id);
    if (state.status == results::TrialStatus::done ||
        state.status == results::TrialStatus::stopped_early) {
      continue;
    }
    if (state.status == results::TrialStatus::failed && !opt.retry_failed) continue;
    int attempts_left = spec.retries + 1;
    while (attempts_left-- > 0) {
      const int stored = store->last_epoch(trial.id);
      state.status = results::TrialStatus::running;
      state.attempts += 1;
      state.ranks = {0};
      state.failure_reason.clear();
      if (state.start_time.empty()) state.start_time = now_iso();
      store->set_state(trial.id, state);
      std::cout << fmt::format("trial {} ({}), attempt {}{}\n", trial.name, trial.id,
                               state.attempts,
                               stored > 0 ? fmt::format(", resuming after epoch {}", stored) : "")
                << std::flush;
      double best = results::kNaN;
      worker::TrainerOptions to;
      to.checkpoint_dir = opt.out_dir + "/trials/" + trial.id;
      to.resume_epoch = stored;
      to.threads = threads;
      to.metric = spec.metric.name;
      to.maximize = goal == results::Goal::maximize;
      to.progress = opt.progress;
      to.mean = spec.data.mean;
      to.std = spec.data.std;
      to.use_cuda = spec.resources.gpus > 0;
      to.should_stop = [] { return stop_requested().load(); };
      to.on_epoch = [&](const results::EpochRecord& rec, const results::Predictions& val) {
        if (rec.epoch < store->last_epoch(trial.id)) return worker::EpochDecision::proceed;
        store->append_epoch(trial.id, rec);
        double value = results::epoch_metric(rec, spec.metric.name);
        bool better = std::isnan(best) || (goal == results::Goal::maximize ? value > best
                                                                             : value < best);
        if (better && !std::isnan(value)) {
          best = value;
          store->set_best_predictions(trial.id, rec.epoch, val);
        }
        seconds_per_epoch = seconds_per_epoch < 0 ? rec.seconds
                                                  : 0.7 * seconds_per_epoch + 0.3 * rec.seconds;
        --epochs_left;
        std::cout << fmt::format(
                         "{:<12} epoch {}/{}  train loss {} acc {} | val loss {} acc {} AUC {} "
                         "sens {} spec {} | {:.1f}s {:.1f} img/s | ETA {}\n",
                         trial.name, rec.epoch, trial.params.epochs, fmt_num(rec.train.loss),
                         fmt_num(rec.train.accuracy), fmt_num(rec.val.loss),
                         fmt_num(rec.val.accuracy), fmt_num(rec.val.auc),
                         fmt_num(rec.val.recall), fmt_num(rec.val.specificity), rec.seconds,
                         rec.images_per_second,
                         fmt_duration(seconds_per_epoch * std::max(0, epochs_left)))
                  << std::flush;
        return worker::EpochDecision::proceed;
      };
      if (stored > 0) {
        // Seed "best" with what the store already holds for this trial.
        for (const auto& t : results::read_store(store_file).trials) {
          if (t.id != trial.id) continue;
          for (const auto& e : t.epochs) {
            double v = results::epoch_metric(e, spec.metric.name);
            if (!std::isnan(v) && (std::isnan(best) || (goal == results::Goal::maximize
                                                            ? v > best
                                                            : v < best))) {
              best = v;
            }
          }
        }
      }
      try {
        worker::TrainOutcome outcome = worker::train_trial(trial, data, to);
        state.status = outcome.status;
        state.end_time = now_iso();
        store->set_state(trial.id, state);
        break;
      } catch (const worker::Interrupted&) {
        store->set_state(trial.id, state);  // stays running: resumable
        std::cout << fmt::format(
            "\ninterrupted: every reported epoch is saved; resume with\n  mammosweep run {} "
            "--out {} --resume\n",
            opt.spec_path, opt.out_dir);
        return kExitInterrupted;
      } catch (const worker::TrialFailure& e) {
        state.status = results::TrialStatus::failed;
        state.failure_reason = fmt::format("{} on rank 0: {}", worker::to_string(e.kind()), e.what());
        state.end_time = now_iso();
        store->set_state(trial.id, state);
        std::cout << fmt::format("trial {} ({}) failed: {}\n", trial.name, trial.id,
                                 state.failure_reason);
        if (attempts_left == 0) ++failures;
      }
    }
  }
  store->close();

  results::SweepSnapshot snap = results::read_store(store_file);
  results::RankingOptions ro;
  ro.metric = spec.metric.name;
  ro.goal = goal;
  results::Ranking ranking = results::rank_trials(snap.trials, ro);
  std::cout << "\n" << results::render_leaderboard(snap.trials, ranking, "md") << "\n";
  std::cout << fmt::format("results: {}\n", store_file);
  if (failures > 0) {
    std::cout << fmt::format("{} trial(s) failed; see the leaderboard for reasons\n", failures);
    if (opt.fail_on_trial_error) return kExitTrialsFailed;
  }
  return kExitOk;
}

}  // namespace mammosweep::orchestrator
