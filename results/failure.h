#pragma once
// Why an attempt at a trial failed: the one list. The trainer throws it (worker::TrialFailure),
// the rank protocol carries it (cluster::Failed), the coordinator records its name in the
// trial's failure reason, and the leaderboard shows it.
#include <string>

namespace mammosweep::results {

enum class FailureKind {
  exception,    // anything unexpected (the message says what)
  diverged,     // the training loss became NaN or infinite
  oom,          // out of memory (CPU or GPU)
  bad_image,    // an image could not be decoded or preprocessed
  interrupted,  // stopped by a signal: not a failure of the trial, it resumes
  disk_full,    // a checkpoint did not fit on disk: not a failure of the trial, it resumes
};

const char* to_string(FailureKind kind);
/// The inverse of to_string; throws std::invalid_argument on an unknown name.
FailureKind failure_kind_from_string(const std::string& name);

}  // namespace mammosweep::results
