#pragma once
// The exported-model folder: a fine-tuned ResNet50 as a self-contained, deployable unit.
//
// Layout of MODEL_DIR (docs/export-and-predict.md has the long form):
//   model.safetensors  F32 weights: the 318 torchvision backbone keys, then head.0.weight,
//                      head.0.bias, head.3.weight, head.3.bias (save_model_weights), with
//                      __metadata__ mammosweep.model / .dense_units / .num_classes plus the
//                      exporter's entries (trial id, epoch, tool version).
//   model.json         the machine-readable model card. Fields predict needs (all required;
//                      a missing or mistyped one is an error naming the field):
//                        format == "mammosweep-model", format_version == 1,
//                        architecture.{dense_units, dropout, unfrozen_fraction, num_classes},
//                        preprocessing.{image_size, keep_aspect, clahe, window, window_low_pct,
//                                       window_high_pct, mean[3], std[3]},
//                        class_map {name: 0|1}, threshold.
//                      Everything else (trial, selection, metrics, data provenance) is free-form
//                      JSON kept in ModelInfo::extra_json and written back unchanged.
//   MODEL_CARD.md      the human-readable card (optional for reading).
//
// Preprocessing contract (identical to training, see worker/image.h and worker/loader.h):
//   decode_image -> preprocess(PreprocessOptions) -> uint8 HWC RGB -> float / 255 -> NCHW
//   -> (x - mean[c]) / std[c]. The model runs in eval mode (BatchNorm running statistics,
//   no dropout) in float32 on the CPU. Probability = softmax(logits)[:, 1] (class 1 is
//   malignant); the predicted label is 1 iff probability >= threshold.
#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "worker/image.h"
#include "worker/preprocess.h"

namespace mammosweep::worker {

class ResNet50Impl;

/// A problem with a model folder: a missing file, a missing or invalid model.json field,
/// weights that do not match model.json. what() names the file and the field or tensor.
class ModelDirError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline constexpr const char* kModelWeightsFile = "model.safetensors";
inline constexpr const char* kModelJsonFile = "model.json";
inline constexpr const char* kModelCardFile = "MODEL_CARD.md";
inline constexpr int kModelFormatVersion = 1;

/// The model's architecture (what is needed to rebuild the module before loading weights).
struct ModelArchitecture {
  int dense_units = 1024;
  double dropout = 0.5;            // recorded; inactive at inference (eval mode)
  double unfrozen_fraction = 0.5;  // recorded; irrelevant at inference
  int num_classes = 2;             // class 1 is the positive (malignant) class
};

/// How an input image becomes the model's input tensor (see the contract above).
struct ModelPreprocessing {
  PreprocessOptions options;  // image_size, keep_aspect, clahe, window (+ percentiles)
  std::vector<double> mean{0.485, 0.456, 0.406};
  std::vector<double> std{0.229, 0.224, 0.225};
};

/// The typed content of model.json.
struct ModelInfo {
  std::string tool_version;  // mammosweep version that wrote the folder
  ModelArchitecture architecture;
  ModelPreprocessing preprocessing;
  std::map<std::string, int> class_map{{"0", 0}, {"1", 1}};  // dataset label -> class
  double threshold = 0.5;    // probability >= threshold predicts class 1
  /// A JSON object with the remaining top-level keys (trial, selection, metrics, data, ...).
  /// Must not repeat the typed keys above. "{}" when there is nothing more.
  std::string extra_json = "{}";
};

/// model.json text of `info` (pretty-printed, stable key order).
std::string model_info_to_json(const ModelInfo& info);

/// Parses model.json text. `source` names the file in errors. Throws ModelDirError naming
/// the first missing or invalid field, e.g. "M/model.json: missing field
/// 'preprocessing.image_size' (an integer >= 32)".
ModelInfo model_info_from_json(const std::string& text, const std::string& source);

/// Writes MODEL_DIR (created if missing): model.safetensors from `model` (with
/// `weights_metadata`), model.json from `info` and, when `card_markdown` is not empty,
/// MODEL_CARD.md. Every file is written atomically; model.json is written last, so a folder
/// with a model.json is complete. `info.architecture` must match `model`'s options
/// (std::invalid_argument otherwise).
void write_model_dir(const std::string& dir, const ResNet50Impl& model, const ModelInfo& info,
                     const std::string& card_markdown = "",
                     const std::map<std::string, std::string>& weights_metadata = {});

/// Reads and validates DIR/model.json. Throws ModelDirError when the folder or the file is
/// missing or a field is invalid.
ModelInfo read_model_info(const std::string& dir);

struct PredictorOptions {
  int threads = 1;      // decode/preprocess threads in predict_files (torch's intra-op
                        // thread count is the caller's: torch::set_num_threads)
  int batch_size = 16;  // images per forward pass
};

/// The outcome for one image file.
struct ImagePrediction {
  std::string path;
  bool ok = false;
  std::string error;         // set when !ok: the decoding error, naming the file
  double probability = 0.0;  // P(class 1), when ok
  int label = 0;             // probability >= threshold, when ok
};

/// A loaded model folder that scores images. Not copyable; predict calls are const and may
/// run from one thread at a time.
class Predictor {
 public:
  /// Loads DIR/model.json and DIR/model.safetensors into an eval-mode CPU model. Throws
  /// ModelDirError for a missing file, an invalid model.json, or weights that do not match
  /// its architecture (missing head keys, wrong head size, ...).
  explicit Predictor(const std::string& dir, const PredictorOptions& options = {});
  /// Scores with a model in memory and the model.json content that describes it (what
  /// `export` would write): `evaluate` scores exactly the exported model this way. dir() is
  /// empty. The model is put in eval mode.
  Predictor(ModelInfo info, std::shared_ptr<ResNet50Impl> model,
            const PredictorOptions& options = {});
  ~Predictor();
  Predictor(Predictor&&) noexcept;
  Predictor& operator=(Predictor&&) noexcept;

  const ModelInfo& info() const;
  const std::string& dir() const;

  /// decode_image(path) -> preprocess with the recorded options: image_size^2 * 3 bytes
  /// (uint8 HWC RGB). Throws ImageError naming the file.
  std::vector<std::uint8_t> preprocess_file(const std::string& path) const;

  /// P(class 1) for images already preprocessed (each image_size^2 * 3 bytes, uint8 HWC).
  /// Throws std::invalid_argument for a wrong size.
  std::vector<float> predict_pixels(const std::vector<std::vector<std::uint8_t>>& images) const;

  /// Scores image files in order. A file that cannot be decoded gets ok = false and its
  /// error; the others are still scored.
  std::vector<ImagePrediction> predict_files(const std::vector<std::string>& paths) const;

  /// The loaded module (eval mode), for tests and embedding.
  ResNet50Impl& model() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mammosweep::worker
