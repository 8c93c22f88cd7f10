#include "io/phases.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <utility>

namespace mammosweep::io {
namespace {

struct Registry {
  std::mutex mutex;
  std::vector<PhaseTotal> phases;
};

Registry& registry() {
  static Registry r;
  return r;
}

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

void add_phase_time(const std::string& name, double seconds, bool background) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  auto it = std::find_if(r.phases.begin(), r.phases.end(),
                         [&](const PhaseTotal& p) { return p.name == name; });
  if (it == r.phases.end()) it = r.phases.insert(r.phases.end(), PhaseTotal{name, 0, 0, background});
  it->seconds += seconds;
  it->count += 1;
}

std::vector<PhaseTotal> phase_totals() {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  return r.phases;
}

void reset_phases() {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.phases.clear();
}

PhaseTimer::PhaseTimer(std::string name, bool background)
    : name_(std::move(name)), background_(background), start_ns_(now_ns()) {}

PhaseTimer::~PhaseTimer() {
  add_phase_time(name_, 1e-9 * static_cast<double>(now_ns() - start_ns_), background_);
}

double monotonic_seconds() { return 1e-9 * static_cast<double>(now_ns()); }

std::string render_phases(const std::vector<PhaseTotal>& phases, double wall_seconds,
                          const std::string& title) {
  const double wall = std::max(wall_seconds, 1e-9);
  std::string out = fmt::format("{} (wall {:.2f} s)\n\n| phase | seconds | share | count |\n"
                                "|---|---:|---:|---:|\n",
                                title, wall_seconds);
  auto row = [&](const std::string& name, double s, const std::string& count) {
    out += fmt::format("| {} | {:.2f} | {:.1f} % | {} |\n", name, s, 100.0 * s / wall, count);
  };
  double covered = 0;
  for (const auto& p : phases) {
    if (p.background) continue;
    row(p.name, p.seconds, std::to_string(p.count));
    covered += p.seconds;
  }
  row("other", std::max(0.0, wall_seconds - covered), "");
  for (const auto& p : phases) {
    if (p.background) row(p.name + " (background, overlaps)", p.seconds, std::to_string(p.count));
  }
  return out;
}

}  // namespace mammosweep::io
