#include "orchestrator/placement.h"

#include <algorithm>

namespace mammosweep::orchestrator {

std::vector<int> place_group(const std::map<int, std::string>& idle, int need) {
  if (need <= 0 || static_cast<int>(idle.size()) < need) return {};
  std::map<std::string, std::vector<int>> by_host;  // ranks ascending within each host
  for (const auto& [rank, host] : idle) by_host[host].push_back(rank);
  // max_element returns the first of equals: ties go to the host that sorts first.
  auto most = std::max_element(by_host.begin(), by_host.end(), [](const auto& a, const auto& b) {
    return a.second.size() < b.second.size();
  });
  std::vector<int> ranks;
  for (int r : most->second) {
    if (static_cast<int>(ranks.size()) < need) ranks.push_back(r);
  }
  for (const auto& entry : idle) {
    const int r = entry.first;
    if (static_cast<int>(ranks.size()) < need &&
        std::find(ranks.begin(), ranks.end(), r) == ranks.end()) {
      ranks.push_back(r);
    }
  }
  std::sort(ranks.begin(), ranks.end());
  return ranks;
}

}  // namespace mammosweep::orchestrator
