// LibTorch's include folder ships fmt 12 headers that shadow the system fmt 9 whose compiled
// library is linked; header-only mode keeps this TU self-contained whichever headers win.
#ifndef FMT_HEADER_ONLY
#define FMT_HEADER_ONLY
#endif
#include "worker/resnet50.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/ops/max_pool2d.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/types.h>
#include <torch/utils.h>

#include <cmath>
#include <stdexcept>
#include <utility>

namespace mammosweep::worker {

ResNet50Options model_options(const sweeps::TrainingParams& params, std::uint64_t seed) {
  ResNet50Options o;
  o.dense_units = params.dense_units;
  o.dropout = params.dropout;
  o.unfrozen_fraction = params.unfrozen_fraction;
  o.seed = seed;
  return o;
}
namespace {

constexpr std::int64_t kExpansion = 4;
// Blocks per layer and the bottleneck width of each layer (torchvision resnet50).
constexpr int kBlocks[4] = {3, 4, 6, 3};
constexpr std::int64_t kWidths[4] = {64, 128, 256, 512};

Conv make_conv(std::int64_t in, std::int64_t out, std::int64_t kernel, std::int64_t stride,
               std::int64_t padding) {
  return Conv(torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding).bias(false));
}

BatchNorm make_bn(std::int64_t channels) {
  return BatchNorm(torch::nn::BatchNorm2dOptions(channels));
}

/// A backbone layer as the freezing rule counts it; set_unfrozen_fraction sets `trainable`.
BackboneLayer conv_layer(std::string name, std::shared_ptr<torch::nn::Module> module) {
  BackboneLayer layer;
  layer.name = std::move(name);
  layer.module = std::move(module);
  layer.is_batchnorm = false;
  return layer;
}

BackboneLayer batchnorm_layer(std::string name, std::shared_ptr<torch::nn::Module> module) {
  BackboneLayer layer = conv_layer(std::move(name), std::move(module));
  layer.is_batchnorm = true;
  return layer;
}

std::string join_key(const std::string& prefix, const std::string& key) {
  return prefix.empty() ? key : prefix + "." + key;
}

}  // namespace

BottleneckImpl::BottleneckImpl(std::int64_t in_channels, std::int64_t width, std::int64_t stride,
                               bool with_downsample) {
  const std::int64_t out_channels = width * kExpansion;
  conv1 = register_module("conv1", make_conv(in_channels, width, 1, 1, 0));
  bn1 = register_module("bn1", make_bn(width));
  conv2 = register_module("conv2", make_conv(width, width, 3, stride, 1));
  bn2 = register_module("bn2", make_bn(width));
  conv3 = register_module("conv3", make_conv(width, out_channels, 1, 1, 0));
  bn3 = register_module("bn3", make_bn(out_channels));
  if (with_downsample) {
    downsample = register_module(
        "downsample",
        torch::nn::Sequential(make_conv(in_channels, out_channels, 1, stride, 0),
                              make_bn(out_channels)));
  }
}

torch::Tensor BottleneckImpl::forward(const torch::Tensor& x) {
  auto out = bn1(conv1(x)).relu_();
  out = bn2(conv2(out)).relu_();
  out = bn3(conv3(out));
  const auto identity = downsample ? downsample->forward(x) : x;
  return (out + identity).relu_();
}

ResNet50Impl::ResNet50Impl(const ResNet50Options& options) : options_(options) {
  trainable_layer_count(options.unfrozen_fraction);  // validates before the costly build
  if (options.dense_units < 1) {
    throw std::invalid_argument(
        fmt::format("ResNet50: dense_units must be >= 1, got {}", options.dense_units));
  }
  if (options.num_classes < 1) {
    throw std::invalid_argument(
        fmt::format("ResNet50: num_classes must be >= 1, got {}", options.num_classes));
  }
  if (!(options.dropout >= 0.0 && options.dropout < 1.0)) {
    throw std::invalid_argument(
        fmt::format("ResNet50: dropout must be in [0, 1), got {}", options.dropout));
  }

  conv1 = register_module("conv1", make_conv(3, 64, 7, 2, 3));
  bn1 = register_module("bn1", make_bn(64));
  layers_.push_back(conv_layer("conv1", conv1.ptr()));
  layers_.push_back(batchnorm_layer("bn1", bn1.ptr()));

  torch::nn::Sequential* stages[4] = {&layer1, &layer2, &layer3, &layer4};
  std::int64_t in_channels = 64;
  for (int s = 0; s < 4; ++s) {
    const std::string stage_name = fmt::format("layer{}", s + 1);
    torch::nn::Sequential stage;
    for (int b = 0; b < kBlocks[s]; ++b) {
      // The first block of layer2..4 halves the resolution (stride on its 3x3 conv2).
      const std::int64_t stride = (b == 0 && s > 0) ? 2 : 1;
      const bool with_downsample = (b == 0);
      Bottleneck block(in_channels, kWidths[s], stride, with_downsample);
      in_channels = kWidths[s] * kExpansion;
      const std::string p = fmt::format("{}.{}.", stage_name, b);
      layers_.push_back(conv_layer(p + "conv1", block->conv1.ptr()));
      layers_.push_back(batchnorm_layer(p + "bn1", block->bn1.ptr()));
      layers_.push_back(conv_layer(p + "conv2", block->conv2.ptr()));
      layers_.push_back(batchnorm_layer(p + "bn2", block->bn2.ptr()));
      layers_.push_back(conv_layer(p + "conv3", block->conv3.ptr()));
      layers_.push_back(batchnorm_layer(p + "bn3", block->bn3.ptr()));
      if (with_downsample) {
        // torchvision runs the shortcut after the main path, so it comes after bn3.
        layers_.push_back(conv_layer(p + "downsample.0", block->downsample->ptr(0)));
        layers_.push_back(batchnorm_layer(p + "downsample.1", block->downsample->ptr(1)));
      }
      stage->push_back(block);
    }
    *stages[s] = register_module(stage_name, stage);
  }
  if (static_cast<int>(layers_.size()) != kResNet50BackboneLayers) {
    throw std::logic_error(fmt::format("ResNet50: counted {} backbone layers, expected {}",
                                       layers_.size(), kResNet50BackboneLayers));
  }

  head = register_module(
      "head",
      torch::nn::Sequential(
          torch::nn::Linear(in_channels, options.dense_units), torch::nn::ReLU(),
          torch::nn::Dropout(options.dropout),
          torch::nn::Linear(options.dense_units, options.num_classes)));

  initialise(options.seed);
  set_unfrozen_fraction(options.unfrozen_fraction);
}

void ResNet50Impl::initialise(std::uint64_t seed) {
  torch::NoGradGuard no_grad;
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  // Walk modules in registration order so the random stream maps to keys deterministically.
  for (const auto& item : named_modules(/*name_prefix=*/"", /*include_self=*/false)) {
    auto* module = item.value().get();
    if (auto* conv = module->as<torch::nn::Conv2d>()) {
      // kaiming_normal_(mode="fan_out", nonlinearity="relu"), as torchvision.
      const auto& w = conv->weight;
      const double fan_out = static_cast<double>(w.size(0) * w.size(2) * w.size(3));
      w.normal_(0.0, std::sqrt(2.0 / fan_out), gen);
    } else if (auto* bn = module->as<torch::nn::BatchNorm2d>()) {
      bn->weight.fill_(1.0);
      bn->bias.zero_();
      bn->running_mean.zero_();
      bn->running_var.fill_(1.0);
      bn->num_batches_tracked.zero_();
    } else if (auto* linear = module->as<torch::nn::Linear>()) {
      // PyTorch's default Linear init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias.
      const double bound = 1.0 / std::sqrt(static_cast<double>(linear->weight.size(1)));
      linear->weight.uniform_(-bound, bound, gen);
      linear->bias.uniform_(-bound, bound, gen);
    }
  }
}

torch::Tensor ResNet50Impl::forward(const torch::Tensor& x) {
  if (x.dim() != 4 || x.size(1) != 3) {
    throw std::invalid_argument(
        fmt::format("ResNet50: expected input [N, 3, H, W], got [{}]", fmt::join(x.sizes(), ", ")));
  }
  return forward_units(x, 0, kUnits);
}

torch::Tensor ResNet50Impl::forward_units(const torch::Tensor& x, int begin, int end) {
  if (begin < 0 || begin > end || end > kUnits) {
    throw std::invalid_argument(fmt::format("ResNet50: units [{}, {}) outside [0, {}]", begin, end, kUnits));
  }
  torch::Tensor y = x;
  int unit = 0;
  if (begin == 0 && end > 0) {
    y = bn1(conv1(y)).relu_();
    y = at::max_pool2d(y, /*kernel_size=*/{3, 3}, /*stride=*/{2, 2}, /*padding=*/{1, 1});
  }
  ++unit;
  for (torch::nn::Sequential* stage : {&layer1, &layer2, &layer3, &layer4}) {
    for (const auto& block : (*stage)->children()) {
      if (unit >= begin && unit < end) y = block->as<BottleneckImpl>()->forward(y);
      ++unit;
    }
  }
  if (end < kUnits || begin == kUnits) return y;  // the head is unit kUnits - 1
  y = y.mean({2, 3});  // the head: global average pool -> [N, 2048], then the dense layers
  return head->forward(y);
}

int ResNet50Impl::frozen_units() const {
  // A layer's unit: "conv1" and "bn1" are the stem; "layerS.B.*" is block B of stage S.
  int unit = 0;
  std::string current = "stem";
  for (const BackboneLayer& layer : layers_) {
    const std::string key = layer.name.rfind("layer", 0) == 0
                                ? layer.name.substr(0, layer.name.find('.', layer.name.find('.') + 1))
                                : "stem";
    if (key != current) {
      current = key;
      ++unit;
    }
    if (layer.trainable) return unit;
  }
  return kUnits - 1;  // the whole backbone is frozen; the head trains
}

void ResNet50Impl::train(bool on) {
  torch::nn::Module::train(on);
  if (!on) return;
  for (const auto& layer : layers_) {
    if (layer.is_batchnorm && !layer.trainable) layer.module->eval();
  }
}

void ResNet50Impl::set_unfrozen_fraction(double fraction) {
  const int total = static_cast<int>(layers_.size());
  const int k = trainable_layer_count(fraction, total);
  for (int i = 0; i < total; ++i) {
    auto& layer = layers_[static_cast<std::size_t>(i)];
    layer.trainable = i >= total - k;
    for (auto& p : layer.module->parameters(/*recurse=*/false)) {
      if (p.defined()) p.set_requires_grad(layer.trainable);
    }
  }
  for (auto& p : head->parameters()) p.set_requires_grad(true);
  options_.unfrozen_fraction = fraction;
  train(is_training());
}

TrainableSummary ResNet50Impl::trainable_summary() const {
  TrainableSummary s;
  s.total_layers = static_cast<int>(layers_.size());
  for (const auto& layer : layers_) s.trainable_layers += layer.trainable ? 1 : 0;
  for (const auto& p : parameters()) {
    s.total_parameters += p.numel();
    if (p.requires_grad()) {
      s.trainable_parameters += p.numel();
      s.trainable_tensors += 1;
    }
  }
  return s;
}

std::vector<torch::Tensor> ResNet50Impl::trainable_parameters() const {
  std::vector<torch::Tensor> out;
  for (const auto& p : parameters()) {
    if (p.requires_grad()) out.push_back(p);
  }
  return out;
}

std::vector<std::pair<std::string, torch::Tensor>> ResNet50Impl::state_dict() const {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& item : named_modules(/*name_prefix=*/"", /*include_self=*/false)) {
    const auto& module = *item.value();
    for (const auto& p : module.named_parameters(/*recurse=*/false)) {
      if (p.value().defined()) out.emplace_back(join_key(item.key(), p.key()), p.value());
    }
    for (const auto& b : module.named_buffers(/*recurse=*/false)) {
      if (b.value().defined()) out.emplace_back(join_key(item.key(), b.key()), b.value());
    }
  }
  return out;
}

int trainable_layer_count(double unfrozen_fraction, int total_layers) {
  if (!(unfrozen_fraction >= 0.0 && unfrozen_fraction <= 1.0)) {
    throw std::invalid_argument(
        fmt::format("unfrozen_fraction must be in [0, 1], got {}", unfrozen_fraction));
  }
  const double k = std::ceil(unfrozen_fraction * total_layers - 1e-9);
  return std::max(0, std::min(total_layers, static_cast<int>(k)));
}

std::vector<std::string> torchvision_backbone_keys() {
  const char* bn_keys[] = {"weight", "bias", "running_mean", "running_var",
                           "num_batches_tracked"};
  std::vector<std::string> keys;
  auto add_conv = [&](const std::string& name) { keys.push_back(name + ".weight"); };
  auto add_bn = [&](const std::string& name) {
    for (const char* k : bn_keys) keys.push_back(name + "." + k);
  };
  add_conv("conv1");
  add_bn("bn1");
  for (int s = 0; s < 4; ++s) {
    for (int b = 0; b < kBlocks[s]; ++b) {
      const std::string p = fmt::format("layer{}.{}.", s + 1, b);
      for (int i = 1; i <= 3; ++i) {
        add_conv(p + "conv" + std::to_string(i));
        add_bn(p + "bn" + std::to_string(i));
      }
      if (b == 0) {
        add_conv(p + "downsample.0");
        add_bn(p + "downsample.1");
      }
    }
  }
  return keys;
}

bool is_head_key(const std::string& key) { return key.rfind("head.", 0) == 0; }

}  // namespace mammosweep::worker
