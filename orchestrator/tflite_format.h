#pragma once
// TF Lite, `export --format tflite` (docs/export-and-predict.md, "TF Lite"): model.tflite
// (float32) and model-int8.tflite (full-integer int8) made from model.onnx by
// deploy/tflite_convert.py (onnx2tf + TensorFlow's TFLiteConverter), run in the deploy venv
// that `scripts/setup --with-deploy` installs, then checked against predict:
//   - the int8 file is calibrated on training images only (calibration_records has no split
//     parameter; the script refuses any other split and any overlap with the scored images);
//   - the float32 file, run by the LiteRT interpreter on every validation image, must give
//     predict's probabilities within kTfliteTolerance, else the export fails and neither
//     .tflite file is left;
//   - predict, float32 and int8 are scored on validation (and on test when `evaluate` has
//     scored this trial and epoch) with bootstrap CIs, and timed on one image.
#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "orchestrator/deploy_formats.h"
#include "results/bootstrap.h"
#include "sweeps/spec.h"
#include "worker/dataset.h"
#include "worker/model_dir.h"

namespace mammosweep::orchestrator {

inline constexpr const char* kTfliteFile = "model.tflite";
inline constexpr const char* kTfliteInt8File = "model-int8.tflite";
inline constexpr const char* kDeployInstall = "scripts/setup --with-deploy";
inline constexpr std::size_t kCalibrationImages = 300;
inline constexpr double kTfliteTolerance = 1e-3;

/// The deploy venv's python ($MAMMOSWEEP_DEPLOY_VENV, else the checkout's .venv-deploy),
/// after checking that it finds the converter's packages (without importing them). Throws
/// InputError naming kDeployInstall when the venv or a package is missing.
std::string deploy_python();

/// The int8 calibration sample: up to kCalibrationImages records of the TRAINING split,
/// spread evenly over its list order. There is deliberately no split parameter.
std::vector<worker::ImageRecord> calibration_records(const std::vector<worker::ImageRecord>& all);

/// One format scored on one split at the model's threshold.
struct DeployScore {
  std::string format;  // "safetensors" (predict), "tflite", "tflite-int8"
  std::string split;   // "val", "test"
  std::size_t images = 0;
  results::BootstrapResult ci;
};

/// What the conversion and its checks found; model.json's `deploy_checks` and the card.
struct TfliteReport {
  std::vector<DeployScore> scores;
  double max_abs_diff = 0.0;  // |tflite float32 - predict| over the validation images
  std::size_t calibration_images = 0;
  std::map<std::string, double> latency_ms;  // format -> median single-image time
  int latency_runs = 0;
  std::string latency_machine;  // CPU model and load average while timing
  double conversion_s = 0.0;
  std::string converter;        // package versions
  std::string int8_io;          // the int8 file's input/output quantisation
};

struct TfliteRequest {
  std::string model_dir;  // holds model.onnx (written just before)
  const worker::Predictor* predictor = nullptr;  // the exported model, as predict runs it
  const sweeps::DataSpec* data = nullptr;
  results::BootstrapOptions bootstrap;  // threshold = the model's
  bool score_test = false;  // `evaluate` has scored this trial and epoch on test
};

/// Converts and checks (see above); returns the two files, fills `report`. Throws InputError
/// for a missing venv or bad data, std::runtime_error when the conversion fails or the
/// float32 file disagrees with predict (the .tflite files are then removed).
std::vector<FormatFile> write_tflite(const TfliteRequest& request, TfliteReport* report);

/// `report` as model.json's `deploy_checks` (JSON text).
std::string tflite_report_json(const TfliteReport& report);

/// The card's "Deployment checks" section (Markdown).
std::string tflite_report_markdown(const TfliteReport& report);

}  // namespace mammosweep::orchestrator
