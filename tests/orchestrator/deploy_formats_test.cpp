// The format list of `export --format` and the TF Lite calibration sample
// (orchestrator/deploy_formats.h, orchestrator/tflite_format.h).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "orchestrator/deploy_formats.h"
#include "orchestrator/sweep_results.h"
#include "orchestrator/tflite_format.h"

namespace mammosweep::orchestrator {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ParseFormats, SafetensorsFirstNoRepeats) {
  EXPECT_THAT(parse_formats(""), ElementsAre("safetensors"));
  EXPECT_THAT(parse_formats("onnx,safetensors,onnx"), ElementsAre("safetensors", "onnx"));
}

TEST(ParseFormats, TfliteBringsItsOnnxSource) {
  EXPECT_THAT(parse_formats("tflite"), ElementsAre("safetensors", "onnx", "tflite"));
  EXPECT_THAT(parse_formats("tflite,onnx"), ElementsAre("safetensors", "onnx", "tflite"));
  EXPECT_THAT(parse_formats("onnx,tflite"), ElementsAre("safetensors", "onnx", "tflite"));
}

TEST(ParseFormats, UnknownFormatNamesTheKnownOnes) {
  try {
    parse_formats("onnx,coreml");
    FAIL() << "coreml was accepted";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), HasSubstr("unknown format 'coreml' (known: safetensors, onnx, tflite)"));
  }
}

std::vector<worker::ImageRecord> records(int n) {
  // Splits in a repeating pattern: 3 train, 1 val, 1 test.
  std::vector<worker::ImageRecord> out;
  for (int i = 0; i < n; ++i) {
    const char* split = i % 5 < 3 ? "train" : (i % 5 == 3 ? "val" : "test");
    out.push_back({"img" + std::to_string(i) + ".png", i % 2, split, ""});
  }
  return out;
}

TEST(CalibrationRecords, OnlyTrainingImagesCappedAndSpread) {
  const auto all = records(1000);  // 600 train
  const auto cal = calibration_records(all);
  ASSERT_EQ(cal.size(), kCalibrationImages);
  std::set<std::string> paths;
  for (const auto& r : cal) {
    EXPECT_EQ(r.split, "train") << r.path;
    paths.insert(r.path);
  }
  EXPECT_EQ(paths.size(), cal.size()) << "an image was drawn twice";
  // Spread over the whole list, not its first 300 training images.
  EXPECT_EQ(cal.front().path, "img0.png");
  EXPECT_GT(std::stoi(cal.back().path.substr(3)), 900);
}

TEST(CalibrationRecords, FewTrainingImagesAreAllUsedAndNoOtherSplit) {
  const auto all = records(20);  // 12 train, 4 val, 4 test
  const auto cal = calibration_records(all);
  ASSERT_EQ(cal.size(), 12u);
  for (const auto& r : cal) EXPECT_EQ(r.split, "train") << r.path;
  std::vector<worker::ImageRecord> no_train;
  for (const auto& r : all) {
    if (r.split != "train") no_train.push_back(r);
  }
  EXPECT_TRUE(calibration_records(no_train).empty());
}

}  // namespace
}  // namespace mammosweep::orchestrator
