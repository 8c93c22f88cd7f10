#pragma once
// A note this process leaves when it dies of a fatal signal. A segfault, an abort or a bus
// error ends a rank before it can tell anyone which trial it was running, and Open MPI 4.1
// then ends the whole job; the note is how the next launch learns who died
// (orchestrator/process_deaths.h). The signal handler only calls async-signal-safe functions
// (open, write, fsync, close, sigaction, raise) on text prepared by arm().
//
// Catchable fatal signals only: SIGKILL (the kernel's OOM killer, `kill -9`) and a lost node
// leave no note.
#include <string>

namespace mammosweep::io {

/// Installs the handler for SIGSEGV, SIGBUS, SIGFPE, SIGILL and SIGABRT (idempotent). It
/// writes the armed note, then restores the handler that was there before (Open MPI's
/// backtrace printer, or the default) and re-raises, so the process still dies of the signal.
void install_crash_note_handler();

/// From now on a fatal signal writes `text` followed by "signal=N\n" to `path` (created or
/// truncated, mode 0644). Both are copied; the folder of `path` must exist.
/// Throws std::length_error when either is longer than 4,000 bytes.
void arm_crash_note(const std::string& path, const std::string& text);

/// A fatal signal writes nothing.
void disarm_crash_note();

/// Arms on construction, disarms on destruction.
class CrashNote {
 public:
  CrashNote(const std::string& path, const std::string& text) { arm_crash_note(path, text); }
  ~CrashNote() { disarm_crash_note(); }
  CrashNote(const CrashNote&) = delete;
  CrashNote& operator=(const CrashNote&) = delete;
};

}  // namespace mammosweep::io
