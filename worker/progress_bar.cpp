#include "worker/progress_bar.h"

#include <unistd.h>

#include <cstdio>
#include <utility>

namespace mammosweep::worker {

ProgressBar::ProgressBar(bool enabled, std::string label, std::int64_t total)
    : enabled_(enabled && ::isatty(2) && total > 0), label_(std::move(label)), total_(total) {}

ProgressBar::~ProgressBar() {
  if (enabled_) std::fprintf(stderr, "\r\033[K");
}

void ProgressBar::update(std::int64_t done, double images_per_second) {
  if (!enabled_) return;
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(kWidth * done / total_);
  std::fprintf(stderr, "\r%s [%s%s] %lld/%lld %.1f img/s", label_.c_str(),
               std::string(filled, '=').c_str(), std::string(kWidth - filled, ' ').c_str(),
               static_cast<long long>(done), static_cast<long long>(total_), images_per_second);
  std::fflush(stderr);
}

}  // namespace mammosweep::worker
