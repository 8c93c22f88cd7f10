// Tests for worker/weights: loading torchvision-layout files by name, reporting every
// mismatch at once, dtype conversion, head export/import, and the reference weights.
#include "tests/temp_dir.h"
#include "worker/weights.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <ftw.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <string>

namespace mw = mammosweep::worker;
using ::testing::HasSubstr;
using ::testing::Not;

namespace {

using mammosweep::test::TempDir;

std::string read_bytes(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::map<std::string, torch::Tensor> to_map(const mw::NamedTensors& t) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& [k, v] : t) out.emplace(k, v);
  return out;
}

mw::ResNet50Options small_head(std::uint64_t seed) {
  mw::ResNet50Options o;
  o.dense_units = 32;
  o.seed = seed;
  return o;
}

std::string load_error(mw::ResNet50Impl& model, const mw::NamedTensors& t,
                       const std::string& source) {
  try {
    mw::load_state_dict(model, t, source);
  } catch (const mw::WeightsError& e) {
    return e.what();
  }
  return "";
}

class WeightsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    torch::set_num_threads(2);
    dir_ = std::make_unique<TempDir>("weights_test");
    reference_ = dir_->file("reference.safetensors");
    mw::write_reference_weights(reference_, /*seed=*/7);
    reference_tensors_ = std::make_unique<mw::NamedTensors>(mw::read_safetensors(reference_));
  }
  static void TearDownTestSuite() {
    reference_tensors_.reset();
    dir_.reset();
  }
  void SetUp() override { torch::set_num_threads(2); }

  static std::unique_ptr<TempDir> dir_;
  static std::string reference_;
  static std::unique_ptr<mw::NamedTensors> reference_tensors_;
};
std::unique_ptr<TempDir> WeightsTest::dir_;
std::string WeightsTest::reference_;
std::unique_ptr<mw::NamedTensors> WeightsTest::reference_tensors_;

TEST_F(WeightsTest, ReferenceFileHasTorchvisionLayoutWithFc) {
  const auto& t = *reference_tensors_;
  EXPECT_EQ(t.size(), 320u);
  const auto m = to_map(t);
  for (const auto& key : mw::torchvision_backbone_keys()) EXPECT_TRUE(m.count(key)) << key;
  EXPECT_EQ(m.at("fc.weight").sizes().vec(), (std::vector<int64_t>{1000, 2048}));
  EXPECT_EQ(m.at("fc.bias").sizes().vec(), (std::vector<int64_t>{1000}));
  EXPECT_EQ(m.at("layer4.0.downsample.0.weight").sizes().vec(),
            (std::vector<int64_t>{2048, 1024, 1, 1}));
  EXPECT_EQ(m.at("bn1.num_batches_tracked").scalar_type(), torch::kLong);
  EXPECT_EQ(m.at("bn1.num_batches_tracked").item<int64_t>(), 1000);
  // BN statistics are not the fresh 0/1 values, so loading them is observable.
  EXPECT_FALSE(torch::equal(m.at("bn1.running_var"), torch::ones({64})));
}

TEST_F(WeightsTest, ReferenceWeightsAreDeterministicPerSeed) {
  const auto again = dir_->file("again.safetensors");
  mw::write_reference_weights(again, 7);
  EXPECT_EQ(read_bytes(again), read_bytes(reference_));
  mw::SafetensorsMetadata meta;
  mw::read_safetensors(again, &meta);
  EXPECT_EQ(meta.at("mammosweep.seed"), "7");
}

TEST_F(WeightsTest, LoadsReferenceFileByNameAndKeepsTheNewHead) {
  mw::ResNet50 model(small_head(1));
  const auto head_before = model->named_parameters()["head.0.weight"].clone();
  const auto report = mw::load_weights(*model, reference_);
  EXPECT_EQ(report.backbone_tensors_loaded, 318);
  EXPECT_FALSE(report.head_loaded);
  EXPECT_THAT(report.ignored, ::testing::UnorderedElementsAre("fc.weight", "fc.bias"));
  EXPECT_EQ(report.source, reference_);

  const auto file = to_map(*reference_tensors_);
  for (const auto& [k, v] : model->state_dict()) {
    if (mw::is_head_key(k)) continue;
    EXPECT_TRUE(torch::equal(v, file.at(k))) << k;
  }
  EXPECT_TRUE(torch::equal(model->named_parameters()["head.0.weight"], head_before));
  // Freezing flags survive loading.
  EXPECT_FALSE(model->named_parameters()["conv1.weight"].requires_grad());
}

TEST_F(WeightsTest, ConvertsHalfAndBFloat16ToFloat) {
  mw::NamedTensors converted;
  for (const auto& [k, v] : *reference_tensors_) {
    if (v.is_floating_point()) {
      converted.emplace_back(k, v.to(k.find("bn") != std::string::npos ? torch::kHalf
                                                                         : torch::kBFloat16));
    } else {
      converted.emplace_back(k, v);
    }
  }
  const auto p = dir_->file("half.safetensors");
  mw::write_safetensors(p, converted);
  mw::ResNet50 model(small_head(2));
  mw::load_weights(*model, p);
  const auto file = to_map(converted);
  for (const auto& [k, v] : model->state_dict()) {
    if (mw::is_head_key(k)) continue;
    EXPECT_EQ(v.scalar_type(), file.at(k).is_floating_point() ? torch::kFloat : torch::kLong);
    EXPECT_TRUE(torch::equal(v, file.at(k).to(v.scalar_type()))) << k;
  }
}

TEST_F(WeightsTest, ReportsEveryProblemInOneErrorAndChangesNothing) {
  mw::NamedTensors broken;
  for (const auto& [k, v] : *reference_tensors_) {
    if (k == "layer1.0.conv1.weight" || k == "layer3.2.bn2.running_var") continue;  // missing
    if (k == "layer4.0.downsample.0.weight") {
      broken.emplace_back(k, v.reshape({2048, 1024}));  // shape mismatch
    } else if (k == "conv1.weight") {
      broken.emplace_back(k, v.to(torch::kLong));  // dtype mismatch
    } else {
      broken.emplace_back(k, v);
    }
  }
  broken.emplace_back("extra.weight", torch::zeros({3}));           // unexpected
  broken.emplace_back("layer5.0.conv1.weight", torch::zeros({1}));  // unexpected

  mw::ResNet50 model(small_head(3));
  const auto before = model->named_parameters()["layer2.0.conv1.weight"].clone();
  const auto msg = load_error(*model, broken, "broken.safetensors");
  EXPECT_THAT(msg, HasSubstr("broken.safetensors: cannot load into ResNet50 (6 problems"));
  EXPECT_THAT(msg, HasSubstr("missing key 'layer1.0.conv1.weight' (model expects F32 [64, 64, 1, 1])"));
  EXPECT_THAT(msg, HasSubstr("missing key 'layer3.2.bn2.running_var'"));
  EXPECT_THAT(msg, HasSubstr("shape mismatch for 'layer4.0.downsample.0.weight': file has F32 "
                             "[2048, 1024], model expects F32 [2048, 1024, 1, 1]"));
  EXPECT_THAT(msg, HasSubstr("dtype mismatch for 'conv1.weight': file has I64"));
  EXPECT_THAT(msg, HasSubstr("unexpected key 'extra.weight' (F32 [3])"));
  EXPECT_THAT(msg, HasSubstr("unexpected key 'layer5.0.conv1.weight'"));
  EXPECT_THAT(msg, Not(HasSubstr("fc.weight")));
  // Nothing was copied, not even the keys that matched.
  EXPECT_TRUE(torch::equal(model->named_parameters()["layer2.0.conv1.weight"], before));
}

TEST_F(WeightsTest, ExportedModelRoundTripsWithItsHead) {
  mw::ResNet50 a(small_head(4));
  mw::load_weights(*a, reference_);
  const auto p = dir_->file("finetuned.safetensors");
  mw::save_model_weights(*a, p, {{"trial", "t-0001"}});

  mw::SafetensorsMetadata meta;
  const auto saved = mw::read_safetensors(p, &meta);
  EXPECT_EQ(saved.size(), 322u);
  EXPECT_EQ(meta.at("trial"), "t-0001");
  EXPECT_EQ(meta.at("mammosweep.model"), "resnet50");
  EXPECT_EQ(meta.at("mammosweep.dense_units"), "32");

  mw::ResNet50 b(small_head(5));
  const auto report = mw::load_weights(*b, p);
  EXPECT_TRUE(report.head_loaded);
  EXPECT_EQ(report.backbone_tensors_loaded, 318);
  EXPECT_TRUE(report.ignored.empty());
  EXPECT_EQ(report.metadata.at("trial"), "t-0001");
  const auto sa = a->state_dict();
  const auto sb = b->state_dict();
  ASSERT_EQ(sa.size(), sb.size());
  for (std::size_t i = 0; i < sa.size(); ++i) {
    EXPECT_TRUE(torch::equal(sa[i].second, sb[i].second)) << sa[i].first;
  }
  a->eval();
  b->eval();
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({2, 3, 32, 32});
  EXPECT_TRUE(torch::equal(a->forward(x), b->forward(x)));
}

TEST_F(WeightsTest, HeadMustMatchWhenPresent) {
  mw::ResNet50 a(small_head(4));
  const auto p = dir_->file("head32.safetensors");
  mw::save_model_weights(*a, p);
  mw::ResNet50Options o = small_head(6);
  o.dense_units = 16;
  mw::ResNet50 b(o);
  try {
    mw::load_weights(*b, p);
    ADD_FAILURE() << "expected a WeightsError";
  } catch (const mw::WeightsError& e) {
    const std::string msg = e.what();
    EXPECT_THAT(msg, HasSubstr(p + ": cannot load into ResNet50 (3 problems"));
    EXPECT_THAT(msg, HasSubstr("shape mismatch for 'head.0.weight': file has F32 [32, 2048], "
                               "model expects F32 [16, 2048]"));
    EXPECT_THAT(msg, HasSubstr("shape mismatch for 'head.3.weight'"));
  }

  // A file with only part of the head: the rest is reported missing.
  mw::NamedTensors partial = *reference_tensors_;
  partial.emplace_back("head.0.weight", torch::zeros({32, 2048}));
  mw::ResNet50 c(small_head(7));
  const auto msg = load_error(*c, partial, "partial.safetensors");
  EXPECT_THAT(msg, HasSubstr("missing key 'head.0.bias'"));
  EXPECT_THAT(msg, HasSubstr("missing key 'head.3.weight'"));
  EXPECT_THAT(msg, HasSubstr("missing key 'head.3.bias'"));
}

TEST_F(WeightsTest, NoneKeepsTheInitialisation) {
  mw::ResNet50 a(small_head(8));
  mw::ResNet50 b(small_head(8));
  const auto report = mw::load_weights(*a, "none");
  EXPECT_EQ(report.backbone_tensors_loaded, 0);
  EXPECT_FALSE(report.head_loaded);
  const auto sa = a->state_dict();
  const auto sb = b->state_dict();
  for (std::size_t i = 0; i < sa.size(); ++i) EXPECT_TRUE(torch::equal(sa[i].second, sb[i].second));
}

TEST_F(WeightsTest, MissingFileSaysHowToMakeOne) {
  mw::ResNet50 model(small_head(9));
  const auto p = dir_->file("resnet50.safetensors");
  try {
    mw::load_weights(*model, p);
    ADD_FAILURE() << "expected a WeightsError";
  } catch (const mw::WeightsError& e) {
    const std::string msg = e.what();
    EXPECT_THAT(msg, HasSubstr(p + ": weights file not found"));
    EXPECT_THAT(msg, HasSubstr(
        "python -c \"import torch,torchvision,safetensors.torch as s; "
        "s.save_file(torchvision.models.resnet50(weights='IMAGENET1K_V2').state_dict(), "
        "'resnet50.safetensors')\""));
  }
}

TEST_F(WeightsTest, CorruptFileErrorNamesTheFile) {
  const auto p = dir_->file("corrupt.safetensors");
  std::ofstream(p, std::ios::binary) << std::string("\x05\x00\x00\x00\x00\x00\x00\x00{\"a\":", 13);
  mw::ResNet50 model(small_head(10));
  try {
    mw::load_weights(*model, p);
    ADD_FAILURE() << "expected a WeightsError";
  } catch (const mw::WeightsError& e) {
    EXPECT_THAT(e.what(), HasSubstr(p + ": header is not valid JSON"));
  }
}

}  // namespace
