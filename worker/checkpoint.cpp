#include "worker/checkpoint.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/serialize.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "io/files.h"
#include "worker/cache.h"
#include "worker/resnet50.h"

namespace mammosweep::worker {
namespace {

constexpr char kMagic[8] = {'M', 'S', 'C', 'K', 'P', 'T', '0', '1'};         // full
constexpr char kWeightsMagic[8] = {'M', 'S', 'C', 'K', 'P', 'W', '0', '1'};  // weights only

std::optional<CheckpointKind> kind_of_magic(const char* bytes) {
  if (std::memcmp(bytes, kMagic, 8) == 0) return CheckpointKind::full;
  if (std::memcmp(bytes, kWeightsMagic, 8) == 0) return CheckpointKind::weights_only;
  return std::nullopt;
}

std::string shape_text(c10::IntArrayRef sizes) {
  return fmt::format("[{}]", fmt::join(sizes, ", "));
}

/// Copies the archive's tensor `key` into `into`. A tensor of another shape is refused:
/// copy_ would broadcast a smaller one silently or fail with a message naming no tensor.
void restore(torch::serialize::InputArchive& archive, const std::string& key, torch::Tensor into,
             bool is_buffer) {
  torch::Tensor t;
  archive.read(key, t, is_buffer);
  if (!t.defined() || t.sizes() != into.sizes()) {
    throw std::runtime_error(fmt::format("tensor '{}' has shape {}, the model's is {}", key,
                                         t.defined() ? shape_text(t.sizes()) : "(undefined)",
                                         shape_text(into.sizes())));
  }
  into.copy_(t);
}

void read_model_state(torch::serialize::InputArchive& archive, ResNet50Impl& model) {
  torch::NoGradGuard no_grad;
  for (auto& p : model.named_parameters()) restore(archive, "p." + p.key(), p.value(), false);
  for (auto& b : model.named_buffers()) restore(archive, "b." + b.key(), b.value(), true);
}

}  // namespace

std::string checkpoint_dir(const std::string& out_dir, const std::string& trial_id) {
  return out_dir + "/trials/" + trial_id;
}

std::string checkpoint_path(const std::string& dir, int epoch) {
  return fmt::format("{}/epoch-{:04d}.ckpt", dir, epoch);
}

/// The checkpoint's payload (a torch archive). Runs on the training thread: the archive
/// refers to the live parameters and optimizer state.
std::string serialize_checkpoint(ResNet50Impl& model, torch::optim::Optimizer& optimizer,
                                 const CheckpointMeta& meta) {
  torch::serialize::OutputArchive archive;
  for (const auto& p : model.named_parameters()) archive.write("p." + p.key(), p.value().cpu());
  for (const auto& b : model.named_buffers()) archive.write("b." + b.key(), b.value().cpu(), true);
  torch::serialize::OutputArchive opt;
  optimizer.save(opt);
  archive.write("optimizer", opt);
  archive.write("epoch", c10::IValue(static_cast<std::int64_t>(meta.epoch)));
  archive.write("best_epoch", c10::IValue(static_cast<std::int64_t>(meta.best_epoch)));
  archive.write("best_metric", c10::IValue(meta.best_metric));
  archive.write("best_val_loss", c10::IValue(meta.best_val_loss));
  std::ostringstream payload;
  archive.save_to(payload);
  return payload.str();
}

/// Header + checksum + payload, written atomically (temporary file, fsync, rename).
void write_checkpoint(const std::string& path, const std::string& body, CheckpointKind kind) {
  std::string bytes(kind == CheckpointKind::full ? kMagic : kWeightsMagic, sizeof kMagic);
  std::uint64_t size = body.size();
  std::uint64_t sum = fnv1a64(body.data(), body.size());
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
  if (fnv1a64(bytes.data() + 24, size) != sum) return std::nullopt;
  return bytes.substr(24);
}


CheckpointMeta load_checkpoint(const std::string& payload, ResNet50Impl& model,
                               torch::optim::Optimizer& optimizer, const torch::Device& device) {
  std::istringstream in(payload);
  torch::serialize::InputArchive archive;
  archive.load_from(in, device);
  read_model_state(archive, model);
  torch::serialize::InputArchive opt;
  archive.read("optimizer", opt);
  optimizer.load(opt);
  CheckpointMeta meta;
  c10::IValue v;
  archive.read("epoch", v);
  meta.epoch = static_cast<int>(v.toInt());
  archive.read("best_epoch", v);
  meta.best_epoch = static_cast<int>(v.toInt());
  archive.read("best_metric", v);
  meta.best_metric = v.toDouble();
  // Absent in checkpoints written before the tie-break was stored: NaN (any loss wins a tie).
  if (archive.try_read("best_val_loss", v)) meta.best_val_loss = v.toDouble();
  return meta;
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

int load_checkpoint_weights(const std::string& path, ResNet50Impl& model) {
  std::optional<std::string> payload = read_verified(path);
  if (!payload) {
    throw std::runtime_error(path + ": not a valid checkpoint (missing, truncated, or its "
                             "checksum does not match)");
  }
  // The checksum verified, so the file is what a writer wrote; it can still be another
  // model's checkpoint or a crafted file. LibTorch's errors name no file: say which one.
  try {
    std::istringstream in(*payload);
    torch::serialize::InputArchive archive;
    archive.load_from(in, torch::kCPU);
    read_model_state(archive, model);
    c10::IValue v;
    archive.read("epoch", v);
    return static_cast<int>(v.toInt());
  } catch (const c10::Error& e) {
    throw std::runtime_error(path + ": not a checkpoint of this model: " +
                             e.what_without_backtrace());
  } catch (const std::exception& e) {  // ours, or LibTorch's others (torch::jit::ErrorReport)
    const std::string why = e.what();
    throw std::runtime_error(path + ": not a checkpoint of this model: " +
                             (why.empty() ? "LibTorch cannot read its archive" : why));
  }
}

std::optional<CheckpointKind> checkpoint_kind(const std::string& path) {
  char magic[8] = {};
  std::ifstream in(path, std::ios::binary);
  if (!in.read(magic, 8)) return std::nullopt;
  return kind_of_magic(magic);
}

void strip_optimizer_state(const std::string& path) {
  CheckpointKind kind = CheckpointKind::full;
  std::optional<std::string> payload = read_verified(path, &kind);
  if (!payload) {
    throw std::runtime_error(path + ": not a valid checkpoint (missing, truncated, or its "
                             "checksum does not match)");
  }
  if (kind == CheckpointKind::weights_only) return;
  torch::serialize::OutputArchive out;
  try {
    std::istringstream in(*payload);
    torch::serialize::InputArchive archive;
    archive.load_from(in, torch::kCPU);
    for (const std::string& key : archive.keys()) {
      const bool param = key.rfind("p.", 0) == 0, buffer = key.rfind("b.", 0) == 0;
      if (param || buffer) {
        torch::Tensor t;
        archive.read(key, t, buffer);
        out.write(key, t, buffer);
      } else if (key != "optimizer") {
        c10::IValue v;
        archive.read(key, v);
        out.write(key, v);
      }
    }
  } catch (const c10::Error& e) {
    throw std::runtime_error(path + ": cannot read its archive: " + e.what_without_backtrace());
  }
  std::ostringstream body;
  out.save_to(body);
  write_checkpoint(path, body.str(), CheckpointKind::weights_only);
}

void prune_checkpoints(const std::string& dir, int epoch, int best) {
  for (const auto& [e, path] : list_checkpoints(dir)) {
    if (e < epoch - 1 && e != best) ::unlink(path.c_str());
  }
}

void CheckpointWriter::submit(std::function<void()> job) {
  wait();
  thread_ = std::thread([this, job = std::move(job)] {
    try {
      job();
    } catch (...) {
      error_ = std::current_exception();
    }
  });
}

void CheckpointWriter::wait() {
  if (thread_.joinable()) thread_.join();
  if (std::exception_ptr e = std::exchange(error_, nullptr)) std::rethrow_exception(e);
}

CheckpointWriter::~CheckpointWriter() {
  if (thread_.joinable()) thread_.join();  // unwinding: the error, if any, is lost
}

}  // namespace mammosweep::worker
