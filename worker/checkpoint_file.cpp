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

// "MSCKP" + T (full) or W (weights only) + the format version, "01" or "02".
struct Magic {
  CheckpointKind kind;
  int version;
};

std::optional<Magic> parse_magic(const char* bytes) {
  if (std::memcmp(bytes, "MSCKP", 5) != 0 || bytes[6] != '0') return std::nullopt;
  if (bytes[5] != 'T' && bytes[5] != 'W') return std::nullopt;
  if (bytes[7] != '1' && bytes[7] != '2') return std::nullopt;
  return Magic{bytes[5] == 'T' ? CheckpointKind::full : CheckpointKind::weights_only, bytes[7] - '0'};
}

std::uint64_t checksum(int version, const char* data, std::size_t n) {
  return version == 1 ? io::fnv1a64(data, n) : io::xxh3_64(data, n);
}

}  // namespace

std::string checkpoint_dir(const std::string& out_dir, const std::string& trial_id) {
  return out_dir + "/trials/" + trial_id;
}

std::string checkpoint_path(const std::string& dir, int epoch) {
  return fmt::format("{}/epoch-{:04d}.ckpt", dir, epoch);
}

/// Header + checksum + payload, written atomically (temporary file, fsync, rename).
void write_checkpoint(const std::string& path, io::AlignedBytes& image, CheckpointKind kind) {
  static_assert(kCheckpointHeaderBytes == 24, "magic, size and checksum: 8 bytes each");
  if (image.size() < kCheckpointHeaderBytes) {
    throw std::logic_error(path + ": a checkpoint image without room for its header");
  }
  char* header = image.data();
  const char* body = header + kCheckpointHeaderBytes;
  const std::uint64_t size = image.size() - kCheckpointHeaderBytes, sum = checksum(2, body, size);
  std::memcpy(header, kind == CheckpointKind::full ? "MSCKPT02" : "MSCKPW02", 8);
  std::memcpy(header + 8, &size, 8);
  std::memcpy(header + 16, &sum, 8);
  io::AtomicFile file(path);
  file.write(image.data(), image.size());
  file.commit();
}

std::optional<CheckpointFile> read_verified(const std::string& path) {
  std::string bytes;
  try {
    bytes = io::read_file(path);
  } catch (const std::runtime_error&) {
    return std::nullopt;
  }
  if (bytes.size() < 24) return std::nullopt;
  const std::optional<Magic> magic = parse_magic(bytes.data());
  if (!magic) return std::nullopt;
  std::uint64_t size = 0, sum = 0;
  std::memcpy(&size, bytes.data() + 8, 8);
  std::memcpy(&sum, bytes.data() + 16, 8);
  if (bytes.size() != 24 + size) return std::nullopt;
  if (checksum(magic->version, bytes.data() + 24, size) != sum) return std::nullopt;
  bytes.erase(0, 24);  // in place: no second copy of a file of hundreds of MB
  return CheckpointFile{magic->kind, magic->version, std::move(bytes)};
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
  const std::optional<Magic> m = parse_magic(magic);
  if (!m) return std::nullopt;
  return m->kind;
}

void prune_checkpoints(const std::string& dir, int epoch, int best) {
  for (const auto& [e, path] : list_checkpoints(dir)) {
    if (e < epoch - 1 && e != best) ::unlink(path.c_str());
  }
}

}  // namespace mammosweep::worker
