#include "worker/checkpoint.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/serialize.h>

#include <cmath>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>

#include "worker/optimizer_state.h"
#include "worker/resnet50.h"
#include "worker/safetensors.h"

namespace mammosweep::worker {
namespace {

constexpr const char* kFormat = "mammosweep checkpoint 2";

std::string shape_text(c10::IntArrayRef sizes) {
  return fmt::format("[{}]", fmt::join(sizes, ", "));
}

/// Copies `t` into `into`. A tensor of another shape is refused: copy_ would broadcast a
/// smaller one silently or fail with a message naming no tensor.
void restore(const std::string& key, const torch::Tensor& t, torch::Tensor into) {
  if (!t.defined() || t.sizes() != into.sizes()) {
    throw std::runtime_error(fmt::format("tensor '{}' has shape {}, the model's is {}", key,
                                         t.defined() ? shape_text(t.sizes()) : "(undefined)",
                                         shape_text(into.sizes())));
  }
  into.copy_(t);
}

// ---- version 2: safetensors ----

std::string number_text(double v) { return std::isnan(v) ? "nan" : fmt::format("{:.17g}", v); }

double metadata_number(const SafetensorsMetadata& m, const char* key) {
  auto it = m.find(key);
  if (it == m.end()) throw std::runtime_error(fmt::format("metadata '{}' is missing", key));
  if (it->second == "nan") return results::kNaN;
  char* end = nullptr;
  const double v = std::strtod(it->second.c_str(), &end);
  if (it->second.empty() || *end != '\0') {
    throw std::runtime_error(fmt::format("metadata '{}' is not a number: '{}'", key, it->second));
  }
  return v;
}

int metadata_int(const SafetensorsMetadata& m, const char* key) {
  const double v = metadata_number(m, key);
  if (!(v >= 0 && v <= 1e9) || v != std::floor(v)) {
    throw std::runtime_error(fmt::format("metadata '{}' is not an epoch: '{}'", key, m.at(key)));
  }
  return static_cast<int>(v);
}

ParameterNames parameter_names(ResNet50Impl& model) {
  ParameterNames names;
  for (const auto& p : model.named_parameters()) names[p.value().unsafeGetTensorImpl()] = p.key();
  return names;
}

// A version-2 payload: its tensors by name (views into the payload) and its metadata.
struct Payload {
  std::map<std::string, torch::Tensor> tensors;
  CheckpointMeta meta;
};

Payload decode_payload(const std::string& payload) {
  SafetensorsMetadata metadata;
  Payload out;
  for (auto& [name, t] : decode_safetensors(payload, "payload", &metadata)) {
    out.tensors.emplace(name, std::move(t));
  }
  auto format = metadata.find("format");
  if (format == metadata.end() || format->second != kFormat) {
    throw std::runtime_error(fmt::format("metadata 'format' is not '{}'", kFormat));
  }
  out.meta.epoch = metadata_int(metadata, "epoch");
  out.meta.best_epoch = metadata_int(metadata, "best_epoch");
  out.meta.best_metric = metadata_number(metadata, "best_metric");
  out.meta.best_val_loss = metadata_number(metadata, "best_val_loss");
  return out;
}

/// Copies the p.* and b.* tensors into the model; every parameter and buffer must be there,
/// and nothing else may be (o.* aside).
void read_model_state(const std::map<std::string, torch::Tensor>& tensors, ResNet50Impl& model) {
  torch::NoGradGuard no_grad;
  std::set<std::string> used;
  auto take = [&](const std::string& key, torch::Tensor into) {
    auto it = tensors.find(key);
    if (it == tensors.end()) throw std::runtime_error(fmt::format("tensor '{}' is missing", key));
    restore(key, it->second, into);
    used.insert(key);
  };
  for (auto& p : model.named_parameters()) take("p." + p.key(), p.value());
  for (auto& b : model.named_buffers()) take("b." + b.key(), b.value());
  for (const auto& [key, t] : tensors) {
    if (key.rfind("o.", 0) != 0 && used.count(key) == 0) {
      throw std::runtime_error(fmt::format("tensor '{}' is not one of this model's", key));
    }
  }
}

std::map<std::string, torch::Tensor> optimizer_part(const std::map<std::string, torch::Tensor>& tensors) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& [key, t] : tensors) {
    if (key.rfind("o.", 0) == 0) out.emplace(key.substr(2), t);
  }
  return out;
}

SafetensorsMetadata metadata_of(const CheckpointMeta& meta) {
  return {{"format", kFormat},
          {"epoch", std::to_string(meta.epoch)},
          {"best_epoch", std::to_string(meta.best_epoch)},
          {"best_metric", number_text(meta.best_metric)},
          {"best_val_loss", number_text(meta.best_val_loss)}};
}

// ---- version 1: torch archive (read only) ----

void read_model_state_v1(torch::serialize::InputArchive& archive, ResNet50Impl& model) {
  torch::NoGradGuard no_grad;
  auto take = [&](const std::string& key, torch::Tensor into, bool is_buffer) {
    torch::Tensor t;
    archive.read(key, t, is_buffer);
    restore(key, t, into);
  };
  for (auto& p : model.named_parameters()) take("p." + p.key(), p.value(), false);
  for (auto& b : model.named_buffers()) take("b." + b.key(), b.value(), true);
}

CheckpointMeta read_meta_v1(torch::serialize::InputArchive& archive) {
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

void open_v1(const std::string& payload, torch::serialize::InputArchive& archive,
             const torch::Device& device) {
  std::istringstream in(payload);
  archive.load_from(in, device);
}

/// Runs `read` and names `path` in what it throws: LibTorch's errors name no file.
template <class F>
auto naming(const std::string& path, const char* what, F&& read) {
  try {
    return read();
  } catch (const c10::Error& e) {
    throw std::runtime_error(fmt::format("{}: {}: {}", path, what, e.what_without_backtrace()));
  } catch (const std::exception& e) {  // ours, or LibTorch's others (torch::jit::ErrorReport)
    const std::string why = e.what();
    throw std::runtime_error(fmt::format("{}: {}: {}", path, what,
                                         why.empty() ? "LibTorch cannot read its archive" : why));
  }
}

}  // namespace

void snapshot_checkpoint(ResNet50Impl& model, torch::optim::Optimizer& optimizer,
                         const CheckpointMeta& meta, io::AlignedBytes& image, CheckpointKind kind) {
  NamedTensors tensors;
  for (const auto& p : model.named_parameters()) tensors.emplace_back("p." + p.key(), p.value());
  for (const auto& b : model.named_buffers()) tensors.emplace_back("b." + b.key(), b.value());
  if (kind == CheckpointKind::full) {
    for (auto& [name, t] : optimizer_state_tensors(optimizer, parameter_names(model))) {
      tensors.emplace_back("o." + name, std::move(t));
    }
  }
  encode_checkpoint(tensors, meta, image);
}

void encode_checkpoint(const NamedTensors& tensors, const CheckpointMeta& meta, io::AlignedBytes& image) {
  encode_safetensors(tensors, metadata_of(meta), image, "checkpoint", kCheckpointHeaderBytes);
}

CheckpointMeta load_checkpoint(const CheckpointFile& file, ResNet50Impl& model,
                               torch::optim::Optimizer& optimizer, const torch::Device& device) {
  if (file.version == 1) {
    torch::serialize::InputArchive archive;
    open_v1(file.payload, archive, device);
    read_model_state_v1(archive, model);
    if (file.kind == CheckpointKind::full) {
      torch::serialize::InputArchive opt;
      archive.read("optimizer", opt);
      optimizer.load(opt);
    }
    return read_meta_v1(archive);
  }
  Payload payload = decode_payload(file.payload);
  read_model_state(payload.tensors, model);
  if (file.kind == CheckpointKind::full) {
    load_optimizer_state(optimizer, parameter_names(model), optimizer_part(payload.tensors));
  }
  (void)device;  // the model and optimizer state are on it already: copies go there
  return payload.meta;
}

int load_checkpoint_weights(const std::string& path, ResNet50Impl& model) {
  std::optional<CheckpointFile> file = read_verified(path);
  if (!file) {
    throw std::runtime_error(path + ": not a valid checkpoint (missing, truncated, or its "
                             "checksum does not match)");
  }
  // The checksum verified, so the file is what a writer wrote; it can still be another
  // model's checkpoint or a crafted file.
  return naming(path, "not a checkpoint of this model", [&] {
    if (file->version == 1) {
      torch::serialize::InputArchive archive;
      open_v1(file->payload, archive, torch::kCPU);
      read_model_state_v1(archive, model);
      return read_meta_v1(archive).epoch;
    }
    Payload payload = decode_payload(file->payload);
    read_model_state(payload.tensors, model);
    return payload.meta.epoch;
  });
}

void strip_optimizer_state(const std::string& path) {
  std::optional<CheckpointFile> file = read_verified(path);
  if (!file) {
    throw std::runtime_error(path + ": not a valid checkpoint (missing, truncated, or its "
                             "checksum does not match)");
  }
  if (file->kind == CheckpointKind::weights_only) return;
  // Either version becomes a version-2 weights-only file.
  NamedTensors weights;
  CheckpointMeta meta;
  naming(path, "cannot read its payload", [&] {
    if (file->version == 1) {
      torch::serialize::InputArchive archive;
      open_v1(file->payload, archive, torch::kCPU);
      for (const std::string& key : archive.keys()) {
        const bool buffer = key.rfind("b.", 0) == 0;
        if (buffer || key.rfind("p.", 0) == 0) {
          torch::Tensor t;
          archive.read(key, t, buffer);
          weights.emplace_back(key, t);
        }
      }
      meta = read_meta_v1(archive);
    } else {
      Payload payload = decode_payload(file->payload);
      for (auto& [key, t] : payload.tensors) {
        if (key.rfind("o.", 0) != 0) weights.emplace_back(key, t);
      }
      meta = payload.meta;
    }
    return 0;
  });
  io::AlignedBytes image;
  encode_checkpoint(weights, meta, image);
  weights.clear();
  write_checkpoint(path, image, CheckpointKind::weights_only);
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
