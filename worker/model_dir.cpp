#include "worker/model_dir.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <nlohmann/json.hpp>
#include <thread>

#include "io/files.h"
#include "worker/augment.h"
#include "worker/resnet50.h"
#include "worker/safetensors.h"
#include "worker/weights.h"

namespace mammosweep::worker {

namespace {

using ojson = nlohmann::ordered_json;

const char* window_name(PreprocessOptions::Window w) {
  return w == PreprocessOptions::Window::percentile ? "percentile" : "minmax";
}


/// Reads required fields of model.json with errors that name the file and the field.
class FieldReader {
 public:
  explicit FieldReader(std::string source) : source_(std::move(source)) {}

  const ojson& object(const ojson& parent, const std::string& path, const std::string& key) const {
    const ojson& v = field(parent, path, key, "an object");
    if (!v.is_object()) fail(path, key, "an object", v);
    return v;
  }
  std::int64_t integer(const ojson& parent, const std::string& path, const std::string& key,
                       std::int64_t min, std::int64_t max) const {
    const std::string want = fmt::format("an integer in [{}, {}]", min, max);
    const ojson& v = field(parent, path, key, want);
    if (!v.is_number_integer() || v.get<std::int64_t>() < min || v.get<std::int64_t>() > max) {
      fail(path, key, want, v);
    }
    return v.get<std::int64_t>();
  }
  double real(const ojson& parent, const std::string& path, const std::string& key, double min,
              double max) const {
    const std::string want = fmt::format("a number in [{}, {}]", min, max);
    const ojson& v = field(parent, path, key, want);
    if (!v.is_number() || !(v.get<double>() >= min && v.get<double>() <= max)) {
      fail(path, key, want, v);
    }
    return v.get<double>();
  }
  bool boolean(const ojson& parent, const std::string& path, const std::string& key) const {
    const ojson& v = field(parent, path, key, "true or false");
    if (!v.is_boolean()) fail(path, key, "true or false", v);
    return v.get<bool>();
  }
  std::string string(const ojson& parent, const std::string& path, const std::string& key,
                     const std::vector<std::string>& choices = {}) const {
    std::string want = "a string";
    if (!choices.empty()) {
      want = "one of";
      for (const auto& c : choices) want += " \"" + c + "\"";
    }
    const ojson& v = field(parent, path, key, want);
    if (!v.is_string()) fail(path, key, want, v);
    const std::string s = v.get<std::string>();
    if (!choices.empty() && std::find(choices.begin(), choices.end(), s) == choices.end()) {
      fail(path, key, want, v);
    }
    return s;
  }
  std::vector<double> triple(const ojson& parent, const std::string& path, const std::string& key,
                             bool positive) const {
    const std::string want = positive ? "a list of 3 numbers > 0" : "a list of 3 numbers";
    const ojson& v = field(parent, path, key, want);
    if (!v.is_array() || v.size() != 3) fail(path, key, want, v);
    std::vector<double> out;
    for (const auto& x : v) {
      if (!x.is_number() || (positive && !(x.get<double>() > 0))) fail(path, key, want, v);
      out.push_back(x.get<double>());
    }
    return out;
  }
  const std::string& source() const { return source_; }

 private:
  static std::string full(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }
  const ojson& field(const ojson& parent, const std::string& path, const std::string& key,
                     const std::string& want) const {
    auto it = parent.find(key);
    if (it == parent.end()) {
      throw ModelDirError(
          fmt::format("{}: missing field '{}' ({})", source_, full(path, key), want));
    }
    return *it;
  }
  [[noreturn]] void fail(const std::string& path, const std::string& key, const std::string& want,
                         const ojson& got) const {
    throw ModelDirError(fmt::format("{}: field '{}' must be {}, got {}", source_,
                                    full(path, key), want, got.dump()));
  }

  std::string source_;
};

const std::vector<std::string> kTypedKeys{"format",        "format_version", "tool_version",
                                          "weights_file",  "architecture",   "preprocessing",
                                          "class_map",     "threshold"};

}  // namespace

std::string model_info_to_json(const ModelInfo& info) {
  ojson j;
  j["format"] = "mammosweep-model";
  j["format_version"] = kModelFormatVersion;
  j["tool_version"] = info.tool_version;
  j["weights_file"] = kModelWeightsFile;
  const auto& a = info.architecture;
  j["architecture"] = {{"name", "resnet50"},
                       {"dense_units", a.dense_units},
                       {"dropout", a.dropout},
                       {"unfrozen_fraction", a.unfrozen_fraction},
                       {"num_classes", a.num_classes},
                       {"positive_class", 1},
                       {"output", "logits; probability = softmax(logits)[1]"}};
  const auto& p = info.preprocessing;
  j["preprocessing"] = {{"decode", "JPEG/PNG/PGM/DICOM (MONOCHROME1 inverted); gray copied to "
                                   "RGB; alpha dropped"},
                        {"image_size", p.options.image_size},
                        {"keep_aspect", p.options.keep_aspect},
                        {"clahe", p.options.clahe},
                        {"window", window_name(p.options.window)},
                        {"window_low_pct", p.options.window_low_pct},
                        {"window_high_pct", p.options.window_high_pct},
                        {"scale", "1/255"},
                        {"mean", p.mean},
                        {"std", p.std},
                        {"channel_order", "RGB"},
                        {"layout", "NCHW"}};
  ojson cm = ojson::object();
  for (const auto& [name, cls] : info.class_map) cm[name] = cls;
  j["class_map"] = cm;
  j["threshold"] = info.threshold;
  ojson extra = ojson::parse(info.extra_json.empty() ? std::string("{}") : info.extra_json);
  if (!extra.is_object()) throw std::invalid_argument("ModelInfo::extra_json must be a JSON object");
  for (auto it = extra.begin(); it != extra.end(); ++it) {
    if (std::find(kTypedKeys.begin(), kTypedKeys.end(), it.key()) != kTypedKeys.end()) {
      throw std::invalid_argument("ModelInfo::extra_json repeats the typed key '" + it.key() + "'");
    }
    j[it.key()] = it.value();
  }
  return j.dump(2) + "\n";
}

ModelInfo model_info_from_json(const std::string& text, const std::string& source) {
  ojson j;
  try {
    j = ojson::parse(text);
  } catch (const std::exception& e) {
    throw ModelDirError(fmt::format("{}: not valid JSON: {}", source, e.what()));
  }
  if (!j.is_object()) throw ModelDirError(fmt::format("{}: expected a JSON object", source));
  FieldReader r(source);
  r.string(j, "", "format", {"mammosweep-model"});
  const std::int64_t version = r.integer(j, "", "format_version", 1, 1000000);
  if (version != kModelFormatVersion) {
    throw ModelDirError(fmt::format("{}: format_version {} is not supported (this mammosweep reads "
                                    "version {}); export the model again with this version",
                                    source, version, kModelFormatVersion));
  }
  ModelInfo info;
  if (auto it = j.find("tool_version"); it != j.end() && it->is_string()) {
    info.tool_version = it->get<std::string>();
  }
  const ojson& a = r.object(j, "", "architecture");
  info.architecture.dense_units = static_cast<int>(r.integer(a, "architecture", "dense_units", 1, 1 << 20));
  info.architecture.dropout = r.real(a, "architecture", "dropout", 0.0, 0.999999);
  info.architecture.unfrozen_fraction = r.real(a, "architecture", "unfrozen_fraction", 0.0, 1.0);
  info.architecture.num_classes = static_cast<int>(r.integer(a, "architecture", "num_classes", 2, 2));
  const ojson& p = r.object(j, "", "preprocessing");
  auto& po = info.preprocessing.options;
  po.image_size = static_cast<int>(r.integer(p, "preprocessing", "image_size", 32, 4096));
  po.keep_aspect = r.boolean(p, "preprocessing", "keep_aspect");
  po.clahe = r.boolean(p, "preprocessing", "clahe");
  po.window = r.string(p, "preprocessing", "window", {"minmax", "percentile"}) == "percentile"
                  ? PreprocessOptions::Window::percentile
                  : PreprocessOptions::Window::minmax;
  po.window_low_pct = r.real(p, "preprocessing", "window_low_pct", 0.0, 100.0);
  po.window_high_pct = r.real(p, "preprocessing", "window_high_pct", 0.0, 100.0);
  info.preprocessing.mean = r.triple(p, "preprocessing", "mean", false);
  info.preprocessing.std = r.triple(p, "preprocessing", "std", true);
  const ojson& cm = r.object(j, "", "class_map");
  info.class_map.clear();
  for (auto it = cm.begin(); it != cm.end(); ++it) {
    info.class_map[it.key()] = static_cast<int>(r.integer(cm, "class_map", it.key(), 0, 1));
  }
  info.threshold = r.real(j, "", "threshold", 0.0, 1.0);
  ojson extra = ojson::object();
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (std::find(kTypedKeys.begin(), kTypedKeys.end(), it.key()) == kTypedKeys.end()) {
      extra[it.key()] = it.value();
    }
  }
  info.extra_json = extra.dump();
  return info;
}

void write_model_dir(const std::string& dir, const ResNet50Impl& model, const ModelInfo& info,
                     const std::string& card_markdown,
                     const std::map<std::string, std::string>& weights_metadata) {
  const ResNet50Options& mo = model.options();
  if (mo.dense_units != info.architecture.dense_units ||
      mo.num_classes != info.architecture.num_classes) {
    throw std::invalid_argument(fmt::format(
        "write_model_dir({}): the model has dense_units {} and num_classes {}, but the model "
        "info says {} and {}",
        dir, mo.dense_units, mo.num_classes, info.architecture.dense_units,
        info.architecture.num_classes));
  }
  const std::string json = model_info_to_json(info);  // validates extra_json before writing
  io::make_dirs(dir);
  save_model_weights(model, io::join_path(dir, kModelWeightsFile), weights_metadata);
  if (!card_markdown.empty()) io::write_file_atomic(io::join_path(dir, kModelCardFile), card_markdown);
  io::write_file_atomic(io::join_path(dir, kModelJsonFile), json);
}

ModelInfo read_model_info(const std::string& dir) {
  const std::string path = io::join_path(dir, kModelJsonFile);
  if (!io::file_exists(path)) {
    throw ModelDirError(fmt::format(
        "{}: missing (is {} a model folder written by `mammosweep export`?)", path, dir));
  }
  std::string text;
  try {
    text = io::read_file(path);
  } catch (const std::exception& e) {
    throw ModelDirError(e.what());
  }
  return model_info_from_json(text, path);
}

struct Predictor::Impl {
  std::string dir;
  PredictorOptions options;
  ModelInfo info;
  ResNet50 model{nullptr};
};

namespace {

void check_predictor_options(const PredictorOptions& options) {
  if (options.threads < 1 || options.batch_size < 1) {
    throw std::invalid_argument(fmt::format("Predictor: threads {} and batch_size {} must be >= 1",
                                            options.threads, options.batch_size));
  }
}

}  // namespace

Predictor::Predictor(ModelInfo info, std::shared_ptr<ResNet50Impl> model,
                     const PredictorOptions& options)
    : impl_(std::make_unique<Impl>()) {
  check_predictor_options(options);
  if (!model) throw std::invalid_argument("Predictor: no model");
  impl_->options = options;
  impl_->info = std::move(info);
  impl_->model = ResNet50(std::move(model));
  impl_->model->eval();
}

Predictor::Predictor(const std::string& dir, const PredictorOptions& options)
    : impl_(std::make_unique<Impl>()) {
  check_predictor_options(options);
  impl_->dir = dir;
  impl_->options = options;
  impl_->info = read_model_info(dir);
  const std::string weights = io::join_path(dir, kModelWeightsFile);
  if (!io::file_exists(weights)) {
    throw ModelDirError(fmt::format("{}: missing (the model folder {} has a model.json but no "
                                    "weights; export it again)",
                                    weights, dir));
  }
  const ModelArchitecture& a = impl_->info.architecture;
  ResNet50Options mo;
  mo.dense_units = a.dense_units;
  mo.dropout = a.dropout;
  mo.unfrozen_fraction = a.unfrozen_fraction;
  mo.num_classes = a.num_classes;
  impl_->model = ResNet50(mo);
  LoadWeightsReport report;
  try {
    report = load_weights(*impl_->model, weights);
  } catch (const WeightsError& e) {
    throw ModelDirError(fmt::format(
        "{} does not match {}/model.json (architecture.dense_units {}, num_classes {}): {}",
        weights, dir, a.dense_units, a.num_classes, e.what()));
  }
  if (!report.head_loaded) {
    throw ModelDirError(fmt::format(
        "{}: no head.* tensors (a backbone-only weights file?); an exported model needs "
        "head.0.weight, head.0.bias, head.3.weight and head.3.bias",
        weights));
  }
  impl_->model->eval();
}

Predictor::~Predictor() = default;
Predictor::Predictor(Predictor&&) noexcept = default;
Predictor& Predictor::operator=(Predictor&&) noexcept = default;

const ModelInfo& Predictor::info() const { return impl_->info; }
const std::string& Predictor::dir() const { return impl_->dir; }
ResNet50Impl& Predictor::model() const { return *impl_->model; }

std::vector<std::uint8_t> Predictor::preprocess_file(const std::string& path) const {
  return preprocess(decode_image(path), impl_->info.preprocessing.options);
}

std::vector<float> Predictor::predict_pixels(
    const std::vector<std::vector<std::uint8_t>>& images) const {
  const int s = impl_->info.preprocessing.options.image_size;
  const std::size_t bytes = static_cast<std::size_t>(s) * s * 3;
  for (std::size_t i = 0; i < images.size(); ++i) {
    if (images[i].size() != bytes) {
      throw std::invalid_argument(fmt::format(
          "predict_pixels: image {} has {} bytes, expected {} ({}x{}x3 uint8 HWC)", i,
          images[i].size(), bytes, s, s));
    }
  }
  std::vector<float> out;
  out.reserve(images.size());
  torch::NoGradGuard no_grad;
  const std::size_t bs = static_cast<std::size_t>(impl_->options.batch_size);
  for (std::size_t begin = 0; begin < images.size(); begin += bs) {
    const std::size_t end = std::min(images.size(), begin + bs);
    const auto n = static_cast<std::int64_t>(end - begin);
    torch::Tensor raw = torch::empty({n, s, s, 3}, torch::TensorOptions().dtype(torch::kByte));
    auto* dst = raw.data_ptr<std::uint8_t>();
    for (std::size_t i = begin; i < end; ++i) {
      std::memcpy(dst + (i - begin) * bytes, images[i].data(), bytes);
    }
    torch::Tensor x = raw.permute({0, 3, 1, 2}).to(torch::kFloat).div_(255.0);
    x = normalize(x, impl_->info.preprocessing.mean, impl_->info.preprocessing.std).contiguous();
    torch::Tensor p = impl_->model->forward(x).to(torch::kFloat).softmax(1).select(1, 1).contiguous();
    const float* pp = p.data_ptr<float>();
    out.insert(out.end(), pp, pp + n);
  }
  return out;
}

std::vector<ImagePrediction> Predictor::predict_files(const std::vector<std::string>& paths) const {
  std::vector<ImagePrediction> out(paths.size());
  std::vector<std::vector<std::uint8_t>> pixels(paths.size());
  // Decode + preprocess in parallel (each index is written by exactly one thread).
  std::atomic<std::size_t> next{0};
  auto work = [&]() {
    for (std::size_t i = next++; i < paths.size(); i = next++) {
      out[i].path = paths[i];
      try {
        pixels[i] = preprocess_file(paths[i]);
        out[i].ok = true;
      } catch (const std::exception& e) {
        out[i].error = e.what();
      }
    }
  };
  const std::size_t nthreads =
      std::min<std::size_t>(static_cast<std::size_t>(impl_->options.threads), paths.size());
  std::vector<std::thread> threads;
  for (std::size_t t = 1; t < nthreads; ++t) threads.emplace_back(work);
  work();
  for (auto& t : threads) t.join();

  std::vector<std::vector<std::uint8_t>> good;
  std::vector<std::size_t> where;
  for (std::size_t i = 0; i < paths.size(); ++i) {
    if (out[i].ok) {
      good.push_back(std::move(pixels[i]));
      where.push_back(i);
    }
  }
  std::vector<float> probs = predict_pixels(good);
  for (std::size_t k = 0; k < where.size(); ++k) {
    ImagePrediction& r = out[where[k]];
    r.probability = probs[k];
    r.label = r.probability >= impl_->info.threshold ? 1 : 0;
  }
  return out;
}

}  // namespace mammosweep::worker
