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

// --- fractional GPUs: place_on_devices ------------------------------------------------

/// `n` worker ranks 1..n on host "a", rank r on device (r-1) % gpus (as a worker picks
/// local_rank % device_count; gpus = 0: CPU ranks, device -1).
std::map<int, RankSlot> node_a(int n, int gpus) {
  std::map<int, RankSlot> t;
  for (int r = 1; r <= n; ++r) t[r] = RankSlot{"a", gpus > 0 ? (r - 1) % gpus : -1};
  return t;
}

TEST(GpuPlacement, DeviceTables) {
  const auto one_gpu = node_a(4, 1);
  // A quarter of a free device: the lowest idle rank.
  EXPECT_EQ(place_on_devices(one_gpu, one_gpu, {}, 1, 0.25).ranks, std::vector<int>{1});
  // Three quarters held: one more quarter fits, on the lowest idle rank.
  const std::map<int, RankSlot> idle34 = {{3, one_gpu.at(3)}, {4, one_gpu.at(4)}};
  EXPECT_EQ(place_on_devices(idle34, one_gpu, {{{"a", 0}, 0.75}}, 1, 0.25).ranks,
            std::vector<int>{3});
  // The example: half a GPU wanted, a quarter free: not now, and why.
  GpuPlacement p = place_on_devices(idle34, one_gpu, {{{"a", 0}, 0.75}}, 1, 0.5);
  EXPECT_TRUE(p.ranks.empty());
  EXPECT_FALSE(p.never);
  EXPECT_EQ(p.why, "needs 1 rank(s) with 0.5 GPU each on distinct devices; free: a:cuda:0 0.25");
  // A full device: nothing, though ranks are idle.
  p = place_on_devices(idle34, one_gpu, {{{"a", 0}, 1.0}}, 1, 0.25);
  EXPECT_TRUE(p.ranks.empty());
  EXPECT_THAT(p.why, ::testing::HasSubstr("free: a:cuda:0 0"));
  // Whole GPUs: one trial per device.
  EXPECT_TRUE(place_on_devices(idle34, one_gpu, {{{"a", 0}, 1.0}}, 1, 1.0).ranks.empty());
  // Two GPUs on "a" (ranks 1,3 -> cuda:0; 2,4 -> cuda:1): a group of 2 takes one rank per
  // device, the lowest on each.
  const auto two_gpus = node_a(4, 2);
  EXPECT_EQ(place_on_devices(two_gpus, two_gpus, {}, 2, 0.5).ranks, (std::vector<int>{1, 2}));
  // cuda:0 full: a single-rank trial goes to cuda:1's lowest idle rank.
  EXPECT_EQ(place_on_devices(two_gpus, two_gpus, {{{"a", 0}, 1.0}}, 1, 0.5).ranks,
            std::vector<int>{2});
  // ... and a group of 2 waits.
  EXPECT_TRUE(place_on_devices(two_gpus, two_gpus, {{{"a", 0}, 1.0}}, 2, 0.5).ranks.empty());
  // A device counts per host: b's cuda:0 is free though a's is full.
  std::map<int, RankSlot> two_hosts = {{1, {"a", 0}}, {2, {"b", 0}}};
  EXPECT_EQ(place_on_devices(two_hosts, two_hosts, {{{"a", 0}, 1.0}}, 1, 1.0).ranks,
            std::vector<int>{2});
  // A group of 2 across hosts when each host has one GPU.
  EXPECT_EQ(place_on_devices(two_hosts, two_hosts, {}, 2, 1.0).ranks, (std::vector<int>{1, 2}));
}

TEST(GpuPlacement, RefusesWhatCanNeverFit) {
  const auto one_gpu = node_a(8, 1);
  GpuPlacement p = place_on_devices(one_gpu, one_gpu, {}, 2, 0.25);
  EXPECT_TRUE(p.never);
  EXPECT_TRUE(p.ranks.empty());
  EXPECT_EQ(p.why,
            "needs 2 rank(s) with 0.25 GPU each on distinct devices, but the workers see 1 "
            "GPU(s): a:cuda:0 1 (NCCL allows one rank of a group per device)");
  // Busy devices count: the check uses every worker, not only the idle ones.
  const auto two_gpus = node_a(4, 2);
  const std::map<int, RankSlot> idle_on_0 = {{1, two_gpus.at(1)}, {3, two_gpus.at(3)}};
  p = place_on_devices(idle_on_0, two_gpus, {{{"a", 1}, 1.0}}, 2, 0.5);
  EXPECT_FALSE(p.never);
  EXPECT_TRUE(p.ranks.empty());
}

TEST(GpuPlacement, CpuRunsPlaceByHost) {
  // share 0, or workers without devices (gpus > 0 on a machine without CUDA trains on CPU):
  // the host rule of place_group.
  const std::map<int, RankSlot> cpu = {{1, {"a", -1}}, {2, {"b", -1}}, {3, {"b", -1}}};
  const std::map<int, std::string> hosts = {{1, "a"}, {2, "b"}, {3, "b"}};
  for (int need = 1; need <= 3; ++need) {
    EXPECT_EQ(place_on_devices(cpu, cpu, {}, need, 0.25).ranks, place_group(hosts, need));
    EXPECT_EQ(place_on_devices(cpu, cpu, {}, need, 0.0).ranks, place_group(hosts, need));
  }
  const auto gpu = node_a(3, 1);
  EXPECT_EQ(place_on_devices(gpu, gpu, {{{"a", 0}, 1.0}}, 3, 0.0).ranks,
            (std::vector<int>{1, 2, 3}));
}

// Property: placing single-rank trials of share 1/n one after another on R ranks over G
// devices (the coordinator's loop, with loads kept here) runs min(R, n*G) trials at once,
// and no device ever holds more than 1.
TEST(GpuPlacement, SharesFillDevicesExactly) {
  for (int gpus = 1; gpus <= 3; ++gpus) {
    for (int parts : {1, 2, 3, 4, 8}) {
      for (int ranks = 1; ranks <= 9; ++ranks) {
        const auto workers = node_a(ranks, gpus);
        auto idle = workers;
        DeviceLoad load;
        std::map<DeviceKey, int> trials_on;
        int running = 0;
        while (true) {
          const GpuPlacement p = place_on_devices(idle, workers, load, 1, 1.0 / parts);
          ASSERT_FALSE(p.never);
          if (p.ranks.empty()) break;
          ASSERT_EQ(p.ranks.size(), 1u);
          const RankSlot slot = idle.at(p.ranks[0]);
          idle.erase(p.ranks[0]);
          load[{slot.host, slot.device}] += 1.0 / parts;
          ++trials_on[{slot.host, slot.device}];
          ++running;
        }
        // Each device takes at most `parts` trials, and only the ranks mapped to it.
        int expected = 0;
        for (int g = 0; g < gpus; ++g) {
          const int ranks_on_g = ranks / gpus + (g < ranks % gpus ? 1 : 0);
          expected += std::min(ranks_on_g, parts);
        }
        EXPECT_EQ(running, expected) << gpus << " GPUs, 1/" << parts << ", " << ranks << " ranks";
        for (const auto& [d, n] : trials_on) EXPECT_LE(n, parts);
      }
    }
  }
}

}  // namespace
}  // namespace mammosweep::orchestrator
