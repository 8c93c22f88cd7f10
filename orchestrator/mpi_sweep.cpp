#include "orchestrator/mpi_sweep.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/cuda.h>
#include <torch/utils.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cluster/communicator.h"
#include "cluster/protocol.h"
#include "io/phases.h"
#include "orchestrator/cli.h"
#include "orchestrator/placement.h"
#include "orchestrator/process_deaths.h"
#include "orchestrator/run_setup.h"
#include "orchestrator/sweep_results.h"
#include "orchestrator/thread_lending.h"
#include "worker/data.h"
#include "worker/trainer.h"

namespace mammosweep::orchestrator {
namespace {

using namespace std::chrono_literals;

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

/// How long each worker rank held a trial, as the coordinator saw it (from the Assign it
/// sent to the Done or Failed it received), against the time it spent dispatching.
class RankUsage {
 public:
  void start(const std::string& trial_id, const std::vector<int>& ranks) {
    since_[trial_id] = io::monotonic_seconds();
    for (int r : ranks) ++trials_[r];
  }
  void end(const std::string& trial_id, const std::vector<int>& ranks) {
    const auto it = since_.find(trial_id);
    if (it == since_.end()) return;
    for (int r : ranks) busy_[r] += io::monotonic_seconds() - it->second;
    since_.erase(it);
  }
  /// "ranks busy over 123.4 s: rank 1 96.1 % (2 trials), rank 2 70.3 % (1 trial)".
  std::string line(const std::map<int, RankSlot>& workers) const {
    const double wall = std::max(io::monotonic_seconds() - start_, 1e-9);
    std::vector<std::string> parts;
    for (const auto& [r, slot] : workers) {
      const int n = trials_.count(r) ? trials_.at(r) : 0;
      parts.push_back(fmt::format("rank {} {:.1f} % ({} trial{})", r,
                                  100.0 * (busy_.count(r) ? busy_.at(r) : 0.0) / wall, n,
                                  n == 1 ? "" : "s"));
    }
    return fmt::format("ranks busy over {:.1f} s: {}", wall, fmt::join(parts, ", "));
  }

 private:
  double start_ = io::monotonic_seconds();
  std::map<std::string, double> since_;
  std::map<int, double> busy_;
  std::map<int, int> trials_;
};

/// Idle ranks' threads for running trials (thread_lending.h): the threads a reporting rank
/// trains its next epoch with, and a line whenever that number changes.
class ThreadLending {
 public:
  explicit ThreadLending(bool enabled) : enabled_(enabled) {}
  void ready(int rank, int threads) {
    own_[rank] = threads;
    granted_.erase(rank);  // a new trial starts with the rank's own threads
  }
  /// 0 when lending is off or `src` does not lead a single-rank CPU trial.
  int next_epoch(int src, const std::string& trial_id, int epoch, const std::set<int>& idle,
                 bool work_waits, const std::map<int, RankSlot>& workers,
                 const std::map<std::string, std::vector<int>>& busy) {
    if (!enabled_) return 0;
    std::map<int, LendingRank> table;
    for (const auto& [r, slot] : workers) {
      table[r] = LendingRank{slot.host, own(r), idle.count(r) > 0 && !work_waits, false};
    }
    for (const auto& [id, ranks] : busy) {
      if (ranks.size() == 1 && workers.count(ranks[0]) && workers.at(ranks[0]).device < 0) {
        table[ranks[0]].can_borrow = true;
      }
    }
    const std::map<int, int> plan = lend_idle_threads(table);
    const auto it = plan.find(src);
    if (it == plan.end()) return 0;
    const int before = granted_.count(src) ? granted_.at(src) : own(src);
    if (it->second != before) {
      std::cout << fmt::format("rank {} (trial {}) trains from epoch {} with {} thread{} ({} "
                               "lent by idle ranks on {})\n",
                               src, trial_id, epoch, it->second, it->second == 1 ? "" : "s",
                               it->second - own(src), workers.at(src).host)
                << std::flush;
    }
    granted_[src] = it->second;
    return it->second;
  }

 private:
  int own(int r) const { return own_.count(r) ? own_.at(r) : 1; }
  bool enabled_;
  std::map<int, int> own_, granted_;
};

}  // namespace

int coordinate(SweepCoordinator& coord, const cluster::MpiComm& control, int world_size) {
  const int need = coord.replicas();
  if (need > world_size - 1) {
    throw InputError(fmt::format("resources.replicas is {} but this run has only {} worker "
                                 "rank(s); start more ranks (mpirun -np {})",
                                 need, world_size - 1, need + 1));
  }
  std::set<int> idle;
  std::map<int, RankSlot> workers;               // every rank that sent Ready: host, device
  std::map<std::string, std::vector<int>> busy;  // trial id -> ranks, [0] = leader
  std::map<std::string, int> epochs;             // trial id -> its epochs
  DeviceLoad load;                               // device -> share held by running trials
  const double share = coord.gpu_share();
  auto hold = [&](const std::vector<int>& ranks, double sign) {
    for (int r : ranks) {
      const RankSlot& slot = workers[r];
      if (share > 0 && slot.device >= 0) load[{slot.host, slot.device}] += sign * share;
    }
  };
  RankUsage usage;
  ThreadLending lending(coord.lend_idle_threads());
  auto release = [&](const std::string& trial_id) {
    auto it = busy.find(trial_id);
    if (it == busy.end()) return false;
    usage.end(trial_id, it->second);
    hold(it->second, -1);
    busy.erase(it);
    return true;
  };
  bool stopping = false;
  while (true) {
    if ((stop_requested() || !coord.out_of_space().empty()) && !stopping) {
      stopping = true;
      std::cout << (stop_requested() ? "stop requested" : "disk full")
                << ": checkpointing running trials at the next step\n" << std::flush;
      for (const auto& [id, ranks] : busy) {
        cluster::send_message(control, ranks[0], cluster::CheckpointNow{id});
      }
    }
    while (!stopping && coord.has_queued() && static_cast<int>(idle.size()) >= need) {
      std::map<int, RankSlot> idle_slots;
      for (int r : idle) idle_slots[r] = workers[r];
      const GpuPlacement placed = place_on_devices(idle_slots, workers, load, need, share);
      // "Never" counts devices, so it waits until every worker has said which it has.
      if (placed.never && static_cast<int>(workers.size()) == world_size - 1) {
        throw InputError("resources: a trial " + placed.why);
      }
      if (placed.ranks.empty()) break;  // waits for a running trial to free its share
      const std::vector<int>& ranks = placed.ranks;
      std::optional<Job> next = coord.next_job();
      if (!next) break;  // bayes: the search space had no untried point left
      const Job& job = *next;
      coord.started(job, ranks);
      cluster::Assign assign{sweeps::to_text(job.trial), job.attempt, ranks,
                             job.resume_from_epoch};
      for (int r : ranks) {
        cluster::send_message(control, r, assign);
        idle.erase(r);
      }
      hold(ranks, +1);
      busy[job.trial.id] = ranks;
      epochs[job.trial.id] = job.trial.params.epochs;
      usage.start(job.trial.id, ranks);
    }
    if (busy.empty() && (stopping || !coord.has_queued())) break;
    std::optional<cluster::Message> msg;
    {
      io::PhaseTimer phase("waiting for the workers");
      msg = cluster::recv_message(control, 500ms);
    }
    if (!msg) continue;
    const int src = msg->source;
    std::visit(
        [&](auto& m) {
          using T = std::decay_t<decltype(m)>;
          if constexpr (std::is_same_v<T, cluster::Ready>) {
            idle.insert(src);
            workers[src] = RankSlot{m.hostname, m.device};
            lending.ready(src, m.threads);
          } else if constexpr (std::is_same_v<T, cluster::EpochReport>) {
            worker::EpochDecision d = worker::EpochDecision::proceed;
            if (busy.count(m.trial_id)) {
              io::PhaseTimer phase("epoch reports (results.h5, early stopping)");
              d = coord.epoch(m.trial_id, m.record, m.val_predictions.value_or(results::Predictions{}));
            }
            cluster::Stop verdict{m.trial_id, "", d == worker::EpochDecision::stop_early};
            if (verdict.stop) verdict.reason = "early stopping";
            if (!verdict.stop && busy.count(m.trial_id) && m.record.epoch < epochs[m.trial_id]) {
              verdict.threads = lending.next_epoch(src, m.trial_id, m.record.epoch + 1, idle,
                                                   coord.has_queued(), workers, busy);
            }
            cluster::send_message(control, src, verdict);
          } else if constexpr (std::is_same_v<T, cluster::Done>) {
            if (release(m.trial_id)) coord.finished(m.trial_id, m.status);
          } else if constexpr (std::is_same_v<T, cluster::Failed>) {
            if (release(m.trial_id)) {
              if (m.kind == results::FailureKind::interrupted) {
                coord.interrupted(m.trial_id);
              } else if (m.kind == results::FailureKind::disk_full) {
                coord.disk_full(m.trial_id, m.reason);
              } else {
                coord.failed(m.trial_id, m.kind, m.reason, m.rank);
              }
            }
          }
        },
        msg->body);
  }
  std::cout << usage.line(workers) << "\n" << std::flush;
  return stopping ? kExitInterrupted : kExitOk;
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
                                         session.local_rank(), device, s.threads});
  };
  ready();
  std::optional<worker::PreparedData> data;
  // Set when the coordinator's Shutdown arrives while a trial runs (it has ended the sweep,
  // for example on an error of its own): the trial stops at its next step and this rank ends.
  bool shutdown = false;
  while (!shutdown) {
    std::optional<cluster::Message> msg;
    {
      io::PhaseTimer phase("waiting for a trial");
      msg = cluster::recv_message(control, cluster::kWaitForever, 0);
    }
    if (!msg || std::holds_alternative<cluster::Shutdown>(msg->body)) break;
    auto* assign = std::get_if<cluster::Assign>(&msg->body);
    if (!assign) continue;  // a late CheckpointNow for a trial that already ended
    sweeps::Trial trial = sweeps::trial_from_text(assign->trial_text);
    const bool leader = assign->group_ranks.at(0) == session.rank();
    int last_reported = assign->resume_from_epoch;
    bool checkpoint_now = false;
    AttemptDeathNote note(opt.out_dir, trial.id, assign->attempt, session.rank());
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
            if (std::holds_alternative<cluster::Shutdown>(m->body)) shutdown = true;
          }
        }
        return stop_requested().load() || checkpoint_now || shutdown;
      };
      to.on_epoch = [&](const results::EpochRecord& r, const results::Predictions& val) {
        if (!leader) return worker::EpochDecision::proceed;
        cluster::send_message(control, 0, cluster::EpochReport{trial.id, r, val});
        last_reported = r.epoch;
        while (true) {
          std::optional<cluster::Message> v = cluster::recv_message(control, cluster::kWaitForever, 0);
          if (!v) continue;
          if (auto* stop = std::get_if<cluster::Stop>(&v->body)) {
            // Threads lent by idle ranks (or given back) from the next epoch on.
            if (stop->threads > 0 && stop->threads != torch::get_num_threads()) {
              torch::set_num_threads(stop->threads);
            }
            return stop->stop ? worker::EpochDecision::stop_early : worker::EpochDecision::proceed;
          }
          if (std::holds_alternative<cluster::CheckpointNow>(v->body)) checkpoint_now = true;
          if (std::holds_alternative<cluster::Shutdown>(v->body)) {
            shutdown = true;
            throw worker::Interrupted("the coordinator ended the sweep");
          }
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
      if (leader && !shutdown) {
        cluster::send_message(control, 0,
                              cluster::Failed{trial.id, e.what(), results::FailureKind::interrupted,
                                              session.rank(), last_reported});
      }
    } catch (const worker::DiskFull& e) {
      cluster::send_message(control, 0,
                            cluster::Failed{trial.id, e.what(), results::FailureKind::disk_full,
                                            session.rank(), last_reported});
    } catch (const worker::GroupAborted&) {
      // Another member failed and reports it; this rank is free again.
    } catch (const worker::TrialFailure& e) {
      cluster::send_message(control, 0,
                            cluster::Failed{trial.id, e.what(), e.kind(),
                                            session.rank(), 0});
    } catch (const std::exception& e) {
      cluster::send_message(control, 0,
                            cluster::Failed{trial.id, e.what(), results::FailureKind::exception,
                                            session.rank(), 0});
    }
    if (!shutdown) ready();
  }
  return kExitOk;
}

ShutdownWorkers::~ShutdownWorkers() {
  for (int r = 1; r < size_; ++r) {
    try {
      cluster::send_message(control_, r, cluster::Shutdown{});
    } catch (...) {
    }
  }
}

}  // namespace mammosweep::orchestrator
