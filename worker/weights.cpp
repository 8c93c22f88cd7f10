// LibTorch's include folder ships fmt 12 headers that shadow the system fmt 9 whose compiled
// library is linked; header-only mode keeps this TU self-contained whichever headers win.
#ifndef FMT_HEADER_ONLY
#define FMT_HEADER_ONLY
#endif
#include "worker/weights.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/ops/empty.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/utils.h>

#include <cmath>
#include <map>

#include "io/files.h"

namespace mammosweep::worker {
namespace {

std::string describe(const at::Tensor& t) {
  std::string dtype;
  try {
    dtype = safetensors_dtype_name(t.scalar_type());
  } catch (const WeightsError&) {
    dtype = c10::toString(t.scalar_type());
  }
  return fmt::format("{} [{}]", dtype, fmt::join(t.sizes(), ", "));
}

bool is_float_type(c10::ScalarType t) {
  return t == c10::kFloat || t == c10::kHalf || t == c10::kBFloat16 || t == c10::kDouble;
}

bool is_integer_type(c10::ScalarType t) {
  return t == c10::kLong || t == c10::kInt || t == c10::kShort || t == c10::kChar ||
         t == c10::kByte;
}

bool dtype_compatible(c10::ScalarType model, c10::ScalarType file) {
  if (is_float_type(model)) return is_float_type(file);
  if (is_integer_type(model)) return is_integer_type(file);
  return model == file;
}

}  // namespace

std::string make_weights_file_command() {
  return "python -c \"import torch,torchvision,safetensors.torch as s; "
         "s.save_file(torchvision.models.resnet50(weights='IMAGENET1K_V2').state_dict(), "
         "'resnet50.safetensors')\"";
}

LoadWeightsReport load_state_dict(ResNet50Impl& model, const NamedTensors& tensors,
                                  const std::string& source) {
  LoadWeightsReport report;
  report.source = source;

  std::map<std::string, const at::Tensor*> file;
  bool file_has_head = false;
  for (const auto& [name, tensor] : tensors) {
    file.emplace(name, &tensor);
    file_has_head = file_has_head || is_head_key(name);
  }

  const auto state = model.state_dict();
  std::map<std::string, bool> model_keys;
  std::vector<std::string> problems;
  std::vector<std::pair<at::Tensor, const at::Tensor*>> copies;
  int missing = 0;
  for (const auto& [name, target] : state) {
    model_keys.emplace(name, true);
    if (is_head_key(name) && !file_has_head) continue;
    const auto it = file.find(name);
    if (it == file.end()) {
      problems.push_back(fmt::format("missing key '{}' (model expects {})", name, describe(target)));
      ++missing;
      continue;
    }
    const at::Tensor& src = *it->second;
    if (src.sizes() != target.sizes()) {
      problems.push_back(fmt::format("shape mismatch for '{}': file has {}, model expects {}", name,
                                     describe(src), describe(target)));
      continue;
    }
    if (!dtype_compatible(target.scalar_type(), src.scalar_type())) {
      problems.push_back(fmt::format("dtype mismatch for '{}': file has {}, model expects {}",
                                     name, describe(src), describe(target)));
      continue;
    }
    copies.emplace_back(target, &src);
  }
  for (const auto& [name, tensor] : tensors) {
    if (model_keys.count(name) != 0) continue;
    if (name.rfind("fc.", 0) == 0) {
      report.ignored.push_back(name);
      continue;
    }
    problems.push_back(fmt::format("unexpected key '{}' ({})", name, describe(tensor)));
  }

  if (!problems.empty()) {
    std::string message = fmt::format(
        "{}: cannot load into ResNet50 ({} problem{}; keys must follow torchvision's "
        "resnet50().state_dict() names, fc.* is ignored, head.* is optional):",
        source, problems.size(), problems.size() == 1 ? "" : "s");
    for (const auto& p : problems) message += "\n  - " + p;
    if (missing > 0 && file_has_head) {
      message += "\n  (the file has head.* keys, so every head.* key must be present)";
    }
    throw WeightsError(message);
  }

  torch::NoGradGuard no_grad;
  for (auto& [target, src] : copies) target.copy_(*src);
  for (const auto& [name, tensor] : tensors) {
    if (model_keys.count(name) == 0) continue;
    if (is_head_key(name)) {
      report.head_loaded = true;
    } else {
      ++report.backbone_tensors_loaded;
    }
  }
  return report;
}

LoadWeightsReport load_weights(ResNet50Impl& model, const std::string& path) {
  if (path == kNoWeights) {
    LoadWeightsReport report;
    report.source = path;
    return report;
  }
  if (!io::file_exists(path)) {
    throw WeightsError(fmt::format(
        "{}: weights file not found. Write torchvision's ImageNet ResNet50 as safetensors with "
        "ONE python line (needs torch, torchvision, safetensors and internet):\n  {}\n"
        "or set weights: none to start from random initialisation.",
        path, make_weights_file_command()));
  }
  SafetensorsMetadata metadata;
  const auto tensors = read_safetensors(path, &metadata);
  auto report = load_state_dict(model, tensors, path);
  report.metadata = std::move(metadata);
  return report;
}

void save_model_weights(const ResNet50Impl& model, const std::string& path,
                        const SafetensorsMetadata& metadata) {
  SafetensorsMetadata meta = {
      {"format", "pt"},
      {"mammosweep.model", "resnet50"},
      {"mammosweep.dense_units", std::to_string(model.options().dense_units)},
      {"mammosweep.num_classes", std::to_string(model.options().num_classes)},
  };
  for (const auto& [k, v] : metadata) meta[k] = v;
  NamedTensors tensors;
  for (const auto& [name, t] : model.state_dict()) {
    at::Tensor cpu = t.detach().to(at::kCPU);
    if (is_float_type(cpu.scalar_type())) cpu = cpu.to(at::kFloat);
    tensors.emplace_back(name, cpu);
  }
  write_safetensors(path, tensors, meta);
}

void write_reference_weights(const std::string& path, std::uint64_t seed) {
  ResNet50Options options;
  options.seed = seed;
  ResNet50 model(options);

  torch::NoGradGuard no_grad;
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed ^ 0x9e3779b97f4a7c15ULL);
  for (const auto& layer : model->backbone_layers()) {
    if (!layer.is_batchnorm) continue;
    auto* bn = layer.module->as<torch::nn::BatchNorm2d>();
    bn->weight.uniform_(0.8, 1.2, gen);
    bn->bias.normal_(0.0, 0.05, gen);
    bn->running_mean.normal_(0.0, 0.1, gen);
    bn->running_var.uniform_(0.5, 1.5, gen);
    bn->num_batches_tracked.fill_(1000);
  }

  NamedTensors tensors;
  for (const auto& [name, t] : model->state_dict()) {
    if (!is_head_key(name)) tensors.emplace_back(name, t.detach());
  }
  const double bound = 1.0 / std::sqrt(2048.0);
  at::Tensor fc_weight = at::empty({1000, 2048}, at::kFloat).uniform_(-bound, bound, gen);
  at::Tensor fc_bias = at::empty({1000}, at::kFloat).uniform_(-bound, bound, gen);
  tensors.emplace_back("fc.weight", fc_weight);
  tensors.emplace_back("fc.bias", fc_bias);
  write_safetensors(path, tensors,
                    {{"format", "pt"},
                     {"mammosweep.reference_weights", "random stand-in for torchvision "
                                                      "resnet50 IMAGENET1K weights"},
                     {"mammosweep.seed", std::to_string(seed)}});
}

}  // namespace mammosweep::worker
