#pragma once
// Typed messages between the coordinator (world rank 0) and the workers (ranks 1..N-1).
//
// Each message is a struct that serialises itself to one JSON object (text); the MPI tag
// says which struct it is (kTagBase + MessageType). Messages travel on a CONTROL
// communicator: a dup of the world communicator used for nothing else, so protocol traffic
// never mixes with group collectives or MPI_Comm_create_group's internal messages.
//
// Protocol, in order:
//  1. Every rank creates the MpiSession; all ranks dup the world into the control
//     communicator (collective).
//  2. Each worker sends Ready{rank, hostname, local_rank, device, threads} to rank 0, then waits for
//     messages with recv_message (a sleeping poll: an idle worker uses no CPU).
//  3. The coordinator waits with recv_message(timeout) (< 2% of a core while idle) and
//     hands out trials: Assign{trial_text, attempt, group ranks, resume_from_epoch} is sent
//     to EVERY member of the group; group[0] is the group leader.
//  4. The members call create_group(control, group) (only members call it) and build their
//     Communicator on it; they train the trial data-parallel.
//  5. After each epoch the leader sends EpochReport{trial_id, record, val predictions} and
//     waits for the coordinator's verdict, Stop{trial_id, reason, stop, threads} (stop ==
//     false: carry on); the trainer broadcasts the leader's verdict to the members, so all
//     members stop after the same epoch, exactly as a one-process run would. `threads` is
//     what a single-rank trial trains its next epoch with (idle ranks lend theirs).
//  6. The leader ends the trial with Done{trial_id, status done|stopped_early, ...} or
//     Failed{trial_id, reason, kind, rank}. A member that fails sends Failed itself; the
//     group learns of it at its next consensus point (worker::sync_group, before every
//     step) and the other members abandon the trial without a message. Then every member
//     sends Ready again and goes back to step 2.
//  7. When no trial is left the coordinator sends Shutdown{} to every worker; workers exit
//     their loop (and destroy the session).
//  8. On SIGINT/SIGTERM/SIGUSR1 the coordinator sends CheckpointNow{} to every busy leader
//     and then Shutdown{}; a leader that gets CheckpointNow writes a checkpoint at the next
//     step boundary, reports the epoch it can resume from in Failed{kind=interrupted}, and
//     exits on Shutdown. A later run resends the trial with Assign{resume_from_epoch}.
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "cluster/mpi.h"
#include "results/failure.h"
#include "results/records.h"

namespace mammosweep::cluster {

enum class MessageType : int {
  assign = 0,
  epoch_report = 1,
  done = 2,
  failed = 3,
  stop = 4,
  shutdown = 5,
  ready = 6,
  checkpoint_now = 7,
};
inline constexpr int kTagBase = 1000;  // tag = kTagBase + int(MessageType)

const char* to_string(MessageType t);

/// Coordinator -> every member of a group: train this trial.
struct Assign {
  static constexpr MessageType type = MessageType::assign;
  std::string trial_text;        // sweeps::to_text(trial); parse with sweeps::trial_from_text
  int attempt = 1;               // 1 for the first try, +1 per retry
  std::vector<int> group_ranks;  // control-communicator ranks; [0] is the leader
  int resume_from_epoch = 0;     // 0: fresh start; k: continue after epoch k's checkpoint
};

/// Leader -> coordinator, after each epoch.
struct EpochReport {
  static constexpr MessageType type = MessageType::epoch_report;
  std::string trial_id;
  results::EpochRecord record;
  std::optional<results::Predictions> val_predictions;
};

/// Leader -> coordinator: the trial finished.
struct Done {
  static constexpr MessageType type = MessageType::done;
  std::string trial_id;
  results::TrialStatus status = results::TrialStatus::done;  // done or stopped_early
  int epochs_completed = 0;
  std::optional<int> best_epoch;
  std::string reason;  // why it stopped early; empty otherwise
};

/// Leader or member -> coordinator: the trial failed on `rank`.
struct Failed {
  static constexpr MessageType type = MessageType::failed;
  std::string trial_id;
  std::string reason;
  results::FailureKind kind = results::FailureKind::exception;
  int rank = -1;
  int resumable_epoch = 0;  // last epoch with a checkpoint (kind == interrupted), else 0
};

/// Coordinator -> leader: the verdict on an EpochReport. The coordinator answers every
/// EpochReport with one Stop; `stop == false` means "carry on", so the leader applies the
/// early-stopping decision after the same epoch wherever the trial runs.
struct Stop {
  static constexpr MessageType type = MessageType::stop;
  std::string trial_id;
  std::string reason;
  bool stop = true;
  /// Intra-op threads for the next epoch: the rank's own plus those lent by idle ranks on
  /// its host (orchestrator/thread_lending.h); 0: unchanged.
  int threads = 0;
};

/// Coordinator -> worker: leave the worker loop.
struct Shutdown {
  static constexpr MessageType type = MessageType::shutdown;
};

/// Worker -> coordinator: idle and ready for an Assign.
struct Ready {
  static constexpr MessageType type = MessageType::ready;
  int rank = -1;
  std::string hostname;
  int local_rank = 0;
  int device = -1;  // CUDA device index, -1 for CPU
  int threads = 1;  // the intra-op threads it trains with
};

/// Coordinator -> leader: write a checkpoint now (the run is being interrupted).
struct CheckpointNow {
  static constexpr MessageType type = MessageType::checkpoint_now;
  std::string trial_id;  // empty: whatever trial is running
};

using MessageBody =
    std::variant<Assign, EpochReport, Done, Failed, Stop, Shutdown, Ready, CheckpointNow>;

struct Message {
  int source = -1;  // sender's rank in the control communicator
  MessageBody body;
  MessageType type() const;
};

/// Body <-> bytes (one JSON object). Doubles round-trip exactly, NaN and +/-inf included;
/// float scores round-trip exactly. decode throws std::invalid_argument naming the message
/// type and the missing or malformed field.
std::string encode(const MessageBody& body);
MessageBody decode(MessageType type, const std::string& bytes);
MessageType type_of(const MessageBody& body);

/// Sends one message to `dest` with tag kTagBase + type (see send_bytes).
void send_message(const MpiComm& comm, int dest, const MessageBody& body);

/// Receives the next protocol message (from `source`, default any), sleeping between polls;
/// nullopt after `timeout`. Throws std::invalid_argument for a tag outside the protocol or a
/// body that does not decode (naming the sender's rank).
std::optional<Message> recv_message(const MpiComm& comm, std::chrono::microseconds timeout,
                                    int source = MPI_ANY_SOURCE, const Backoff& backoff = {});

}  // namespace mammosweep::cluster
