// Tests for worker/model_dir: the model.json round trip and its field errors, the exported
// folder's files, and Predictor output against an independent computation (preprocessed
// bytes -> hand-built normalised tensor -> model->forward -> softmax).
#include "worker/model_dir.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/files.h"
#include "tests/temp_dir.h"
#include "worker/image.h"
#include "worker/resnet50.h"
#include "worker/safetensors.h"
#include "worker/weights.h"

namespace mw = mammosweep::worker;
namespace mio = mammosweep::io;
using ::testing::HasSubstr;

namespace {

using mammosweep::test::TempDir;

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no exception)";
}

mw::ModelInfo sample_info() {
  mw::ModelInfo info;
  info.tool_version = "9.9.9";
  info.architecture = {8, 0.25, 0.1, 2};
  info.preprocessing.options.image_size = 40;
  info.preprocessing.options.keep_aspect = true;
  info.preprocessing.options.clahe = true;
  info.preprocessing.options.window = mw::PreprocessOptions::Window::percentile;
  info.preprocessing.options.window_low_pct = 1.0;
  info.preprocessing.options.window_high_pct = 99.0;
  info.preprocessing.mean = {0.5, 0.4, 0.3};
  info.preprocessing.std = {0.2, 0.25, 0.3};
  info.class_map = {{"benign", 0}, {"malignant", 1}};
  info.threshold = 0.3;
  info.extra_json = R"({"trial":{"id":"abc","name":"Model 1"},"metrics":{"val":{"auc":0.75}}})";
  return info;
}

// A small model with non-trivial BatchNorm statistics (reference weights) and a seeded head.
mw::ResNet50 small_model(const TempDir& tmp) {
  mw::ResNet50Options o;
  o.dense_units = 8;
  o.dropout = 0.25;
  o.unfrozen_fraction = 0.1;
  o.seed = 11;
  mw::ResNet50 m(o);
  const std::string ref = tmp.file("ref.safetensors");
  mw::write_reference_weights(ref, 5);
  mw::load_weights(*m, ref);
  m->eval();
  return m;
}

// Independent preprocessing: bytes (HWC) -> [1,3,S,S] by explicit loops.
torch::Tensor hand_tensor(const std::vector<std::uint8_t>& hwc, int s, const std::vector<double>& mean,
                          const std::vector<double>& stdv) {
  torch::Tensor x = torch::empty({1, 3, s, s}, torch::kFloat);
  auto a = x.accessor<float, 4>();
  for (int y = 0; y < s; ++y) {
    for (int xx = 0; xx < s; ++xx) {
      for (int c = 0; c < 3; ++c) {
        const double v = hwc[(static_cast<std::size_t>(y) * s + xx) * 3 + c] / 255.0;
        a[0][c][y][xx] = static_cast<float>((v - mean[c]) / stdv[c]);
      }
    }
  }
  return x;
}

void write_test_images(const TempDir& tmp) {
  // A 16-bit gray gradient (50 x 36) and an 8-bit RGB pattern (30 x 44).
  std::vector<std::uint16_t> gray(50 * 36);
  for (int y = 0; y < 36; ++y)
    for (int x = 0; x < 50; ++x) gray[y * 50 + x] = static_cast<std::uint16_t>(300 + 37 * x + 91 * y);
  mw::write_png(tmp.file("gray16.png"), 50, 36, 1, 16, gray.data());
  std::vector<std::uint8_t> rgb(30 * 44 * 3);
  for (std::size_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<std::uint8_t>((i * 53 + i / 7) % 256);
  mw::write_png(tmp.file("rgb8.png"), 30, 44, 3, 8, rgb.data());
}

}  // namespace

TEST(ModelInfoJson, RoundTripKeepsEveryField) {
  const mw::ModelInfo in = sample_info();
  const std::string text = mw::model_info_to_json(in);
  const mw::ModelInfo out = mw::model_info_from_json(text, "m.json");
  EXPECT_EQ(out.tool_version, "9.9.9");
  EXPECT_EQ(out.architecture.dense_units, 8);
  EXPECT_DOUBLE_EQ(out.architecture.dropout, 0.25);
  EXPECT_DOUBLE_EQ(out.architecture.unfrozen_fraction, 0.1);
  EXPECT_EQ(out.architecture.num_classes, 2);
  EXPECT_EQ(out.preprocessing.options.image_size, 40);
  EXPECT_TRUE(out.preprocessing.options.keep_aspect);
  EXPECT_TRUE(out.preprocessing.options.clahe);
  EXPECT_EQ(out.preprocessing.options.window, mw::PreprocessOptions::Window::percentile);
  EXPECT_DOUBLE_EQ(out.preprocessing.options.window_low_pct, 1.0);
  EXPECT_DOUBLE_EQ(out.preprocessing.options.window_high_pct, 99.0);
  EXPECT_EQ(out.preprocessing.mean, (std::vector<double>{0.5, 0.4, 0.3}));
  EXPECT_EQ(out.preprocessing.std, (std::vector<double>{0.2, 0.25, 0.3}));
  EXPECT_EQ(out.class_map, (std::map<std::string, int>{{"benign", 0}, {"malignant", 1}}));
  EXPECT_DOUBLE_EQ(out.threshold, 0.3);
  EXPECT_EQ(nlohmann::json::parse(out.extra_json), nlohmann::json::parse(in.extra_json));
  // The file is plain JSON with the documented top-level keys.
  nlohmann::json j = nlohmann::json::parse(text);
  EXPECT_EQ(j["format"], "mammosweep-model");
  EXPECT_EQ(j["format_version"], 1);
  EXPECT_EQ(j["preprocessing"]["image_size"], 40);
  EXPECT_EQ(j["trial"]["id"], "abc");
}

TEST(ModelInfoJson, MissingOrInvalidFieldsAreNamed) {
  nlohmann::json j = nlohmann::json::parse(mw::model_info_to_json(sample_info()));
  {
    nlohmann::json k = j;
    k["preprocessing"].erase("image_size");
    EXPECT_THAT(error_of([&] { mw::model_info_from_json(k.dump(), "M/model.json"); }),
                HasSubstr("M/model.json: missing field 'preprocessing.image_size'"));
  }
  {
    nlohmann::json k = j;
    k.erase("threshold");
    EXPECT_THAT(error_of([&] { mw::model_info_from_json(k.dump(), "M/model.json"); }),
                HasSubstr("missing field 'threshold'"));
  }
  {
    nlohmann::json k = j;
    k["architecture"]["dense_units"] = "sixteen";
    EXPECT_THAT(error_of([&] { mw::model_info_from_json(k.dump(), "M/model.json"); }),
                HasSubstr("field 'architecture.dense_units' must be an integer"));
  }
  {
    nlohmann::json k = j;
    k["preprocessing"]["std"] = {0.2, 0.0, 0.3};
    EXPECT_THAT(error_of([&] { mw::model_info_from_json(k.dump(), "M/model.json"); }),
                HasSubstr("'preprocessing.std' must be a list of 3 numbers > 0"));
  }
  {
    nlohmann::json k = j;
    k["format_version"] = 2;
    EXPECT_THAT(error_of([&] { mw::model_info_from_json(k.dump(), "M/model.json"); }),
                HasSubstr("format_version 2 is not supported"));
  }
  EXPECT_THAT(error_of([&] { mw::model_info_from_json("{not json", "M/model.json"); }),
              HasSubstr("M/model.json: not valid JSON"));
}

TEST(ModelDir, WritesTheThreeFilesWithTorchvisionNamesAndHead) {
  TempDir tmp;
  mw::ResNet50 m = small_model(tmp);
  mw::ModelInfo info = sample_info();
  const std::string dir = tmp.file("model");
  mw::write_model_dir(dir, *m, info, "# card\n", {{"mammosweep.trial_id", "abc"}});
  EXPECT_TRUE(mio::file_exists(dir + "/model.json"));
  EXPECT_EQ(mio::read_file(dir + "/MODEL_CARD.md"), "# card\n");
  mw::SafetensorsMetadata meta;
  mw::NamedTensors t = mw::read_safetensors(dir + "/model.safetensors", &meta);
  EXPECT_EQ(t.size(), 318u + 4u);
  EXPECT_EQ(meta["mammosweep.trial_id"], "abc");
  std::map<std::string, torch::Tensor> byname(t.begin(), t.end());
  ASSERT_EQ(byname.count("conv1.weight"), 1u);
  ASSERT_EQ(byname.count("head.0.weight"), 1u);
  EXPECT_EQ(byname["head.0.weight"].sizes(), (std::vector<std::int64_t>{8, 2048}));
  EXPECT_EQ(byname["head.3.weight"].sizes(), (std::vector<std::int64_t>{2, 8}));
  EXPECT_TRUE(torch::equal(byname["layer4.2.bn3.running_var"], m->layer4[2]->named_buffers()["bn3.running_var"]));

  // An architecture that disagrees with the module is refused before anything is written.
  info.architecture.dense_units = 16;
  EXPECT_THAT(error_of([&] { mw::write_model_dir(tmp.file("other"), *m, info); }),
              HasSubstr("dense_units 8"));
  EXPECT_FALSE(mio::file_exists(tmp.file("other/model.json")));
}

TEST(Predictor, EqualsForwardOnTheSamePreprocessedTensor) {
  torch::set_num_threads(2);
  TempDir tmp;
  write_test_images(tmp);
  mw::ResNet50 m = small_model(tmp);
  mw::ModelInfo info = sample_info();
  const int s = info.preprocessing.options.image_size;

  std::vector<std::string> paths{tmp.file("gray16.png"), tmp.file("rgb8.png")};
  std::vector<float> expected;
  for (const auto& p : paths) {
    std::vector<std::uint8_t> bytes = mw::preprocess(mw::decode_image(p), info.preprocessing.options);
    torch::NoGradGuard ng;
    torch::Tensor logits =
        m->forward(hand_tensor(bytes, s, info.preprocessing.mean, info.preprocessing.std));
    expected.push_back(torch::softmax(logits, 1)[0][1].item<float>());
  }
  ASSERT_NE(expected[0], expected[1]);
  // Exactly one image reaches it. Midway, not at the larger probability itself: the predictor
  // may run another thread count and batch than this loop, which moves the last bits.
  info.threshold = (expected[0] + expected[1]) / 2;
  const std::string dir = tmp.file("model");
  mw::write_model_dir(dir, *m, info);

  mw::Predictor predictor(dir, mw::PredictorOptions{2, 1});
  std::vector<std::string> with_bad{paths[0], tmp.file("missing.png"), paths[1]};
  std::vector<mw::ImagePrediction> got = predictor.predict_files(with_bad);
  ASSERT_EQ(got.size(), 3u);
  ASSERT_TRUE(got[0].ok) << got[0].error;
  ASSERT_TRUE(got[2].ok) << got[2].error;
  EXPECT_NEAR(got[0].probability, expected[0], 1e-5);
  EXPECT_NEAR(got[2].probability, expected[1], 1e-5);
  EXPECT_EQ(got[0].label, expected[0] >= expected[1] ? 1 : 0);
  EXPECT_EQ(got[2].label, expected[1] >= expected[0] ? 1 : 0);
  EXPECT_FALSE(got[1].ok);
  EXPECT_THAT(got[1].error, HasSubstr("missing.png"));

  // Batched scoring of preprocessed pixels gives the same numbers as one at a time.
  mw::Predictor batched(dir, mw::PredictorOptions{1, 8});
  std::vector<float> probs = batched.predict_pixels(
      {batched.preprocess_file(paths[0]), batched.preprocess_file(paths[1])});
  EXPECT_NEAR(probs[0], expected[0], 1e-5);
  EXPECT_NEAR(probs[1], expected[1], 1e-5);
  EXPECT_THAT(error_of([&] { batched.predict_pixels({std::vector<std::uint8_t>(10)}); }),
              HasSubstr("10 bytes, expected 4800"));
}

TEST(Predictor, ClearErrorsForBrokenFolders) {
  TempDir tmp;
  mw::ResNet50 m = small_model(tmp);
  const std::string dir = tmp.file("model");

  EXPECT_THAT(error_of([&] { mw::Predictor p(dir); }), HasSubstr(dir + "/model.json: missing"));

  mw::write_model_dir(dir, *m, sample_info());
  // Wrong head size: model.json promises 16 hidden units, the file has 8.
  nlohmann::json j = nlohmann::json::parse(mio::read_file(dir + "/model.json"));
  j["architecture"]["dense_units"] = 16;
  mio::write_file_atomic(dir + "/model.json", j.dump());
  std::string err = error_of([&] { mw::Predictor p(dir); });
  EXPECT_THAT(err, HasSubstr("model.safetensors does not match"));
  EXPECT_THAT(err, HasSubstr("dense_units 16"));
  EXPECT_THAT(err, HasSubstr("head.0.weight"));

  // Backbone-only weights (no head.*): refused, not silently given a random head.
  j["architecture"]["dense_units"] = 8;
  mio::write_file_atomic(dir + "/model.json", j.dump());
  mw::write_reference_weights(dir + "/model.safetensors", 5);
  EXPECT_THAT(error_of([&] { mw::Predictor p(dir); }), HasSubstr("no head.* tensors"));

  ::unlink((dir + "/model.safetensors").c_str());
  EXPECT_THAT(error_of([&] { mw::Predictor p(dir); }),
              HasSubstr(dir + "/model.safetensors: missing"));

  // A missing required field in model.json.
  mw::write_model_dir(dir, *m, sample_info());
  j = nlohmann::json::parse(mio::read_file(dir + "/model.json"));
  j["preprocessing"].erase("mean");
  mio::write_file_atomic(dir + "/model.json", j.dump());
  EXPECT_THAT(error_of([&] { mw::Predictor p(dir); }),
              HasSubstr("missing field 'preprocessing.mean'"));
}
