#include "worker/checkpoint_file.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "io/files.h"
#include "io/hash.h"

namespace mammosweep::worker {
namespace {

constexpr char kMagic[8] = {'M', 'S', 'C', 'K', 'P', 'T', '0', '1'};         // full
constexpr char kWeightsMagic[8] = {'M', 'S', 'C', 'K', 'P', 'W', '0', '1'};  // weights only

std::optional<CheckpointKind> kind_of_magic(const char* bytes) {
  if (std::memcmp(bytes, kMagic, 8) == 0) return CheckpointKind::full;
  if (std::memcmp(bytes, kWeightsMagic, 8) == 0) return CheckpointKind::weights_only;
  return std::nullopt;
}

}  // namespace

std::string checkpoint_dir(const std::string& out_dir, const std::string& trial_id) {
  return out_dir + "/trials/" + trial_id;
}

std::string checkpoint_path(const std::string& dir, int epoch) {
  return fmt::format("{}/epoch-{:04d}.ckpt", dir, epoch);
}

/// Header + checksum + payload, written atomically (temporary file, fsync, rename).
void write_checkpoint(const std::string& path, const std::string& body, CheckpointKind kind) {
  std::string bytes(kind == CheckpointKind::full ? kMagic : kWeightsMagic, sizeof kMagic);
  std::uint64_t size = body.size();
  std::uint64_t sum = io::fnv1a64(body.data(), body.size());
  bytes.append(reinterpret_cast<const char*>(&size), 8);
  bytes.append(reinterpret_cast<const char*>(&sum), 8);
  bytes += body;
  io::write_file_atomic(path, bytes);
}

/// The payload of a checkpoint whose header and checksum verify, or an empty optional.
std::optional<std::string> read_verified(const std::string& path, CheckpointKind* kind) {
  std::string bytes;
  try {
    bytes = io::read_file(path);
  } catch (const std::runtime_error&) {
    return std::nullopt;
  }
  if (bytes.size() < 24) return std::nullopt;
  const std::optional<CheckpointKind> k = kind_of_magic(bytes.data());
  if (!k) return std::nullopt;
  if (kind) *kind = *k;
  std::uint64_t size = 0, sum = 0;
  std::memcpy(&size, bytes.data() + 8, 8);
  std::memcpy(&sum, bytes.data() + 16, 8);
  if (bytes.size() != 24 + size) return std::nullopt;
  if (io::fnv1a64(bytes.data() + 24, size) != sum) return std::nullopt;
  return bytes.substr(24);
}

std::vector<std::pair<int, std::string>> list_checkpoints(const std::string& dir) {
  std::vector<std::pair<int, std::string>> out;
  for (const std::string& name : io::list_dir(dir)) {
    int epoch = 0;
    char tail[8] = {};
    if (std::sscanf(name.c_str(), "epoch-%d.%5s", &epoch, tail) == 2 &&
        std::string(tail) == "ckpt" && name.size() == 15) {
      out.emplace_back(epoch, dir + "/" + name);
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  return out;
}

std::optional<CheckpointKind> checkpoint_kind(const std::string& path) {
  char magic[8] = {};
  std::ifstream in(path, std::ios::binary);
  if (!in.read(magic, 8)) return std::nullopt;
  return kind_of_magic(magic);
}

void prune_checkpoints(const std::string& dir, int epoch, int best) {
  for (const auto& [e, path] : list_checkpoints(dir)) {
    if (e < epoch - 1 && e != best) ::unlink(path.c_str());
  }
}

}  // namespace mammosweep::worker
