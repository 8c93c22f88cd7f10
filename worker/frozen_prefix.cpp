#ifndef FMT_HEADER_ONLY
#define FMT_HEADER_ONLY  // see worker/resnet50.cpp
#endif
#include "worker/frozen_prefix.h"

#include <ATen/ops/conv2d.h>
#include <ATen/ops/max_pool2d.h>
#include <fmt/format.h>
#include <torch/utils.h>

#include <stdexcept>
#include <variant>
#include <vector>

#include "deploy/batchnorm_fold.h"

namespace mammosweep::worker {

torch::Tensor FrozenPrefix::Conv::operator()(const torch::Tensor& x) const {
  return at::conv2d(x, weight, bias, {stride, stride}, {padding, padding});
}

at::MemoryFormat FrozenPrefix::layout(const torch::Tensor& weight) {
  return weight.is_cpu() ? at::MemoryFormat::ChannelsLast : weight.suggest_memory_format();
}

FrozenPrefix::Conv FrozenPrefix::fold(const torch::nn::Conv2dImpl& conv,
                                      const torch::nn::BatchNorm2dImpl& bn) {
  const auto& co = conv.options;
  const auto* padding = std::get_if<torch::ExpandingArray<2>>(&co.padding());
  if (conv.bias.defined() || !padding || (*co.stride())[0] != (*co.stride())[1] ||
      (**padding)[0] != (**padding)[1]) {
    throw std::logic_error("FrozenPrefix: expected a bias-free conv with square stride and padding");
  }
  // deploy::fold_batchnorm, the fold of the ONNX export, on float copies on the CPU.
  auto floats = [](const torch::Tensor& t) {
    const torch::Tensor c = t.detach().to(torch::kCPU, torch::kFloat).contiguous();
    return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
  };
  deploy::FoldedConv f = deploy::fold_batchnorm(floats(conv.weight), floats(bn.weight), floats(bn.bias),
                                                floats(bn.running_mean), floats(bn.running_var),
                                                bn.options.eps());
  auto tensor = [&](std::vector<float>& v, torch::IntArrayRef shape) {
    return torch::from_blob(v.data(), shape, torch::kFloat)
        .to(conv.weight.device(), conv.weight.scalar_type(), /*non_blocking=*/false, /*copy=*/true);
  };
  Conv out;
  out.weight = tensor(f.weight, conv.weight.sizes()).contiguous(layout(conv.weight));
  out.bias = tensor(f.bias, {static_cast<std::int64_t>(f.bias.size())});
  out.stride = (*co.stride())[0];
  out.padding = (**padding)[0];
  return out;
}

FrozenPrefix::FrozenPrefix(ResNet50Impl& model, int units, bool fold_batchnorm) : units_(units) {
  if (units < 0 || units > model.frozen_units()) {
    throw std::invalid_argument(fmt::format(
        "FrozenPrefix: {} units asked, but only the first {} are frozen", units, model.frozen_units()));
  }
  torch::NoGradGuard no_grad;
  if (units == 0) return;
  if (!fold_batchnorm) {
    unfolded_ = &model;
    return;
  }
  stem_ = fold(*model.conv1, *model.bn1);
  int unit = 1;
  for (const torch::nn::Sequential* stage :
       {&model.layer1, &model.layer2, &model.layer3, &model.layer4}) {
    for (const auto& child : (*stage)->children()) {
      if (unit++ >= units) return;
      const auto* b = child->as<BottleneckImpl>();
      Block block{fold(*b->conv1, *b->bn1), fold(*b->conv2, *b->bn2), fold(*b->conv3, *b->bn3), {}};
      if (b->downsample) {
        const auto& shortcut = *b->downsample;
        block.downsample = fold(*shortcut[0]->as<torch::nn::Conv2d>(),
                                *shortcut[1]->as<torch::nn::BatchNorm2d>());
      }
      blocks_.push_back(std::move(block));
    }
  }
}

torch::Tensor FrozenPrefix::forward(const torch::Tensor& x) const {
  if (units_ == 0) return x;
  torch::NoGradGuard no_grad;
  if (unfolded_) return unfolded_->forward_units(x, 0, units_);
  torch::Tensor y = stem_(x.contiguous(layout(stem_.weight))).relu_();
  y = at::max_pool2d(y, /*kernel_size=*/{3, 3}, /*stride=*/{2, 2}, /*padding=*/{1, 1});
  for (const Block& b : blocks_) {
    torch::Tensor out = b.conv2(b.conv1(y).relu_()).relu_();
    out = b.conv3(out);
    out.add_(b.downsample.weight.defined() ? b.downsample(y) : y);
    y = out.relu_();
  }
  return y.contiguous(x.suggest_memory_format());
}

}  // namespace mammosweep::worker
