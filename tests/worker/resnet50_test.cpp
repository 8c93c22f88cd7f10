// Tests for worker/resnet50: torchvision key names and shapes, the forward pass against an
// independent functional re-implementation, determinism, and the freezing rule.
#include "worker/resnet50.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <map>
#include <set>
#include <string>
#include <vector>

namespace mw = mammosweep::worker;

namespace {

std::map<std::string, torch::Tensor> as_map(const mw::ResNet50& model) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& [k, v] : model->state_dict()) out.emplace(k, v);
  return out;
}

class ResNet50Test : public ::testing::Test {
 protected:
  void SetUp() override { torch::set_num_threads(2); }
};

TEST_F(ResNet50Test, BackboneKeysMatchTorchvisionFacts) {
  const auto keys = mw::torchvision_backbone_keys();
  // torchvision resnet50 has 53 convs and 53 BNs (2 params + 3 buffers): 53 + 53*5 = 318,
  // plus fc.weight and fc.bias = 320 in its full state dict.
  EXPECT_EQ(keys.size(), 318u);
  const std::set<std::string> set(keys.begin(), keys.end());
  EXPECT_EQ(set.size(), keys.size());
  EXPECT_EQ(keys.front(), "conv1.weight");
  EXPECT_EQ(keys.back(), "layer4.2.bn3.num_batches_tracked");
  const int blocks[4] = {3, 4, 6, 3};
  for (int s = 1; s <= 4; ++s) {
    const std::string layer = "layer" + std::to_string(s) + ".";
    EXPECT_TRUE(set.count(layer + std::to_string(blocks[s - 1] - 1) + ".conv3.weight")) << s;
    EXPECT_FALSE(set.count(layer + std::to_string(blocks[s - 1]) + ".conv1.weight")) << s;
    EXPECT_TRUE(set.count(layer + "0.downsample.0.weight")) << s;
    EXPECT_TRUE(set.count(layer + "0.downsample.1.running_var")) << s;
    EXPECT_FALSE(set.count(layer + "1.downsample.0.weight")) << s;
  }
  EXPECT_FALSE(set.count("fc.weight"));
  EXPECT_FALSE(set.count("conv1.bias"));
}

// Each listed backbone layer is the registered module of that name, and is_batchnorm says
// what that module is (checked by its type, not by the list's own flag).
TEST_F(ResNet50Test, BackboneLayersNameTheirModuleAndItsKind) {
  mw::ResNet50 model(mw::ResNet50Options{});
  std::map<std::string, const torch::nn::Module*> registered;
  for (const auto& item : model->named_modules()) {
    registered.emplace(item.key(), item.value().get());
  }
  int convs = 0, batchnorms = 0;
  for (const auto& layer : model->backbone_layers()) {
    ASSERT_TRUE(registered.count(layer.name)) << layer.name;
    EXPECT_EQ(registered.at(layer.name), layer.module.get()) << layer.name;
    // The project's own modules (worker/batch_norm.h, worker/conv.h), not LibTorch's bare ones.
    const bool is_bn = dynamic_cast<mw::BatchNormImpl*>(layer.module.get()) != nullptr;
    const bool is_conv = dynamic_cast<mw::ConvImpl*>(layer.module.get()) != nullptr;
    EXPECT_NE(is_bn, is_conv) << layer.name;
    EXPECT_EQ(layer.is_batchnorm, is_bn) << layer.name;
    (is_bn ? batchnorms : convs) += 1;
  }
  EXPECT_EQ(convs, 53);
  EXPECT_EQ(batchnorms, 53);
}

TEST_F(ResNet50Test, StateDictHasTorchvisionNamesShapesAndOrderPlusHead) {
  mw::ResNet50 model(mw::ResNet50Options{});
  const auto state = model->state_dict();
  const auto keys = mw::torchvision_backbone_keys();
  ASSERT_EQ(state.size(), keys.size() + 4);
  for (std::size_t i = 0; i < keys.size(); ++i) EXPECT_EQ(state[i].first, keys[i]) << i;
  EXPECT_EQ(state[318].first, "head.0.weight");
  EXPECT_EQ(state[319].first, "head.0.bias");
  EXPECT_EQ(state[320].first, "head.3.weight");
  EXPECT_EQ(state[321].first, "head.3.bias");

  // Shapes written down from torchvision's Bottleneck (width w, expansion 4).
  const std::map<std::string, std::vector<int64_t>> facts = {
      {"conv1.weight", {64, 3, 7, 7}},
      {"bn1.weight", {64}},
      {"bn1.running_mean", {64}},
      {"bn1.num_batches_tracked", {}},
      {"layer1.0.conv1.weight", {64, 64, 1, 1}},
      {"layer1.0.conv2.weight", {64, 64, 3, 3}},
      {"layer1.0.conv3.weight", {256, 64, 1, 1}},
      {"layer1.0.downsample.0.weight", {256, 64, 1, 1}},
      {"layer1.1.conv1.weight", {64, 256, 1, 1}},
      {"layer2.0.conv1.weight", {128, 256, 1, 1}},
      {"layer2.0.conv2.weight", {128, 128, 3, 3}},
      {"layer2.0.downsample.0.weight", {512, 256, 1, 1}},
      {"layer2.3.bn3.running_var", {512}},
      {"layer3.0.downsample.0.weight", {1024, 512, 1, 1}},
      {"layer3.5.conv2.weight", {256, 256, 3, 3}},
      {"layer4.0.downsample.0.weight", {2048, 1024, 1, 1}},
      {"layer4.0.downsample.1.weight", {2048}},
      {"layer4.2.conv3.weight", {2048, 512, 1, 1}},
      {"layer4.2.bn3.bias", {2048}},
      {"head.0.weight", {1024, 2048}},
      {"head.0.bias", {1024}},
      {"head.3.weight", {2, 1024}},
      {"head.3.bias", {2}},
  };
  const auto map = as_map(model);
  for (const auto& [key, shape] : facts) {
    ASSERT_TRUE(map.count(key)) << key;
    EXPECT_EQ(map.at(key).sizes().vec(), shape) << key;
  }
  EXPECT_EQ(map.at("bn1.num_batches_tracked").scalar_type(), torch::kLong);
  EXPECT_EQ(map.at("conv1.weight").scalar_type(), torch::kFloat);

  // torchvision resnet50 has 25,557,032 parameters, 2,049,000 of them in fc.
  int64_t backbone = 0;
  for (const auto& item : model->named_parameters()) {
    if (!mw::is_head_key(item.key())) backbone += item.value().numel();
  }
  EXPECT_EQ(backbone, 25557032 - 2049000);
  const auto summary = model->trainable_summary();
  EXPECT_EQ(summary.total_parameters, backbone + (2048 * 1024 + 1024) + (1024 * 2 + 2));
}

TEST_F(ResNet50Test, StrideSitsOnTheThreeByThreeConv) {
  mw::ResNet50 model(mw::ResNet50Options{});
  const auto modules = model->named_modules();
  auto stride = [&](const std::string& name) {
    return modules[name]->as<torch::nn::Conv2d>()->options.stride()->at(0);
  };
  EXPECT_EQ(stride("conv1"), 2);
  EXPECT_EQ(stride("layer1.0.conv2"), 1);
  EXPECT_EQ(stride("layer1.0.downsample.0"), 1);
  for (const char* layer : {"layer2", "layer3", "layer4"}) {
    const std::string p = std::string(layer) + ".0.";
    EXPECT_EQ(stride(p + "conv1"), 1) << layer;
    EXPECT_EQ(stride(p + "conv2"), 2) << layer;
    EXPECT_EQ(stride(p + "conv3"), 1) << layer;
    EXPECT_EQ(stride(p + "downsample.0"), 2) << layer;
    EXPECT_EQ(stride(std::string(layer) + ".1.conv2"), 1) << layer;
  }
}

// torchvision's forward, written with functional ops from the state dict alone.
torch::Tensor reference_forward(const std::map<std::string, torch::Tensor>& w,
                                const torch::Tensor& x) {
  auto conv = [&](const torch::Tensor& in, const std::string& name, int64_t stride,
                  int64_t padding) {
    return torch::conv2d(in, w.at(name + ".weight"), {}, stride, padding);
  };
  auto bn = [&](const torch::Tensor& in, const std::string& name) {
    return torch::batch_norm(in, w.at(name + ".weight"), w.at(name + ".bias"),
                             w.at(name + ".running_mean"), w.at(name + ".running_var"),
                             /*training=*/false, 0.1, 1e-5, /*cudnn_enabled=*/false);
  };
  auto y = torch::relu(bn(conv(x, "conv1", 2, 3), "bn1"));
  y = torch::max_pool2d(y, 3, 2, 1);
  const int blocks[4] = {3, 4, 6, 3};
  for (int s = 1; s <= 4; ++s) {
    for (int b = 0; b < blocks[s - 1]; ++b) {
      const std::string p = "layer" + std::to_string(s) + "." + std::to_string(b) + ".";
      const int64_t stride = (b == 0 && s > 1) ? 2 : 1;
      auto out = torch::relu(bn(conv(y, p + "conv1", 1, 0), p + "bn1"));
      out = torch::relu(bn(conv(out, p + "conv2", stride, 1), p + "bn2"));
      out = bn(conv(out, p + "conv3", 1, 0), p + "bn3");
      const auto identity =
          b == 0 ? bn(conv(y, p + "downsample.0", stride, 0), p + "downsample.1") : y;
      y = torch::relu(out + identity);
    }
  }
  y = torch::adaptive_avg_pool2d(y, {1, 1}).flatten(1);
  y = torch::relu(torch::linear(y, w.at("head.0.weight"), w.at("head.0.bias")));
  return torch::linear(y, w.at("head.3.weight"), w.at("head.3.bias"));
}

TEST_F(ResNet50Test, ForwardMatchesFunctionalReferenceInEvalMode) {
  mw::ResNet50 model(mw::ResNet50Options{/*dense_units=*/64, /*dropout=*/0.5,
                                         /*unfrozen_fraction=*/0.5, /*num_classes=*/2,
                                         /*seed=*/3});
  // Make every BN do something: random affine parameters and running statistics.
  {
    torch::NoGradGuard no_grad;
    torch::manual_seed(11);
    for (auto& [k, v] : model->state_dict()) {
      if (k.find("running_var") != std::string::npos) v.uniform_(0.5, 1.5);
      if (k.find("running_mean") != std::string::npos) v.normal_(0, 0.1);
      if (k.find("bn") != std::string::npos && k.find(".weight") != std::string::npos) {
        v.uniform_(0.8, 1.2);
      }
    }
  }
  model->eval();
  torch::manual_seed(5);
  const auto x = torch::randn({2, 3, 64, 64});
  torch::NoGradGuard no_grad;
  const auto y = model->forward(x);
  ASSERT_EQ(y.sizes().vec(), (std::vector<int64_t>{2, 2}));
  const auto expected = reference_forward(as_map(model), x);
  EXPECT_TRUE(torch::allclose(y, expected, 1e-4, 1e-5)) << y << expected;

  // channels_last input gives the same logits.
  const auto y_cl = model->forward(x.contiguous(torch::MemoryFormat::ChannelsLast));
  EXPECT_TRUE(torch::allclose(y, y_cl, 1e-4, 1e-5));
}

TEST_F(ResNet50Test, ForwardAcceptsSizesFrom32To224) {
  mw::ResNet50 model(mw::ResNet50Options{});
  model->eval();
  torch::NoGradGuard no_grad;
  for (int64_t size : {32, 48, 224}) {
    const int64_t n = size == 224 ? 1 : 2;
    const auto y = model->forward(torch::randn({n, 3, size, size}));
    EXPECT_EQ(y.sizes().vec(), (std::vector<int64_t>{n, 2})) << size;
    EXPECT_TRUE(torch::isfinite(y).all().item<bool>()) << size;
  }
  EXPECT_THROW(model->forward(torch::randn({2, 1, 32, 32})), std::invalid_argument);
}

TEST_F(ResNet50Test, InitialisationDependsOnlyOnTheSeed) {
  mw::ResNet50Options o;
  o.dense_units = 32;
  o.seed = 42;
  torch::manual_seed(1);
  mw::ResNet50 a(o);
  torch::manual_seed(2);  // the global RNG must not matter
  mw::ResNet50 b(o);
  o.seed = 43;
  mw::ResNet50 c(o);
  const auto sa = a->state_dict();
  const auto sb = b->state_dict();
  const auto sc = c->state_dict();
  bool any_difference = false;
  for (std::size_t i = 0; i < sa.size(); ++i) {
    EXPECT_TRUE(torch::equal(sa[i].second, sb[i].second)) << sa[i].first;
    if (sa[i].first == "head.3.weight" || sa[i].first == "conv1.weight") {
      EXPECT_FALSE(torch::equal(sa[i].second, sc[i].second)) << sa[i].first;
    }
    any_difference = any_difference || !torch::equal(sa[i].second, sc[i].second);
  }
  EXPECT_TRUE(any_difference);
  // kaiming_normal(fan_out): conv1 std = sqrt(2 / (64*7*7)) = 0.0255.
  const double std = sa[0].second.std().item<double>();
  EXPECT_NEAR(std, std::sqrt(2.0 / (64 * 49)), 0.002);
}

TEST_F(ResNet50Test, TrainableLayerCountIsCeilOfFractionTimes106) {
  // Hand-computed: 0.5*106 = 53, 0.6*106 = 63.6 -> 64, 0.7*106 = 74.2 -> 75.
  EXPECT_EQ(mw::trainable_layer_count(0.0), 0);
  EXPECT_EQ(mw::trainable_layer_count(0.5), 53);
  EXPECT_EQ(mw::trainable_layer_count(0.6), 64);
  EXPECT_EQ(mw::trainable_layer_count(0.7), 75);
  EXPECT_EQ(mw::trainable_layer_count(1.0), 106);
  EXPECT_EQ(mw::trainable_layer_count(0.01), 2);
  EXPECT_THROW(mw::trainable_layer_count(1.5), std::invalid_argument);
  EXPECT_THROW(mw::trainable_layer_count(-0.1), std::invalid_argument);

  mw::ResNet50 model(mw::ResNet50Options{});
  ASSERT_EQ(model->backbone_layers().size(), 106u);
  EXPECT_EQ(model->backbone_layers()[0].name, "conv1");
  EXPECT_EQ(model->backbone_layers()[9].name, "layer1.0.downsample.1");
  EXPECT_EQ(model->backbone_layers()[105].name, "layer4.2.bn3");

  const auto head_params = (2048 * 1024 + 1024) + (1024 * 2 + 2);
  const std::map<double, int> expected = {{0.0, 0}, {0.5, 53}, {0.6, 64}, {0.7, 75}, {1.0, 106}};
  for (const auto& [f, k] : expected) {
    model->set_unfrozen_fraction(f);
    const auto s = model->trainable_summary();
    EXPECT_EQ(s.trainable_layers, k) << f;
    EXPECT_EQ(s.total_layers, 106);
    // Count requires_grad over the named parameters independently of the summary.
    int64_t trainable = 0;
    for (const auto& item : model->named_parameters()) {
      if (item.value().requires_grad()) trainable += item.value().numel();
      if (mw::is_head_key(item.key())) {
        EXPECT_TRUE(item.value().requires_grad()) << item.key();
      }
    }
    EXPECT_EQ(s.trainable_parameters, trainable) << f;
    if (f == 0.0) {
      EXPECT_EQ(trainable, head_params);
    }
    if (f == 1.0) {
      EXPECT_EQ(trainable, s.total_parameters);
    }
  }
  // f = 0.5: layers 0..52 frozen. Index 48..53 is layer3.0.{conv1,bn1,conv2,bn2,conv3,bn3}.
  model->set_unfrozen_fraction(0.5);
  const auto p = model->named_parameters();
  EXPECT_FALSE(p["layer3.0.conv3.weight"].requires_grad());
  EXPECT_TRUE(p["layer3.0.bn3.weight"].requires_grad());
  EXPECT_TRUE(p["layer3.0.downsample.0.weight"].requires_grad());
  EXPECT_FALSE(p["layer2.3.bn3.bias"].requires_grad());
  EXPECT_FALSE(p["conv1.weight"].requires_grad());
  EXPECT_TRUE(p["layer4.2.conv3.weight"].requires_grad());
}

TEST_F(ResNet50Test, FrozenLayersDoNotChangeDuringATrainingStep) {
  mw::ResNet50Options o;
  o.dense_units = 64;
  o.unfrozen_fraction = 0.5;
  o.seed = 9;
  mw::ResNet50 model(o);
  model->train();
  model->eval();
  model->train();  // frozen BNs must come back in eval mode after every train()

  for (const auto& layer : model->backbone_layers()) {
    if (layer.is_batchnorm) {
      EXPECT_EQ(layer.module->is_training(), layer.trainable) << layer.name;
    }
  }

  std::map<std::string, torch::Tensor> before;
  for (const auto& [k, v] : model->state_dict()) before.emplace(k, v.clone());
  std::set<std::string> frozen_modules;
  for (const auto& layer : model->backbone_layers()) {
    if (!layer.trainable) frozen_modules.insert(layer.name);
  }

  // All parameters go to the optimizer: frozen ones must be skipped because they get no grad.
  torch::optim::SGD sgd(model->parameters(), torch::optim::SGDOptions(0.1));
  torch::manual_seed(3);
  const auto x = torch::randn({4, 3, 32, 32});
  const auto target = torch::tensor({0, 1, 1, 0}, torch::kLong);
  sgd.zero_grad();
  torch::nn::functional::cross_entropy(model->forward(x), target).backward();
  sgd.step();

  int frozen_checked = 0;
  int trainable_changed = 0;
  for (const auto& [k, v] : model->state_dict()) {
    const auto module = k.substr(0, k.rfind('.'));
    const bool frozen = frozen_modules.count(module) != 0;
    if (frozen) {
      EXPECT_TRUE(torch::equal(v, before.at(k))) << "frozen " << k << " changed";
      ++frozen_checked;
    } else if (k.find("num_batches_tracked") != std::string::npos) {
      EXPECT_EQ(v.item<int64_t>(), before.at(k).item<int64_t>() + 1) << k;
    } else {
      // Trainable weights, biases and (training-mode) BN running stats all move.
      EXPECT_FALSE(torch::equal(v, before.at(k))) << "trainable " << k << " did not change";
      ++trainable_changed;
    }
  }
  // f = 0.5 freezes layers 0..52: 27 convs (1 entry each) and 26 BNs (5 entries each).
  EXPECT_EQ(frozen_checked, 27 + 26 * 5);
  EXPECT_EQ(trainable_changed, 26 + 27 * 4 + 4);  // trainable convs, BN w/b/mean/var, head
}

// Validation keeps the frozen prefix's output (trainer.cpp): the units compose to forward()
// bit for bit at every split, and frozen_units() counts the leading units whose parameters
// all have requires_grad false (read from the parameters, not from the layer table).
TEST_F(ResNet50Test, UnitsComposeToForwardAndFrozenUnitsFollowRequiresGrad) {
  torch::manual_seed(3);
  const torch::Tensor x = torch::randn({2, 3, 64, 64});
  for (double f : {0.0, 0.15, 0.3, 0.5, 0.6, 0.7, 1.0}) {
    SCOPED_TRACE("unfrozen_fraction " + std::to_string(f));
    mw::ResNet50Options o;
    o.unfrozen_fraction = f;
    o.dense_units = 8;
    mw::ResNet50 model(o);
    model->eval();
    torch::NoGradGuard no_grad;
    const torch::Tensor whole = model->forward(x);
    for (int k = 0; k <= mw::ResNet50Impl::kUnits; ++k) {
      const torch::Tensor h = model->forward_units(x, 0, k);
      EXPECT_TRUE(torch::equal(model->forward_units(h, k, mw::ResNet50Impl::kUnits), whole)) << "split " << k;
    }
    // Unit names in forward order: the stem, the 16 blocks, the head.
    std::vector<std::string> units{"stem"};
    for (int s = 1, blocks[] = {3, 4, 6, 3}; s <= 4; ++s) {
      for (int b = 0; b < blocks[s - 1]; ++b) units.push_back("layer" + std::to_string(s) + "." + std::to_string(b) + ".");
    }
    units.push_back("head.");
    int frozen = 0;
    for (const std::string& unit : units) {
      bool trains = false;
      for (const auto& p : model->named_parameters()) {
        const bool in_unit = unit == "stem" ? p.key().rfind("conv1.", 0) == 0 || p.key().rfind("bn1.", 0) == 0
                                            : p.key().rfind(unit, 0) == 0;
        if (in_unit && p.value().requires_grad()) trains = true;
      }
      if (trains) break;
      ++frozen;
    }
    EXPECT_EQ(model->frozen_units(), frozen);
  }
}

TEST_F(ResNet50Test, RejectsBadOptions) {
  mw::ResNet50Options o;
  o.unfrozen_fraction = 2;
  EXPECT_THROW(mw::ResNet50{o}, std::invalid_argument);
  o = {};
  o.dropout = 1.0;
  EXPECT_THROW(mw::ResNet50{o}, std::invalid_argument);
  o = {};
  o.dense_units = 0;
  EXPECT_THROW(mw::ResNet50{o}, std::invalid_argument);
}

}  // namespace
