#include "orchestrator/placement.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

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

namespace mammosweep::orchestrator {
namespace {

constexpr double kSlack = 1e-9;

std::string device_name(const DeviceKey& d) {
  return fmt::format("{}:cuda:{}", d.first.empty() ? "?" : d.first, d.second);
}

/// "a:cuda:0 0.25, b:cuda:1 1" for the devices in `devices`.
std::string free_list(const std::set<DeviceKey>& devices, const DeviceLoad& load) {
  std::string out;
  for (const DeviceKey& d : devices) {
    auto it = load.find(d);
    const double used = it == load.end() ? 0.0 : it->second;
    out += fmt::format("{}{} {:g}", out.empty() ? "" : ", ", device_name(d),
                       std::max(0.0, 1.0 - used));
  }
  return out;
}

}  // namespace

GpuPlacement place_on_devices(const std::map<int, RankSlot>& idle,
                              const std::map<int, RankSlot>& workers, const DeviceLoad& load,
                              int need, double share) {
  GpuPlacement out;
  std::set<DeviceKey> devices;
  for (const auto& [rank, slot] : workers) {
    if (slot.device >= 0) devices.insert({slot.host, slot.device});
  }
  if (share <= 0 || devices.empty()) {
    std::map<int, std::string> hosts;
    for (const auto& [rank, slot] : idle) hosts[rank] = slot.host;
    out.ranks = place_group(hosts, need);
    if (out.ranks.empty()) out.why = fmt::format("needs {} idle rank(s)", need);
    return out;
  }
  const std::string wants =
      fmt::format("needs {} rank(s) with {:g} GPU each on distinct devices", need, share);
  if (static_cast<int>(devices.size()) < need || share > 1 + kSlack) {
    out.never = true;
    out.why = fmt::format("{}, but the workers see {} GPU(s): {} (NCCL allows one rank of a "
                          "group per device)",
                          wants, devices.size(), free_list(devices, {}));
    return out;
  }
  std::map<DeviceKey, int> offer;  // device with room -> its lowest idle rank
  for (const auto& [rank, slot] : idle) {
    if (slot.device < 0) continue;
    const DeviceKey d{slot.host, slot.device};
    auto it = load.find(d);
    const double used = it == load.end() ? 0.0 : it->second;
    if (used + share <= 1 + kSlack && !offer.count(d)) offer[d] = rank;
  }
  std::map<int, std::string> hosts;
  for (const auto& [d, rank] : offer) hosts[rank] = d.first;
  out.ranks = place_group(hosts, need);
  if (out.ranks.empty()) {
    out.why = fmt::format("{}; free: {}", wants, free_list(devices, load));
  }
  return out;
}

}  // namespace mammosweep::orchestrator
