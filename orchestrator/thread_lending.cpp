#include "orchestrator/thread_lending.h"

#include <vector>

namespace mammosweep::orchestrator {

std::map<int, int> lend_idle_threads(const std::map<int, LendingRank>& ranks) {
  std::map<std::string, int> spare;                  // host -> threads lent
  std::map<std::string, std::vector<int>> borrowers;  // host -> ranks, ascending
  for (const auto& [r, rank] : ranks) {
    if (rank.can_borrow) {
      borrowers[rank.host].push_back(r);
    } else if (rank.lends) {
      spare[rank.host] += rank.threads;
    }
  }
  std::map<int, int> out;
  for (const auto& [host, ranks_here] : borrowers) {
    const int n = static_cast<int>(ranks_here.size());
    const int pool = spare.count(host) ? spare.at(host) : 0;
    for (int i = 0; i < n; ++i) {
      out[ranks_here[i]] = ranks.at(ranks_here[i]).threads + pool / n + (i < pool % n ? 1 : 0);
    }
  }
  return out;
}

}  // namespace mammosweep::orchestrator
