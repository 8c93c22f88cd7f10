#pragma once
// Where a process's wall time goes: seconds per named phase, for `run --profile`
// (docs/performance.md, "Where a sweep's time goes").
//
// Phases timed on the process's main thread do not overlap, so their sum is at most the wall
// time and the rest is reported as "other". A phase run by a helper thread beside the main
// thread (a checkpoint's background write) is marked `background`: it overlaps the others and
// is listed apart. Adding to a phase is thread-safe and costs a mutex; time a phase per epoch
// or per trial, never per step.
#include <cstdint>
#include <string>
#include <vector>

namespace mammosweep::io {

struct PhaseTotal {
  std::string name;
  double seconds = 0;
  std::int64_t count = 0;  // how many times it ran
  bool background = false;
};

/// Adds `seconds` to this process's phase `name` (created on first use; phases keep that order).
void add_phase_time(const std::string& name, double seconds, bool background = false);
/// Every phase of this process so far, in first-use order.
std::vector<PhaseTotal> phase_totals();
/// Forgets every phase (tests).
void reset_phases();

/// Times its own lifetime into a phase.
class PhaseTimer {
 public:
  explicit PhaseTimer(std::string name, bool background = false);
  ~PhaseTimer();
  PhaseTimer(const PhaseTimer&) = delete;
  PhaseTimer& operator=(const PhaseTimer&) = delete;

 private:
  std::string name_;
  bool background_;
  std::int64_t start_ns_;
};

/// Monotonic seconds since an arbitrary origin (steady clock): wall time of a whole run.
double monotonic_seconds();

/// A Markdown table of `phases` against `wall_seconds`: seconds, share of the wall time and
/// count per phase, then "other" (the wall time no foreground phase covers), then background
/// phases, whose shares overlap the rest. Headed by `title`.
std::string render_phases(const std::vector<PhaseTotal>& phases, double wall_seconds,
                          const std::string& title);

}  // namespace mammosweep::io
