// Placement of a trial's data-parallel group against hand-built rank tables. Each row's
// expected ranks are worked out by hand from the rule in placement.h: the host with the most
// idle ranks (ties: the host name that sorts first) gives its lowest ranks, the lowest idle
// ranks elsewhere fill the rest, the result is sorted.
#include "orchestrator/placement.h"

#include <map>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace mammosweep::orchestrator {
namespace {

struct Case {
  const char* what;
  std::map<int, std::string> idle;  // world rank -> host
  int need;
  std::vector<int> expected;
};

TEST(Placement, RankTables) {
  const std::vector<Case> cases = {
      {"one rank, one node", {{1, "a"}}, 1, {1}},
      {"one rank: the lowest of the fullest node", {{1, "a"}, {2, "b"}, {3, "b"}}, 1, {2}},
      {"group fits on the node with most idle ranks",
       {{1, "a"}, {2, "b"}, {3, "b"}, {4, "a"}, {5, "b"}}, 2, {2, 3}},
      {"tie between nodes: the name that sorts first", {{1, "b"}, {2, "b"}, {3, "a"}, {4, "a"}},
       2, {3, 4}},
      {"too big for any node: fullest node first, then lowest ranks elsewhere",
       {{1, "a"}, {2, "b"}, {3, "b"}, {4, "c"}}, 3, {1, 2, 3}},
      {"filled from another node, result sorted", {{5, "a"}, {6, "a"}, {2, "b"}}, 3, {2, 5, 6}},
      {"every idle rank", {{1, "a"}, {2, "b"}}, 2, {1, 2}},
      {"fewer idle ranks than needed: nothing", {{1, "a"}, {2, "a"}}, 3, {}},
      {"no idle rank: nothing", {}, 1, {}},
      {"need of zero: nothing", {{1, "a"}}, 0, {}},
      {"unknown host (no Ready yet) counts as a host named ''", {{1, ""}, {2, ""}, {3, "a"}}, 2,
       {1, 2}},
      {"world ranks need not be contiguous", {{3, "x"}, {7, "y"}, {9, "y"}, {12, "y"}}, 2,
       {7, 9}},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(place_group(c.idle, c.need), c.expected) << c.what;
  }
}

TEST(Placement, GroupStaysOnOneNodeWheneverOneNodeHasRoom) {
  // Property over every table of up to 6 ranks on 2 hosts: if some host has `need` idle
  // ranks, all chosen ranks share a host.
  for (int mask = 0; mask < (1 << 6); ++mask) {
    std::map<int, std::string> idle;
    for (int r = 0; r < 6; ++r) idle[r + 1] = (mask >> r) & 1 ? "b" : "a";
    for (int need = 1; need <= 6; ++need) {
      std::map<std::string, int> per_host;
      for (const auto& e : idle) ++per_host[e.second];
      bool fits = false;
      for (const auto& e : per_host) fits = fits || e.second >= need;
      const std::vector<int> ranks = place_group(idle, need);
      ASSERT_EQ(static_cast<int>(ranks.size()), need);
      if (!fits) continue;
      for (int r : ranks) EXPECT_EQ(idle[r], idle[ranks[0]]) << "mask " << mask << " need " << need;
    }
  }
}

}  // namespace
}  // namespace mammosweep::orchestrator
