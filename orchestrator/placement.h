#pragma once
// Where a trial's data-parallel group runs: a pure function of the idle ranks and their
// hosts, tested against hand-built rank tables (tests/orchestrator/placement_test.cpp).
#include <map>
#include <string>
#include <vector>

namespace mammosweep::orchestrator {

/// Picks `need` ranks among `idle` (world rank -> hostname) for one trial. The rule: the
/// host with the most idle ranks (ties: the host name that sorts first) gives its lowest
/// ranks; if it has fewer than `need`, the lowest idle ranks elsewhere fill the group. So a
/// group stays on one node whenever one node has enough idle ranks.
/// Returns the ranks in ascending order (the first leads the group), or nothing when fewer
/// than `need` ranks are idle.
std::vector<int> place_group(const std::map<int, std::string>& idle, int need);

}  // namespace mammosweep::orchestrator
