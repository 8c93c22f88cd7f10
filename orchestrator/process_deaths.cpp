#include "orchestrator/process_deaths.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <sstream>

#include "io/crash_note.h"
#include "io/files.h"

namespace mammosweep::orchestrator {
namespace {

constexpr const char* kSuffix = ".txt";
constexpr const char* kLaunch = "launch.txt";

std::string launch_path(const std::string& out_dir) {
  return deaths_dir(out_dir) + "/" + kLaunch;
}

// The paths of the attempt notes in DIR/deaths, by name.
std::vector<std::string> attempt_note_files(const std::string& out_dir) {
  std::vector<std::string> files;
  const std::string dir = deaths_dir(out_dir);
  if (!io::is_directory(dir)) return files;
  std::vector<std::string> names = io::list_dir(dir);
  std::sort(names.begin(), names.end());
  for (const auto& name : names) {
    if (name == kLaunch || name.size() <= std::strlen(kSuffix) ||
        name.compare(name.size() - std::strlen(kSuffix), std::string::npos, kSuffix) != 0) {
      continue;
    }
    files.push_back(dir + "/" + name);
  }
  return files;
}

std::map<std::string, std::string> note_fields(const std::string& path) {
  std::map<std::string, std::string> kv;
  std::istringstream in(io::read_file(path));
  for (std::string line; std::getline(in, line);) {
    auto eq = line.find('=');
    if (eq != std::string::npos) kv[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return kv;
}

struct timespec mtime_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {0, 0};
  return st.st_mtim;
}

bool not_older(const struct timespec& a, const struct timespec& b) {
  return a.tv_sec > b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec >= b.tv_nsec);
}

std::string hostname() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "?";
  return buf;
}

bool parse_int(const std::string& text, int& out) {
  if (text.empty() || text.size() > 9) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  out = std::stoi(text);
  return true;
}

}  // namespace

std::string deaths_dir(const std::string& out_dir) { return out_dir + "/deaths"; }

AttemptDeathNote::AttemptDeathNote(const std::string& out_dir, const std::string& trial_id,
                                   int attempt, int rank) {
  const std::string dir = deaths_dir(out_dir);
  io::make_dirs(dir);
  io::arm_crash_note(
      fmt::format("{}/{}.attempt-{}.rank-{}{}", dir, trial_id, attempt, rank, kSuffix),
      fmt::format("trial={}\nattempt={}\nrank={}\nhost={}\npid={}\n", trial_id, attempt, rank,
                  hostname(), ::getpid()));
}

AttemptDeathNote::~AttemptDeathNote() { io::disarm_crash_note(); }

LaunchDeathNote::LaunchDeathNote(const std::string& out_dir) {
  io::make_dirs(deaths_dir(out_dir));
  io::arm_launch_note(launch_path(out_dir),
                      fmt::format("launch\nhost={}\npid={}\n", hostname(), ::getpid()));
}

LaunchDeathNote::~LaunchDeathNote() { io::disarm_launch_note(); }

std::string settle_previous_launch(const std::string& out_dir) {
  const std::string launch = launch_path(out_dir);
  if (!io::file_exists(launch)) return "";
  const struct timespec since = mtime_of(launch);
  int excused = 0;
  for (const auto& path : attempt_note_files(out_dir)) {
    if (note_fields(path).count("signal") || !not_older(mtime_of(path), since)) continue;
    if (::unlink(path.c_str()) == 0) ++excused;
  }
  ::unlink(launch.c_str());
  return fmt::format(
      "the previous launch ended with no process seeing a signal (every process killed at "
      "once: kill -9, a machine or node failure): {} running attempt(s) not charged as deaths",
      excused);
}

DeathNotes read_death_notes(const std::string& out_dir) {
  DeathNotes notes;
  for (const auto& path : attempt_note_files(out_dir)) {
    ProcessDeath d;
    d.file = path;
    std::map<std::string, std::string> kv = note_fields(path);
    d.trial_id = kv["trial"];
    d.host = kv["host"];
    std::string bad;
    if (d.trial_id.empty()) bad = "no trial= line";
    else if (!parse_int(kv["attempt"], d.attempt) || d.attempt < 1) bad = "no valid attempt= line";
    else if (!parse_int(kv["rank"], d.rank)) bad = "no valid rank= line";
    else if (kv.count("signal") && (!parse_int(kv["signal"], d.signal) || d.signal < 1)) {
      bad = "a signal= line that is not a signal number";
    }
    if (!bad.empty()) {
      notes.problems.push_back(fmt::format("{}: {}; skipped", path, bad));
      continue;
    }
    notes.by_trial[d.trial_id].push_back(d);
  }
  for (auto& [id, v] : notes.by_trial) {
    // In attempt order; within an attempt, a note with a signal last (it is the one told).
    std::stable_sort(v.begin(), v.end(), [](const ProcessDeath& a, const ProcessDeath& b) {
      return a.attempt != b.attempt ? a.attempt < b.attempt : (a.signal != 0) < (b.signal != 0);
    });
  }
  return notes;
}

std::string describe(const ProcessDeath& d) {
  if (d.signal == 0) {
    return fmt::format("rank {}{} ended without seeing a signal (SIGKILL: the kernel's OOM "
                       "killer or kill -9; or its node was lost) in attempt {}",
                       d.rank, d.host.empty() ? "" : " on " + d.host, d.attempt);
  }
  const char* name = ::strsignal(d.signal);
  return fmt::format("rank {}{} died of signal {} ({}) in attempt {}", d.rank,
                     d.host.empty() ? "" : " on " + d.host, d.signal, name ? name : "?",
                     d.attempt);
}

int deaths_of(const std::vector<ProcessDeath>& notes) {
  std::set<int> attempts;
  for (const auto& d : notes) attempts.insert(d.attempt);
  return static_cast<int>(attempts.size());
}

}  // namespace mammosweep::orchestrator
