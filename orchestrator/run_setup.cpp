#include "orchestrator/run_setup.h"

#include <fmt/format.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "orchestrator/cli.h"
#include "orchestrator/sweep_results.h"
#include "sweeps/parse.h"
#include "worker/checkpoint.h"

namespace mammosweep::orchestrator {
namespace {

std::string default_cache_dir() {
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/mammosweep";
  if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.cache/mammosweep";
  return "/tmp/mammosweep-cache";
}

FaultInjection fault_injection_from_env() {
  FaultInjection f;
  const char* env = std::getenv("MAMMOSWEEP_INJECT_FAILURE");
  if (!env || !*env) return f;
  char rank[16] = {}, name[128] = {}, step[16] = {}, kind[16] = {};
  const int n = std::sscanf(env, "%15[^:]:%127[^:]:%d:%15[^:]:%15s", rank, name, &f.epoch, step, kind);
  char* end = nullptr;
  const long r = std::strtol(rank, &end, 10);
  const bool rank_ok = std::string(rank) == "*" || (end != rank && *end == '\0' && r >= 0);
  f.at_report = std::string(step) == "report";
  char* step_end = nullptr;
  f.step = f.at_report ? 0 : static_cast<int>(std::strtol(step, &step_end, 10));
  const bool step_ok = f.at_report ? n == 4 && std::string(rank) == "0"
                                   : step_end != step && *step_end == '\0' && f.step >= 1;
  if ((n != 4 && n != 5) || !rank_ok || f.epoch < 1 || !step_ok ||
      (n == 5 && std::string(kind) != "segv" && std::string(kind) != "kill")) {
    throw InputError(fmt::format("MAMMOSWEEP_INJECT_FAILURE='{}': expected "
                                 "RANK:TRIAL:EPOCH:STEP[:segv|:kill] with RANK a number or *, "
                                 "EPOCH and STEP >= 1, e.g. 2:B:1:3 or *:B:1:3:segv, or "
                                 "0:TRIAL:EPOCH:report",
                                 env));
  }
  f.rank = std::string(rank) == "*" ? FaultInjection::kAnyRank : static_cast<int>(r);
  f.trial = name;
  if (n == 5) f.signal = std::string(kind) == "segv" ? SIGSEGV : SIGKILL;
  return f;
}

/// `text` as a YAML double-quoted scalar.
std::string yaml_quoted(const std::string& text) {
  std::string q = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') q += '\\';
    q += c;
  }
  return q + "\"";
}

}  // namespace

Setup make_setup(const RunOptions& opt, int workers_on_node) {
  Setup s;
  s.fault = fault_injection_from_env();
  // --data-root is --set data.root=...: the effective spec records the data that trained.
  std::vector<std::string> overrides = opt.overrides;
  if (!opt.data_root.empty()) overrides.push_back("data.root=" + yaml_quoted(opt.data_root));
  s.spec = sweeps::load_spec(opt.spec_path, overrides);
  s.trials = sweeps::expand(s.spec);
  if (!opt.only_trial.empty()) {
    std::vector<sweeps::Trial> match;
    for (const auto& t : s.trials) {
      if (t.id == opt.only_trial || t.name == opt.only_trial) match.push_back(t);
    }
    if (match.size() != 1) {
      std::string names;
      for (const auto& t : s.trials) names += fmt::format("\n  {}  {}", t.id, t.name);
      throw InputError(fmt::format("{}: {} trial matches '{}'; the spec's trials are:{}",
                                   opt.spec_path, match.empty() ? "no" : "more than one",
                                   opt.only_trial, names));
    }
    s.trials = match;
  }
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  s.threads = opt.threads > 0                  ? opt.threads
              : s.spec.resources.threads > 0   ? s.spec.resources.threads
                                               : std::max(1, cores / std::max(1, workers_on_node));
  s.prepare.cache_dir = opt.cache_dir.empty() ? default_cache_dir() : opt.cache_dir;
  s.prepare.threads = s.threads;
  return s;
}

worker::TrainerOptions trainer_options(const Setup& s, const RunOptions& opt,
                                       const sweeps::Trial& trial, int resume_epoch,
                                       int world_rank) {
  worker::TrainerOptions to;
  const FaultInjection& f = s.fault;
  const bool rank_matches = f.rank == world_rank || f.rank == FaultInjection::kAnyRank;
  if (rank_matches && !f.at_report && (f.trial == trial.name || f.trial == trial.id)) {
    to.fail_at_epoch = f.epoch;
    to.fail_at_step = f.step;
    to.fail_signal = f.signal;
  }
  to.checkpoint_dir = worker::checkpoint_dir(opt.out_dir, trial.id);
  to.resume_epoch = resume_epoch;
  to.threads = s.threads;
  to.metric = s.spec.metric.name;
  to.goal = s.spec.metric.goal;
  to.progress = opt.progress;
  to.mean = s.spec.data.mean;
  to.std = s.spec.data.std;
  to.use_cuda = s.spec.resources.gpus > 0;
  to.gpu_share = to.use_cuda ? s.spec.resources.gpus : 1.0;
  return to;
}

}  // namespace mammosweep::orchestrator
