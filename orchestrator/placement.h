#pragma once
// Where a trial's data-parallel group runs: pure functions of the idle ranks, their hosts
// and devices, tested against hand-built rank and device tables
// (tests/orchestrator/placement_test.cpp).
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace mammosweep::orchestrator {

/// Picks `need` ranks among `idle` (world rank -> hostname) for one trial. The rule: the
/// host with the most idle ranks (ties: the host name that sorts first) gives its lowest
/// ranks; if it has fewer than `need`, the lowest idle ranks elsewhere fill the group. So a
/// group stays on one node whenever one node has enough idle ranks.
/// Returns the ranks in ascending order (the first leads the group), or nothing when fewer
/// than `need` ranks are idle.
std::vector<int> place_group(const std::map<int, std::string>& idle, int need);

/// A worker rank as its Ready message describes it.
struct RankSlot {
  std::string host;
  int device = -1;  ///< CUDA device index on `host`, -1: the rank has no GPU
};
/// A device: (host, CUDA index).
using DeviceKey = std::pair<std::string, int>;
/// Share of each device that running trials hold (absent: 0).
using DeviceLoad = std::map<DeviceKey, double>;

struct GpuPlacement {
  std::vector<int> ranks;  ///< ascending, [0] leads; empty: not placed (see `why`)
  /// When `ranks` is empty: why, naming the free share of each device, e.g. "needs 1 rank
  /// with 0.5 GPU; free: a:cuda:0 0.25".
  std::string why;
  /// The trial can never be placed on these workers, even with every device free (e.g. a
  /// group of 2 ranks and 1 GPU): the coordinator stops with `why` instead of waiting.
  bool never = false;
};

/// GPU-aware placement of a trial of `need` ranks that each hold `share` of one device
/// (resources.gpus: 1, or 1/n when n trials share a device).
///   - share == 0, or no worker has a device (a CPU-only run): place_group by host.
///   - else a rank can join when its device has at least `share` free under `load`
///     (1e-9 slack, so four 0.25 shares fill a device exactly); a group's ranks sit on
///     distinct devices, since NCCL refuses two ranks of one communicator on one device.
///     Among the devices that qualify, each offers its lowest idle rank, and place_group
///     picks among those (so a group stays on one node when one node has room).
/// `workers` lists every worker rank (idle or busy) for the `never` check.
GpuPlacement place_on_devices(const std::map<int, RankSlot>& idle,
                              const std::map<int, RankSlot>& workers, const DeviceLoad& load,
                              int need, double share);

}  // namespace mammosweep::orchestrator
