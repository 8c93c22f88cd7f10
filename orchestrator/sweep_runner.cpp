#include "orchestrator/sweep_runner.h"

#include <fmt/format.h>
#include <mpi.h>
#include <torch/cuda.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "cluster/communicator.h"
#include "cluster/mpi.h"
#include "cluster/protocol.h"
#include "cluster/slurm.h"
#include "orchestrator/cli.h"
#include "orchestrator/coordinator.h"
#include "orchestrator/sweep_results.h"
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

using namespace std::chrono_literals;

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

/// MAMMOSWEEP_INJECT_FAILURE=RANK:TRIAL:EPOCH:STEP makes world rank RANK throw at that
/// training step of trial TRIAL (name or id): fault injection for tests and cluster checks.
struct FaultInjection {
  int rank = -1, epoch = 0, step = 0;
  std::string trial;
};

FaultInjection fault_injection_from_env() {
  FaultInjection f;
  const char* env = std::getenv("MAMMOSWEEP_INJECT_FAILURE");
  if (!env || !*env) return f;
  char name[128] = {};
  if (std::sscanf(env, "%d:%127[^:]:%d:%d", &f.rank, name, &f.epoch, &f.step) != 4 ||
      f.epoch < 1 || f.step < 1) {
    throw InputError(fmt::format("MAMMOSWEEP_INJECT_FAILURE='{}': expected RANK:TRIAL:EPOCH:STEP "
                                 "with EPOCH and STEP >= 1, e.g. 2:B:1:3",
                                 env));
  }
  f.trial = name;
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

/// Everything every rank derives from the command line alone.
struct Setup {
  sweeps::SweepSpec spec;
  std::vector<sweeps::Trial> trials;
  worker::PrepareOptions prepare;
  int threads = 1;
  FaultInjection fault;
};

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
  if (f.rank == world_rank && (f.trial == trial.name || f.trial == trial.id)) {
    to.fail_at_epoch = f.epoch;
    to.fail_at_step = f.step;
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
  return to;
}

/// A cluster::Communicator seen through the trainer's GradientGroup interface.
class CommunicatorGroup : public worker::GradientGroup {
 public:
  explicit CommunicatorGroup(std::unique_ptr<cluster::Communicator> c) : c_(std::move(c)) {}
  int rank() const override { return c_->rank(); }
  int size() const override { return c_->size(); }
  void allreduce_mean(std::vector<torch::Tensor>& t) override { c_->allreduce_mean(t); }
  void broadcast(torch::Tensor& t, int root) override { c_->broadcast(t, root); }
  std::vector<std::string> allgather_bytes(const std::string& b) override {
    return c_->allgather(b);
  }

 private:
  std::unique_ptr<cluster::Communicator> c_;
};

// ---- one process ---------------------------------------------------------------------------

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
    try {
      worker::TrainOutcome outcome = worker::train_trial(job->trial, data, to);
      coord.finished(id, outcome.status);
    } catch (const worker::Interrupted&) {
      coord.interrupted(id);
      return kExitInterrupted;
    } catch (const worker::TrialFailure& e) {
      coord.failed(id, worker::to_string(e.kind()), e.what(), 0);
    }
  }
  return kExitOk;
}

// ---- MPI: the coordinator (rank 0) --------------------------------------------------------

int coordinate(SweepCoordinator& coord, const cluster::MpiComm& control, int world_size) {
  const int need = coord.replicas();
  if (need > world_size - 1) {
    throw InputError(fmt::format("resources.replicas is {} but this run has only {} worker "
                                 "rank(s); start more ranks (mpirun -np {})",
                                 need, world_size - 1, need + 1));
  }
  std::set<int> idle;
  std::map<int, std::string> host;
  std::map<std::string, std::vector<int>> busy;  // trial id -> ranks, [0] = leader
  bool stopping = false;
  while (true) {
    if (stop_requested() && !stopping) {
      stopping = true;
      std::cout << "stop requested: checkpointing running trials at the next step\n"
                << std::flush;
      for (const auto& [id, ranks] : busy) {
        cluster::send_message(control, ranks[0], cluster::CheckpointNow{id});
      }
    }
    while (!stopping && coord.has_queued() && static_cast<int>(idle.size()) >= need) {
      // Prefer the node with the most idle ranks, so a group stays on one node if it can.
      std::map<std::string, std::vector<int>> by_host;
      for (int r : idle) by_host[host[r]].push_back(r);
      std::vector<int> ranks;
      auto most = std::max_element(by_host.begin(), by_host.end(), [](auto& a, auto& b) {
        return a.second.size() < b.second.size();
      });
      for (int r : most->second) {
        if (static_cast<int>(ranks.size()) < need) ranks.push_back(r);
      }
      for (int r : idle) {
        if (static_cast<int>(ranks.size()) < need &&
            std::find(ranks.begin(), ranks.end(), r) == ranks.end()) {
          ranks.push_back(r);
        }
      }
      std::sort(ranks.begin(), ranks.end());
      Job job = *coord.next_job();
      coord.started(job, ranks);
      cluster::Assign assign{sweeps::to_text(job.trial), job.attempt, ranks,
                             job.resume_from_epoch};
      for (int r : ranks) {
        cluster::send_message(control, r, assign);
        idle.erase(r);
      }
      busy[job.trial.id] = ranks;
    }
    if (busy.empty() && (stopping || !coord.has_queued())) break;
    std::optional<cluster::Message> msg = cluster::recv_message(control, 500ms);
    if (!msg) continue;
    const int src = msg->source;
    std::visit(
        [&](auto& m) {
          using T = std::decay_t<decltype(m)>;
          if constexpr (std::is_same_v<T, cluster::Ready>) {
            idle.insert(src);
            host[src] = m.hostname;
          } else if constexpr (std::is_same_v<T, cluster::EpochReport>) {
            worker::EpochDecision d = worker::EpochDecision::proceed;
            if (busy.count(m.trial_id)) {
              d = coord.epoch(m.trial_id, m.record, m.val_predictions.value_or(results::Predictions{}));
            }
            cluster::Stop verdict{m.trial_id, "", d == worker::EpochDecision::stop_early};
            if (verdict.stop) verdict.reason = "early stopping";
            cluster::send_message(control, src, verdict);
          } else if constexpr (std::is_same_v<T, cluster::Done>) {
            if (busy.erase(m.trial_id)) coord.finished(m.trial_id, m.status);
          } else if constexpr (std::is_same_v<T, cluster::Failed>) {
            if (busy.erase(m.trial_id)) {
              if (m.kind == cluster::FailureKind::interrupted) {
                coord.interrupted(m.trial_id);
              } else {
                coord.failed(m.trial_id, cluster::to_string(m.kind), m.reason, m.rank);
              }
            }
          }
        },
        msg->body);
  }
  return stopping ? kExitInterrupted : kExitOk;
}

// ---- MPI: a worker (ranks 1..N-1) ---------------------------------------------------------

cluster::FailureKind protocol_kind(worker::FailureKind k) {
  switch (k) {
    case worker::FailureKind::diverged: return cluster::FailureKind::diverged;
    case worker::FailureKind::oom: return cluster::FailureKind::oom;
    case worker::FailureKind::bad_image: return cluster::FailureKind::bad_image;
    case worker::FailureKind::exception: break;
  }
  return cluster::FailureKind::exception;
}

int work(const RunOptions& opt, const cluster::MpiSession& session,
         const cluster::MpiComm& control, int workers_on_node) {
  Setup s = make_setup(opt, workers_on_node);
  const bool cuda = s.spec.resources.gpus > 0 && torch::cuda::is_available();
  const int device = cuda ? session.local_rank() % std::max<int>(1, torch::cuda::device_count())
                          : -1;
  auto ready = [&] {
    cluster::send_message(control, 0,
                          cluster::Ready{session.rank(), session.hostname(),
                                         session.local_rank(), device});
  };
  ready();
  std::optional<worker::PreparedData> data;
  while (true) {
    std::optional<cluster::Message> msg = cluster::recv_message(control, cluster::kWaitForever, 0);
    if (!msg || std::holds_alternative<cluster::Shutdown>(msg->body)) break;
    auto* assign = std::get_if<cluster::Assign>(&msg->body);
    if (!assign) continue;  // a late CheckpointNow for a trial that already ended
    sweeps::Trial trial = sweeps::trial_from_text(assign->trial_text);
    const bool leader = assign->group_ranks.at(0) == session.rank();
    int last_reported = assign->resume_from_epoch;
    bool checkpoint_now = false;
    try {
      // The group first: after it exists, a member that fails tells the others (sync_group)
      // instead of leaving them waiting in a collective.
      std::unique_ptr<CommunicatorGroup> group;
      if (assign->group_ranks.size() > 1) {
        cluster::MpiComm g = cluster::create_group(session.world(), assign->group_ranks);
        group = std::make_unique<CommunicatorGroup>(
            cuda ? cluster::make_nccl_communicator(g, device)
                 : cluster::make_mpi_communicator(std::move(g)));
      }
      std::exception_ptr prepare_failure;
      try {
        if (!data) {
          worker::PrepareOptions po = s.prepare;
          po.check_leakage = false;  // rank 0 ran the guard before handing out any trial
          data.emplace(worker::prepare_data(s.spec.data, po));
        }
      } catch (...) {
        if (!group) throw;
        prepare_failure = std::current_exception();
      }
      if (group) worker::sync_group(*group, prepare_failure);
      worker::TrainerOptions to =
          trainer_options(s, opt, trial, assign->resume_from_epoch, session.rank());
      to.progress = false;
      to.group = group.get();
      to.cuda_device = std::max(0, device);
      to.should_stop = [&] {
        if (leader && !checkpoint_now) {
          if (auto m = cluster::recv_message(control, 0us, 0)) {
            if (std::holds_alternative<cluster::CheckpointNow>(m->body)) checkpoint_now = true;
          }
        }
        return stop_requested().load() || checkpoint_now;
      };
      to.on_epoch = [&](const results::EpochRecord& r, const results::Predictions& val) {
        if (!leader) return worker::EpochDecision::proceed;
        cluster::send_message(control, 0, cluster::EpochReport{trial.id, r, val});
        last_reported = r.epoch;
        while (true) {
          std::optional<cluster::Message> v = cluster::recv_message(control, cluster::kWaitForever, 0);
          if (!v) continue;
          if (auto* stop = std::get_if<cluster::Stop>(&v->body)) {
            return stop->stop ? worker::EpochDecision::stop_early : worker::EpochDecision::proceed;
          }
          if (std::holds_alternative<cluster::CheckpointNow>(v->body)) checkpoint_now = true;
        }
      };
      worker::TrainOutcome outcome = worker::train_trial(trial, *data, to);
      if (leader) {
        cluster::Done done;
        done.trial_id = trial.id;
        done.status = outcome.status;
        done.epochs_completed = outcome.epochs_completed;
        done.best_epoch = outcome.best_epoch;
        cluster::send_message(control, 0, done);
      }
    } catch (const worker::Interrupted& e) {
      if (leader) {
        cluster::send_message(control, 0,
                              cluster::Failed{trial.id, e.what(), cluster::FailureKind::interrupted,
                                              session.rank(), last_reported});
      }
    } catch (const worker::GroupAborted&) {
      // Another member failed and reports it; this rank is free again.
    } catch (const worker::TrialFailure& e) {
      cluster::send_message(control, 0,
                            cluster::Failed{trial.id, e.what(), protocol_kind(e.kind()),
                                            session.rank(), 0});
    } catch (const std::exception& e) {
      cluster::send_message(control, 0,
                            cluster::Failed{trial.id, e.what(), cluster::FailureKind::exception,
                                            session.rank(), 0});
    }
    ready();
  }
  return kExitOk;
}

/// Every rank's hostname, in rank order (collective).
std::vector<std::string> all_hostnames(const cluster::MpiSession& session) {
  constexpr int kLen = 256;
  std::string mine = session.hostname();
  mine.resize(kLen, '\0');
  std::string all(static_cast<std::size_t>(kLen * session.size()), '\0');
  MPI_Allgather(mine.data(), kLen, MPI_CHAR, all.data(), kLen, MPI_CHAR, session.world().get());
  std::vector<std::string> out;
  for (int r = 0; r < session.size(); ++r) out.emplace_back(all.c_str() + r * kLen);
  return out;
}

/// Worker ranks on this node: every rank of the node except the coordinator.
int workers_on_this_node(const cluster::MpiSession& session,
                         const std::vector<std::string>& hosts) {
  if (session.size() == 1) return 1;
  return session.local_size() - (hosts[0] == session.hostname() ? 1 : 0);
}

/// Tells every worker to leave its loop, whatever path rank 0 leaves by.
class ShutdownWorkers {
 public:
  ShutdownWorkers(const cluster::MpiComm& control, int size) : control_(control), size_(size) {}
  ~ShutdownWorkers() {
    for (int r = 1; r < size_; ++r) {
      try {
        cluster::send_message(control_, r, cluster::Shutdown{});
      } catch (...) {
      }
    }
  }

 private:
  const cluster::MpiComm& control_;
  int size_;
};

}  // namespace

int run_sweep(const RunOptions& opt) {
  cluster::MpiSession session;  // a world of one without a launcher
  cluster::MpiComm control = session.world().dup();
  const std::vector<std::string> hosts = all_hostnames(session);
  const int workers_on_node = workers_on_this_node(session, hosts);
  if (session.rank() != 0) return work(opt, session, control, workers_on_node);
  ShutdownWorkers shutdown(control, session.size());

  Setup s = make_setup(opt, workers_on_node);
  results::make_dirs(opt.out_dir);
  const std::string store_file = results::store_path(opt.out_dir);
  const bool existing = results::file_exists(store_file);
  if (existing && !opt.resume) {
    std::cerr << fmt::format("{} already holds a sweep; add --resume to continue it\n",
                             opt.out_dir);
    return kExitUsage;
  }
  std::cout << fmt::format("preparing data from {} ({}x{} px, cache in {})\n", s.spec.data.root,
                           s.spec.data.image_size, s.spec.data.image_size, s.prepare.cache_dir)
            << std::flush;
  worker::PreparedData data = worker::prepare_data(s.spec.data, s.prepare);
  std::cout << fmt::format(
                   "data: {} train / {} val / {} test images; leakage guard: {} finding(s); "
                   "cache {}; {} rank(s), {} thread(s) per training rank\n",
                   data.train.size(), data.val.size(), data.test.size(),
                   data.leakage.findings.size(),
                   data.cache->stats().hit ? "hit (no decoding)" : "built", session.size(),
                   s.threads)
            << std::flush;

  std::vector<results::TrialInit> inits;
  for (const auto& t : s.trials) {
    inits.push_back({t.id, t.name, sweeps::params_to_json(t.params), t.seed});
  }
  std::optional<results::SweepStore> store;
  if (existing) {
    results::SweepSnapshot snap = results::read_store(store_file);
    if (snap.info.spec_yaml != s.spec.source_text) {
      if (!opt.allow_spec_change) {
        std::cerr << fmt::format(
            "{}: the spec changed since this sweep started; refusing to resume.\n{}"
            "Use --allow-spec-change to keep the recorded trials and append the new ones.\n",
            opt.spec_path, line_diff(snap.info.spec_yaml, s.spec.source_text));
        return kExitUsage;
      }
      // Keep the recorded trials; run only the spec's new ones.
      std::set<std::string> known;
      for (const auto& t : snap.trials) known.insert(t.id);
      std::vector<sweeps::Trial> fresh;
      for (const auto& t : s.trials) {
        if (!known.count(t.id)) fresh.push_back(t);
      }
      std::cout << fmt::format("spec changed: keeping {} recorded trial(s), adding {} new\n",
                               known.size(), fresh.size());
      s.trials = fresh;
      inits.clear();
      for (const auto& t : s.trials) {
        inits.push_back({t.id, t.name, sweeps::params_to_json(t.params), t.seed});
      }
    }
    store.emplace(results::SweepStore::open_for_append(store_file, inits));
  } else {
    results::SweepInfo info;
    info.tool_version = MAMMOSWEEP_VERSION;
    info.spec_yaml = s.spec.source_text;
    info.spec_overrides = s.spec.overrides;
    info.spec_effective_yaml = s.spec.effective_text;
    info.spec_hash = fmt::format("{:016x}", worker::fnv1a64(s.spec.source_text.data(),
                                                             s.spec.source_text.size()));
    info.libtorch_version = MAMMOSWEEP_TORCH_VERSION;
    info.cuda_version = MAMMOSWEEP_CUDA_VERSION;
    info.nccl_version = MAMMOSWEEP_NCCL_VERSION;
    info.mpi_version = mpi_version();
    info.hostnames = std::vector<std::string>(hosts.begin(), hosts.end());
    std::sort(info.hostnames.begin(), info.hostnames.end());
    info.hostnames.erase(std::unique(info.hostnames.begin(), info.hostnames.end()),
                         info.hostnames.end());
    info.data_manifest_hash = data.manifest_hash;
    info.leakage_report_json = data.leakage.to_json();
    store.emplace(results::SweepStore::create(store_file, info, inits));
  }
  // Slurm jobs that ran this sweep: those `submit` recorded, and the one we run in.
  {
    std::vector<std::string> jobs = results::read_store(store_file).info.slurm_job_ids;
    std::vector<std::string> seen_now = cluster::recorded_job_ids(opt.out_dir);
    if (const char* id = std::getenv("SLURM_JOB_ID"); id && *id) seen_now.push_back(id);
    for (const auto& id : seen_now) {
      if (std::find(jobs.begin(), jobs.end(), id) == jobs.end()) {
        store->add_job_id(id);
        jobs.push_back(id);
      }
    }
  }

  int rc = kExitOk;
  {
    SweepCoordinator coord(s.spec, s.trials, *store, opt);
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
    if (rc == kExitOk && coord.failures() > 0) {
      std::cout << fmt::format("{} trial(s) failed; see the leaderboard for reasons\n",
                               coord.failures());
      if (opt.fail_on_trial_error) rc = kExitTrialsFailed;
    }
  }
  store->close();
  if (rc == kExitInterrupted) {
    std::cout << fmt::format(
        "\ninterrupted: every reported epoch is saved; resume with\n  mammosweep run {} --out {} "
        "--resume\n",
        opt.spec_path, opt.out_dir);
    return rc;
  }
  results::SweepSnapshot snap = load_sweep(opt.out_dir);
  results::Ranking ranking = results::rank_trials(snap.trials, ranking_options(snap, {}));
  std::cout << "\n" << results::render_leaderboard(snap.trials, ranking, "md");
  if (!ranking.justification.empty()) {
    std::cout << "\n## Model of the week\n\n" << ranking.justification << "\n";
  }
  std::cout << fmt::format("\nresults: {}\n", store_file);
  return rc;
}

}  // namespace mammosweep::orchestrator
