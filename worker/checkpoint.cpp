#include "worker/checkpoint.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/serialize.h>

#include <algorithm>
#include <cstring>
#include <sstream>

#include "io/files.h"
#include "worker/resnet50.h"

namespace mammosweep::worker {
namespace {

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
