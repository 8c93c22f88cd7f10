// ResNet50 (torchvision layout, "v1.5") with a new binary classification head and
// layer-wise freezing. This is the ONLY definition of the network in mammosweep.
//
// Parameter and buffer names equal torchvision's `resnet50().state_dict()` keys, so ImageNet
// weights load by name (see worker/weights.h):
//   conv1.weight [64,3,7,7]; bn1.{weight,bias,running_mean,running_var,num_batches_tracked}
//   layer1..layer4 hold 3/4/6/3 Bottleneck blocks, each:
//     layerN.i.conv1 (1x1), bn1, conv2 (3x3, carries the stride), bn2, conv3 (1x1, 4x width), bn3
//   the first block of each layer also has layerN.0.downsample.0 (1x1 conv, same stride) and
//   layerN.0.downsample.1 (BN).
//   That is 318 state-dict entries (53 convs, 53 BNs with 2 parameters + 3 buffers each);
//   torchvision's full state dict has 320 because it adds `fc.weight` and `fc.bias`.
// The head replaces torchvision's `fc`:
//   global average pool -> head.0 Linear(2048, dense_units) -> head.1 ReLU
//                       -> head.2 Dropout(dropout) -> head.3 Linear(dense_units, num_classes)
//   so the head's keys are head.0.weight, head.0.bias, head.3.weight, head.3.bias.
//
// Freezing (`unfrozen_fraction` f in [0, 1]):
//   The backbone has L = 106 parameterised layers, listed in the order they run: conv1, bn1,
//   then for each block conv1, bn1, conv2, bn2, conv3, bn3 and, in the first block of each
//   layer, downsample.0 (conv) and downsample.1 (BN) after bn3 (torchvision computes the
//   shortcut after the main path). Every conv and every BatchNorm counts as one layer.
//   The LAST k = ceil(f * L) layers are trainable (requires_grad = true), the first L - k are
//   frozen (requires_grad = false). f = 0 freezes the whole backbone, f = 1 trains all of it.
//   (f * L is computed in double and a tolerance of 1e-9 is subtracted before ceil, so that
//   e.g. f = 0.5 gives exactly 53.) The head is always trainable.
//   Frozen BatchNorm layers always run in inference mode (running statistics are used and
//   never updated, num_batches_tracked does not move), also after `train()`: train() is
//   overridden to put them back into eval mode.
//
// Initialisation is deterministic for a given `seed` and independent of torch's global RNG:
// convs use kaiming-normal (fan_out, relu) as torchvision, BN weight 1 / bias 0, Linear layers
// PyTorch's default (uniform +-1/sqrt(fan_in) for weight and bias).
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>

#include <cstdint>
#include <string>
#include <vector>

#include "sweeps/params.h"
#include "worker/batch_norm.h"
#include "worker/conv.h"

namespace mammosweep::worker {

struct ResNet50Options {
  /// Width of the hidden Linear layer of the head.
  int dense_units = 1024;
  /// Dropout probability between the head's two Linear layers.
  double dropout = 0.5;
  /// Fraction of the backbone's 106 layers (counted from the output end) that train.
  double unfrozen_fraction = 0.5;
  /// Output logits (2 for benign/malignant).
  int num_classes = 2;
  /// Seed of the deterministic initialisation (backbone and head).
  std::uint64_t seed = 0;
};

/// The model a trial trains: its head from `params` (dense_units, dropout,
/// unfrozen_fraction), initialised from `seed` (the trial's seed).
ResNet50Options model_options(const sweeps::TrainingParams& params, std::uint64_t seed);

/// One torchvision bottleneck block. Registered names: conv1, bn1, conv2, bn2, conv3, bn3 and,
/// when `downsample` is true, downsample (a Sequential of "0" conv and "1" BN).
class BottleneckImpl : public torch::nn::Module {
 public:
  BottleneckImpl(std::int64_t in_channels, std::int64_t width, std::int64_t stride,
                 bool downsample);
  torch::Tensor forward(const torch::Tensor& x);

  Conv conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  BatchNorm bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  torch::nn::Sequential downsample{nullptr};  // null unless the block changes shape
};
TORCH_MODULE(Bottleneck);

/// One backbone layer as the freezing rule counts it.
struct BackboneLayer {
  std::string name;                          // e.g. "layer2.0.downsample.1"
  std::shared_ptr<torch::nn::Module> module;  // a Conv (worker/conv.h) or a BatchNorm (worker/batch_norm.h)
  bool is_batchnorm = false;
  bool trainable = false;
};

/// What is trainable, for logging.
struct TrainableSummary {
  int trainable_layers = 0;            // of the backbone, == ceil(f * total_layers)
  int total_layers = 0;                // 106
  std::int64_t trainable_parameters = 0;  // scalar count, head included
  std::int64_t total_parameters = 0;      // scalar count, head included
  std::int64_t trainable_tensors = 0;     // parameter tensors with requires_grad
};

class ResNet50Impl : public torch::nn::Module {
 public:
  /// Throws std::invalid_argument for dense_units < 1, num_classes < 1, dropout outside
  /// [0, 1) or unfrozen_fraction outside [0, 1].
  explicit ResNet50Impl(const ResNet50Options& options = {});

  /// x: [N, 3, H, W] float (any memory format, H, W >= 32) -> logits [N, num_classes].
  torch::Tensor forward(const torch::Tensor& x);

  /// The forward pass in units: 0 is the stem (conv1, bn1, ReLU, max pool), 1..16 the
  /// bottleneck blocks of layer1..layer4 in order, 17 the head (global average pool and the
  /// dense layers). forward(x) == forward_units(x, 0, kUnits), bit for bit.
  static constexpr int kUnits = 18;
  /// Runs units [begin, end) on `x` (images when begin == 0, else unit begin - 1's output);
  /// with end == kUnits the result is the logits.
  torch::Tensor forward_units(const torch::Tensor& x, int begin, int end);
  /// How many leading units have no trainable layer (at most 17: the head always trains):
  /// their output for an image never changes
  /// while the model trains (frozen BatchNorm stays in eval mode), so validation can compute
  /// it once per trial (worker/trainer.cpp).
  int frozen_units() const;

  /// Like Module::train, then puts frozen BatchNorm layers back into eval mode.
  void train(bool on = true) override;

  /// Re-applies the freezing rule for a new fraction (also resets which BN are frozen).
  void set_unfrozen_fraction(double fraction);

  /// The 106 backbone layers in forward order, with their current trainable flag.
  const std::vector<BackboneLayer>& backbone_layers() const { return layers_; }

  TrainableSummary trainable_summary() const;

  /// Parameters with requires_grad (what an optimizer should get).
  std::vector<torch::Tensor> trainable_parameters() const;

  /// The whole state (backbone in torchvision order, then head.*), as PyTorch's state_dict()
  /// orders it: per module, its parameters, then its buffers, modules in registration order.
  std::vector<std::pair<std::string, torch::Tensor>> state_dict() const;

  const ResNet50Options& options() const { return options_; }

  Conv conv1{nullptr};
  BatchNorm bn1{nullptr};
  torch::nn::Sequential layer1{nullptr}, layer2{nullptr}, layer3{nullptr}, layer4{nullptr};
  torch::nn::Sequential head{nullptr};

 private:
  void initialise(std::uint64_t seed);

  ResNet50Options options_;
  std::vector<BackboneLayer> layers_;
};
TORCH_MODULE(ResNet50);

/// Number of backbone layers the freezing rule counts (106).
constexpr int kResNet50BackboneLayers = 106;

/// k = ceil(f * L) as used by the freezing rule (see the top of this file).
int trainable_layer_count(double unfrozen_fraction, int total_layers = kResNet50BackboneLayers);

/// The 318 torchvision backbone state-dict keys (everything but fc.*) in torchvision's order.
std::vector<std::string> torchvision_backbone_keys();

/// True for keys of our classification head ("head." prefix).
bool is_head_key(const std::string& key);

}  // namespace mammosweep::worker
