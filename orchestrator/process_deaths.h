#pragma once
// Trials whose process died (issue: a rank that segfaults ends the whole MPI job). While a
// rank runs an attempt it keeps a crash note armed (io/crash_note.h) at
// DIR/deaths/<trial>.attempt-<n>.rank-<r>.txt; a fatal signal writes it. The next launch
// reads the notes (the coordinator's constructor) and charges each death to its trial:
// after `retries` + 1 deaths the trial is failed with the reason "process died" and the
// sweep goes on without it. docs/reliability.md, "A rank process that dies".
#include <map>
#include <string>
#include <vector>

namespace mammosweep::orchestrator {

struct ProcessDeath {
  std::string trial_id;
  int attempt = 0;
  int rank = 0;
  std::string host;
  int signal = 0;
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
