#pragma once
// Notes this process leaves when it dies, so that the next launch learns who died
// (orchestrator/process_deaths.h). Open MPI 4.1 ends the whole job when one rank dies.
//
// The attempt note is written when armed (the text, no signal line) and removed when
// disarmed, so it outlives the process only when the process did not end its attempt:
//   - a fatal signal (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT) rewrites it with
//     "signal=N" appended, then the process still dies of the signal;
//   - a stop signal (the handler of SIGINT, SIGTERM, SIGUSR1 calls stand_down_notes())
//     removes it: a process asked to stop is never charged, even when SIGKILL follows;
//   - SIGKILL (the kernel's OOM killer, `kill -9`) or a lost node leave it as armed, with no
//     signal line.
// The launch note works the same way for the coordinator (a fatal signal removes it too): it
// is there after a launch only when the coordinator vanished without seeing a signal, that
// is when the whole launch was killed at once (then no attempt note of that launch is
// charged). Handlers only call
// async-signal-safe functions (open, write, fsync, close, unlink, sigaction, raise) on text
// prepared when arming.
#include <string>

namespace mammosweep::io {

/// Installs the handler for SIGSEGV, SIGBUS, SIGFPE, SIGILL and SIGABRT (idempotent). It
/// writes the armed attempt note, then restores the handler that was there before (Open
/// MPI's backtrace printer, or the default) and re-raises, so the process dies of the signal.
void install_crash_note_handler();

/// Writes `text` to `path` now (created or truncated, mode 0644) and from now on a fatal
/// signal rewrites it as `text` followed by "signal=N\n". Both are copied; the folder of
/// `path` must exist. Throws std::length_error when either is longer than 4,000 bytes, and
/// std::runtime_error naming the file when it cannot be written.
void arm_crash_note(const std::string& path, const std::string& text);
/// Removes the armed attempt note; a fatal signal writes nothing.
void disarm_crash_note();

/// The launch note: written now, removed by disarm_launch_note() or a stop signal.
void arm_launch_note(const std::string& path, const std::string& text);
void disarm_launch_note();

/// Async-signal-safe: removes both armed notes and keeps notes armed later from being left
/// behind. Called by the stop-signal handler (orchestrator/sweep_runner.cpp).
void stand_down_notes();

/// Arms on construction, disarms on destruction.
class CrashNote {
 public:
  CrashNote(const std::string& path, const std::string& text) { arm_crash_note(path, text); }
  ~CrashNote() { disarm_crash_note(); }
  CrashNote(const CrashNote&) = delete;
  CrashNote& operator=(const CrashNote&) = delete;
};

}  // namespace mammosweep::io
