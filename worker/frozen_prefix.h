#pragma once
// The frozen prefix of a ResNet50: what training and validation run for a trial's leading
// frozen units, by default with every BatchNorm folded into the convolution before it.
//
// A trial's leading frozen units (ResNet50Impl::frozen_units(): the stem and the bottleneck
// blocks with no trainable layer) never change while it trains: their convolutions are frozen
// and their BatchNorms run in eval mode, so each BN is a fixed per-channel affine map
//   bn(z) = gamma * (z - mean) / sqrt(var + eps) + beta = s * z + (beta - s * mean)
// and conv followed by BN is one convolution with weight s * W and bias beta - s * mean.
// FrozenPrefix computes those once with deploy::fold_batchnorm (the ONNX export's fold:
// in double, rounded once to float; kept on the weights' device) and runs the prefix as bare
// convolutions with a bias: no BatchNorm pass, no autograd bookkeeping. Its output equals
// model.forward_units(x, 0, units) up to float rounding (tests/worker/frozen_prefix_test.cpp
// holds it to 1e-5 of the output's scale), in the memory format of its input.
//
// On the CPU the prefix runs in ChannelsLast whatever the trial's memory format: its input is
// converted, its output converted back. oneDNN's NCHW kernels at the stem's 3 input channels
// and layer1's large feature maps spend most of their time in layout work: Model 1's prefix
// took 66-80 ms of a 64 px batch of 32 (1 thread) in NCHW against 51-52 ms this way, both
// conversions included (bench/train_throughput's median_prefix_s; docs/performance.md
// section 7). The trainable units keep the trial's format, so their gradients and the
// optimizer see what they saw before. On CUDA the prefix keeps the weights' format (no
// device measured yet).
//
// bf16 trials run the model's own units instead (fold = false): under CPU autocast the folded
// units measured slower, by page faults the kernel spent on them under glibc's default
// allocator; with worker/malloc_reuse.h the difference is inside the noise (docs/performance.md
// section 7, "The allocator").
//
// Make it again whenever the prefix's weights change (loading a checkpoint or weights, moving
// the model to another device or memory format): the fold keeps copies, not views.
#include <torch/types.h>

#include <vector>

#include "worker/resnet50.h"

namespace mammosweep::worker {

class FrozenPrefix {
 public:
  /// No prefix: units() == 0 and forward returns its input.
  FrozenPrefix() = default;
  /// Units [0, units) of `model`, folded when `fold`; else forward runs the model's own
  /// units (which must outlive this). Throws std::invalid_argument unless
  /// 0 <= units <= model.frozen_units().
  FrozenPrefix(ResNet50Impl& model, int units, bool fold = true);

  int units() const { return units_; }

  /// The output of units [0, units()) for images `x`, without an autograd graph.
  torch::Tensor forward(const torch::Tensor& x) const;

 private:
  struct Conv {
    torch::Tensor weight, bias;
    std::int64_t stride = 1, padding = 0;
    torch::Tensor operator()(const torch::Tensor& x) const;
  };
  struct Block {
    Conv conv1, conv2, conv3, downsample;  // downsample.weight undefined: identity shortcut
  };
  static Conv fold(const torch::nn::Conv2dImpl& conv, const torch::nn::BatchNorm2dImpl& bn);
  /// The memory format the folded units run in for a weight on this device (see the top).
  static at::MemoryFormat layout(const torch::Tensor& weight);

  int units_ = 0;
  ResNet50Impl* unfolded_ = nullptr;  // set when not folded
  Conv stem_;
  std::vector<Block> blocks_;
};

}  // namespace mammosweep::worker
