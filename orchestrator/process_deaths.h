#pragma once
// Trials whose process died (issue: a rank that segfaults ends the whole MPI job). While a
// rank runs an attempt it keeps a note armed (io/crash_note.h) at
// DIR/deaths/<trial>.attempt-<n>.rank-<r>.txt: written when the attempt starts, removed when
// it ends or a stop signal arrives, completed with "signal=N" by a fatal signal. A note left
// without a signal line is a death by SIGKILL (the OOM killer) or a lost node. The
// coordinator keeps DIR/deaths/launch.txt the same way: left over, it says the whole launch
// was killed at once, and settle_previous_launch() then excuses that launch's notes without
// a signal. The next launch reads the notes (the coordinator's constructor) and charges each
// death to its trial: after `retries` + 1 deaths the trial is failed with the reason
// "process died" and the sweep goes on without it. docs/reliability.md, "A rank process that
// dies".
#include <map>
#include <string>
#include <vector>

namespace mammosweep::orchestrator {

struct ProcessDeath {
  std::string trial_id;
  int attempt = 0;
  int rank = 0;
  std::string host;
  int signal = 0;  // 0: the note has no signal line (SIGKILL, the OOM killer, a lost node)
  std::string file;
};

/// DIR/deaths
std::string deaths_dir(const std::string& out_dir);

/// Arms this process's crash note for one attempt (creates DIR/deaths); disarms when
/// destroyed. The fatal-signal handler must be installed (io::install_crash_note_handler).
class AttemptDeathNote {
 public:
  AttemptDeathNote(const std::string& out_dir, const std::string& trial_id, int attempt,
                   int rank);
  ~AttemptDeathNote();
  AttemptDeathNote(const AttemptDeathNote&) = delete;
  AttemptDeathNote& operator=(const AttemptDeathNote&) = delete;
};

/// The coordinator's note for one launch (DIR/deaths/launch.txt), armed while it lives.
class LaunchDeathNote {
 public:
  explicit LaunchDeathNote(const std::string& out_dir);
  ~LaunchDeathNote();
  LaunchDeathNote(const LaunchDeathNote&) = delete;
  LaunchDeathNote& operator=(const LaunchDeathNote&) = delete;
};

/// Run before the coordinator reads the notes. When the previous launch's note is still
/// there, no process of that launch saw a signal: it was killed as a whole (`kill -9` of
/// every process, a machine or node failure), and nobody is to blame. Its attempt notes
/// without a signal line (those not older than the launch note) are then removed, and so is
/// the launch note. Returns a line for the log saying so, or "" when there was nothing to do.
std::string settle_previous_launch(const std::string& out_dir);

struct DeathNotes {
  std::map<std::string, std::vector<ProcessDeath>> by_trial;  // in attempt order
  std::vector<std::string> problems;  // "FILE: what is wrong" for notes that were skipped
};

/// Every note under DIR/deaths (none when the folder does not exist).
DeathNotes read_death_notes(const std::string& out_dir);

/// "rank 2 on node1 died of signal 11 (Segmentation fault) in attempt 1"
std::string describe(const ProcessDeath& d);

/// Distinct attempts of the trial that ended in a death.
int deaths_of(const std::vector<ProcessDeath>& notes);

}  // namespace mammosweep::orchestrator
