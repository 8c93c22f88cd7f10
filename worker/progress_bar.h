#pragma once
// The in-epoch progress bar: one line on stderr, redrawn in place, only on a terminal.
#include <cstdint>
#include <string>

namespace mammosweep::worker {

class ProgressBar {
 public:
  /// Draws nothing unless `enabled` and stderr is a terminal.
  ProgressBar(bool enabled, std::string label, std::int64_t total);
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;
  /// Clears the line.
  ~ProgressBar();

  void update(std::int64_t done, double images_per_second);

 private:
  bool enabled_;
  std::string label_;
  std::int64_t total_;
};

}  // namespace mammosweep::worker
