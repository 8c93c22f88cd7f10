#include "orchestrator/process_deaths.h"

#include <fmt/format.h>
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

DeathNotes read_death_notes(const std::string& out_dir) {
  DeathNotes notes;
  const std::string dir = deaths_dir(out_dir);
  if (!io::is_directory(dir)) return notes;
  std::vector<std::string> names = io::list_dir(dir);
  std::sort(names.begin(), names.end());
  for (const auto& name : names) {
    if (name.size() <= std::strlen(kSuffix) ||
        name.compare(name.size() - std::strlen(kSuffix), std::string::npos, kSuffix) != 0) {
      continue;
    }
    const std::string path = dir + "/" + name;
    ProcessDeath d;
    d.file = path;
    std::map<std::string, std::string> kv;
    std::istringstream in(io::read_file(path));
    for (std::string line; std::getline(in, line);) {
      auto eq = line.find('=');
      if (eq != std::string::npos) kv[line.substr(0, eq)] = line.substr(eq + 1);
    }
    d.trial_id = kv["trial"];
    d.host = kv["host"];
    std::string bad;
    if (d.trial_id.empty()) bad = "no trial= line";
    else if (!parse_int(kv["attempt"], d.attempt) || d.attempt < 1) bad = "no valid attempt= line";
    else if (!parse_int(kv["rank"], d.rank)) bad = "no valid rank= line";
    else if (!parse_int(kv["signal"], d.signal) || d.signal < 1) {
      bad = "no valid signal= line (the process died while writing it?)";
    }
    if (!bad.empty()) {
      notes.problems.push_back(fmt::format("{}: {}; skipped", path, bad));
      continue;
    }
    notes.by_trial[d.trial_id].push_back(d);
  }
  for (auto& [id, v] : notes.by_trial) {
    std::stable_sort(v.begin(), v.end(), [](const ProcessDeath& a, const ProcessDeath& b) {
      return a.attempt < b.attempt;
    });
  }
  return notes;
}

std::string describe(const ProcessDeath& d) {
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
