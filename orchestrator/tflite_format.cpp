#include "orchestrator/tflite_format.h"

#include <ATen/Parallel.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <utility>

#include "io/disk.h"
#include "io/files.h"
#include "io/process.h"
#include "orchestrator/model_card.h"
#include "orchestrator/sweep_results.h"
#include "worker/data.h"

namespace mammosweep::orchestrator {
namespace {

using json = nlohmann::json;
using Pixels = std::vector<std::vector<std::uint8_t>>;

std::string deploy_venv() {
  if (const char* env = std::getenv("MAMMOSWEEP_DEPLOY_VENV"); env != nullptr && *env != '\0') {
    return env;
  }
  return MAMMOSWEEP_DEPLOY_VENV_DEFAULT;
}

/// Preprocesses `records` as predict does and writes them to `file` as uint8 [n, S, S, 3].
Pixels write_pixels(const worker::Predictor& predictor,
                    const std::vector<worker::ImageRecord>& records, const std::string& file) {
  Pixels images;
  std::string bytes;
  for (const auto& r : records) {
    try {
      images.push_back(predictor.preprocess_file(r.path));
    } catch (const std::exception& e) {
      throw InputError(e.what());
    }
    bytes.append(images.back().begin(), images.back().end());
  }
  io::write_file_atomic(file, bytes);
  return images;
}

json split_entry(const std::string& split, const std::string& pixels,
                 const std::vector<worker::ImageRecord>& records) {
  json paths = json::array();
  for (const auto& r : records) paths.push_back(r.path);
  return {{"split", split}, {"pixels", pixels}, {"paths", paths}};
}

std::vector<worker::ImageRecord> of_split(const std::vector<worker::ImageRecord>& all,
                                          const std::string& split) {
  std::vector<worker::ImageRecord> out;
  for (const auto& r : all) {
    if (r.split == split) out.push_back(r);
  }
  return out;
}

results::Predictions predictions(const std::vector<worker::ImageRecord>& records,
                                 const std::vector<float>& scores) {
  results::Predictions p;
  for (const auto& r : records) p.labels.push_back(static_cast<std::int8_t>(r.label));
  p.scores = scores;
  return p;
}

std::vector<float> floats(const json& values) {
  std::vector<float> out;
  for (const auto& v : values) out.push_back(v.get<float>());
  return out;
}

/// Median single-image forward time of predict's model (LibTorch), one thread.
double predict_latency_ms(const worker::Predictor& predictor, const std::vector<std::uint8_t>& image,
                          int runs) {
  const int threads = at::get_num_threads();
  at::set_num_threads(1);
  std::vector<double> ms;
  for (int i = 0; i < runs + 3; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    predictor.predict_pixels({image});
    const std::chrono::duration<double, std::milli> d = std::chrono::steady_clock::now() - t0;
    if (i >= 3) ms.push_back(d.count());  // the first runs warm caches up
  }
  at::set_num_threads(threads);
  std::sort(ms.begin(), ms.end());
  const std::size_t n = ms.size();
  return n % 2 == 1 ? ms[n / 2] : (ms[n / 2 - 1] + ms[n / 2]) / 2.0;
}

std::string quant_text(const json& t) {
  return t["dtype"] == "int8" ? fmt::format("int8 {} (scale {:.6g}, zero point {})",
                                            t["shape"].dump(), t["scale"].get<double>(),
                                            t["zero_point"].get<int>())
                              : fmt::format("{} {}", t["dtype"].get<std::string>(), t["shape"].dump());
}

json interval(const results::Interval& i) {
  auto num = [](double v) { return std::isfinite(v) ? json(v) : json(nullptr); };
  return {{"point", num(i.point)}, {"lo", num(i.lo)}, {"hi", num(i.hi)}};
}

std::string cell(const results::Interval& i) {
  return fmt::format("{} ({}–{})", fmt3(i.point), fmt3(i.lo), fmt3(i.hi));
}

const DeployScore* find_score(const TfliteReport& r, const std::string& format,
                              const std::string& split) {
  for (const auto& s : r.scores) {
    if (s.format == format && s.split == split) return &s;
  }
  return nullptr;
}

std::string trimmed(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())) != 0) s.pop_back();
  return s;
}

std::string signed3(double v) { return std::isfinite(v) ? fmt::format("{:+.3f}", v) : "n/a"; }

}  // namespace

std::string deploy_python() {
  const std::string venv = deploy_venv();
  const std::string python = io::join_path(venv, "bin/python");
  if (!io::file_exists(python)) {
    throw InputError(fmt::format(
        "--format tflite needs the deploy extra (TensorFlow, onnx2tf, ai-edge-litert), which is "
        "not installed: {} is missing. Install it with `{}` (or point MAMMOSWEEP_DEPLOY_VENV at "
        "a venv that has it)", python, kDeployInstall));
  }
  const io::ProcessResult r = io::run_process(
      {python, "-c",
       "import importlib.util as u, sys\n"
       "m = [p for p in ('onnx2tf', 'tensorflow', 'ai_edge_litert', 'onnxruntime') "
       "if u.find_spec(p) is None]\n"
       "print(' '.join(m)); sys.exit(1 if m else 0)"});
  if (r.exit_code != 0) {
    throw InputError(fmt::format("--format tflite: the deploy venv {} lacks {}; install it with "
                                 "`{}`", venv, trimmed(r.out.empty() ? r.err : r.out), kDeployInstall));
  }
  return python;
}

std::vector<worker::ImageRecord> calibration_records(const std::vector<worker::ImageRecord>& all) {
  const std::vector<worker::ImageRecord> train = of_split(all, "train");
  const std::size_t n = std::min(train.size(), kCalibrationImages);
  std::vector<worker::ImageRecord> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(train[i * train.size() / n]);
  return out;
}

std::vector<FormatFile> write_tflite(const TfliteRequest& req, TfliteReport* report) {
  const std::string python = deploy_python();
  const worker::Predictor& predictor = *req.predictor;
  const std::string work = io::join_path(io::absolute_path(req.model_dir), ".tflite-work");
  io::remove_tree(work);
  io::make_dirs(work);
  struct Cleanup {
    std::string dir;
    bool keep = false;  // a failed conversion leaves its files for a look (the next export removes them)
    ~Cleanup() {
      try {
        if (!keep) io::remove_tree(dir);
      } catch (...) {  // best effort: a leftover work folder is removed by the next export
      }
    }
  } cleanup{work};

  std::vector<worker::ImageRecord> all;
  try {
    all = worker::list_dataset(*req.data);
  } catch (const std::exception& e) {
    throw InputError(fmt::format("cannot list the dataset {}: {}", req.data->root, e.what()));
  }
  const auto calibration = calibration_records(all);
  std::vector<std::pair<std::string, std::vector<worker::ImageRecord>>> eval{
      {"val", of_split(all, "val")}};
  if (req.score_test) eval.emplace_back("test", of_split(all, "test"));
  if (eval[0].second.empty()) throw InputError(fmt::format("{}: the val split has no image", req.data->root));

  const std::string cal_file = io::join_path(work, "train.u8");
  write_pixels(predictor, calibration, cal_file);
  std::map<std::string, Pixels> pixels;
  json job = {{"onnx", io::join_path(req.model_dir, kOnnxFile)},
              {"out_dir", req.model_dir},
              {"work_dir", work},
              {"image_size", predictor.info().preprocessing.options.image_size},
              {"latency_runs", 30},
              {"calibration", split_entry("train", cal_file, calibration)},
              {"eval", json::array()}};
  for (const auto& [split, records] : eval) {
    const std::string file = io::join_path(work, split + ".u8");
    pixels[split] = write_pixels(predictor, records, file);
    job["eval"].push_back(split_entry(split, file, records));
  }
  const std::string job_file = io::join_path(work, "job.json");
  const std::string result_file = io::join_path(work, "result.json");
  io::write_file_atomic(job_file, job.dump());

  const std::vector<std::string> files{io::join_path(req.model_dir, kTfliteFile),
                                       io::join_path(req.model_dir, kTfliteInt8File)};
  auto remove_outputs = [&files]() {
    for (const auto& f : files) io::remove_tree(f);
  };
  const std::vector<std::string> argv{python, MAMMOSWEEP_TFLITE_SCRIPT, job_file, result_file};
  const io::ProcessResult r = io::run_process(argv);
  if (r.exit_code != 0) {
    remove_outputs();
    const std::string err = r.err.size() > 4000 ? "..." + r.err.substr(r.err.size() - 4000) : r.err;
    if (r.exit_code == 2 || r.exit_code == 3) throw InputError(fmt::format("TF Lite: {}", err));
    cleanup.keep = true;
    throw std::runtime_error(fmt::format("the TF Lite conversion failed (exit {}; its files are "
                                         "in {}, the command is `{}`): {}", r.exit_code, work,
                                         io::command_text(argv), err));
  }
  const json result = json::parse(io::read_file(result_file));
  const json& models = result["models"];

  TfliteReport& rep = *report;
  rep = TfliteReport{};
  rep.calibration_images = result["calibration"]["images"].get<std::size_t>();
  rep.conversion_s = result["conversion_s"].get<double>();
  for (const auto& [package, version] : result["converter"].items()) {
    rep.converter += fmt::format("{}{} {}", rep.converter.empty() ? "" : ", ", package,
                                 version.get<std::string>());
  }
  const json& lat = result["latency"];
  rep.latency_runs = lat["runs"].get<int>();
  rep.latency_machine = fmt::format("{}, load average {:.2f}", lat["cpu"].get<std::string>(),
                                    lat["load_average"][0].get<double>());
  const json& q = models["tflite-int8"];
  rep.int8_io = fmt::format("input {}; output `{}` {}", quant_text(q["input"]),
                            q["output"]["name"].get<std::string>(), quant_text(q["output"]));

  // predict's probabilities, the reference of every comparison.
  std::map<std::string, std::vector<float>> want;
  for (const auto& [split, images] : pixels) want[split] = predictor.predict_pixels(images);
  const std::vector<float> fp32 = floats(models["tflite"]["p"]["val"]);
  if (fp32.size() != want["val"].size()) {
    remove_outputs();
    throw std::runtime_error(fmt::format("TF Lite: {} validation probabilities for {} images",
                                         fp32.size(), want["val"].size()));
  }
  for (std::size_t i = 0; i < fp32.size(); ++i) {
    rep.max_abs_diff = std::max(rep.max_abs_diff, std::abs(static_cast<double>(fp32[i]) - want["val"][i]));
  }
  if (!(rep.max_abs_diff <= kTfliteTolerance)) {
    remove_outputs();
    throw std::runtime_error(fmt::format(
        "TF Lite: {} differs from predict by up to {:.3g} on the validation images (allowed "
        "{}): not written", kTfliteFile, rep.max_abs_diff, kTfliteTolerance));
  }
  for (const auto& [split, records] : eval) {
    for (const char* format : {"safetensors", "tflite", "tflite-int8"}) {
      const std::vector<float> scores =
          std::string(format) == "safetensors" ? want[split] : floats(models[format]["p"][split]);
      DeployScore s{format, split, records.size(), {}};
      s.ci = results::bootstrap_ci(predictions(records, scores), req.bootstrap);
      rep.scores.push_back(s);
    }
  }
  rep.latency_ms["safetensors"] = predict_latency_ms(predictor, pixels["val"][0], rep.latency_runs);
  for (const char* format : {"onnx", "tflite", "tflite-int8"}) {
    rep.latency_ms[format] = models[format]["latency_ms"].get<double>();
  }

  return {{"tflite", kTfliteFile, io::tree_bytes(files[0]),
           fmt::format("float32, batch 1, NHWC input [1, S, S, 3] pixel / 255; LiteRT == predict "
                       "within {:.1e} on val (max {:.1e})", kTfliteTolerance, rep.max_abs_diff)},
          {"tflite-int8", kTfliteInt8File, io::tree_bytes(files[1]),
           fmt::format("full-integer int8 (int8 ops, int8 input and output), calibrated on {} "
                       "training images; accuracy cost below", rep.calibration_images)}};
}

std::string tflite_report_json(const TfliteReport& r) {
  json scores = json::array();
  for (const auto& s : r.scores) {
    scores.push_back({{"format", s.format}, {"split", s.split}, {"images", s.images},
                      {"auc", interval(s.ci.auc)}, {"sensitivity", interval(s.ci.sensitivity)},
                      {"specificity", interval(s.ci.specificity)},
                      {"confidence", s.ci.confidence}, {"resamples", s.ci.resamples}});
  }
  return json{{"tflite_max_abs_diff_vs_predict", r.max_abs_diff},
              {"tolerance", kTfliteTolerance},
              {"calibration", {{"split", "train"}, {"images", r.calibration_images}}},
              {"int8_io", r.int8_io},
              {"scores", scores},
              {"latency_ms", r.latency_ms},
              {"latency", {{"runs", r.latency_runs}, {"threads", 1}, {"machine", r.latency_machine}}},
              {"conversion_s", r.conversion_s},
              {"converter", r.converter}}
      .dump();
}

std::string tflite_report_markdown(const TfliteReport& r) {
  std::string md = "\n## Deployment checks (TF Lite)\n\n";
  md += fmt::format(
      "- `{}` (float32) run by the LiteRT interpreter gives predict's probabilities on every "
      "validation image within {:.1e} (max difference {:.1e}).\n",
      kTfliteFile, kTfliteTolerance, r.max_abs_diff);
  md += fmt::format("- `{}` is full-integer int8, calibrated on {} images of the **training** "
                    "split only; {}.\n", kTfliteInt8File, r.calibration_images, r.int8_io);
  md += fmt::format("- converted with {} in {:.0f} s.\n", r.converter, r.conversion_s);
  md += "\nScores at the model's threshold, 95 % bootstrap CIs:\n\n"
        "| split | format | images | AUC | sensitivity | specificity |\n|---|---|---|---|---|---|\n";
  for (const auto& s : r.scores) {
    md += fmt::format("| {} | {} | {} | {} | {} | {} |\n", s.split, s.format, s.images,
                      cell(s.ci.auc), cell(s.ci.sensitivity), cell(s.ci.specificity));
  }
  md += "\n";
  for (const char* split : {"val", "test"}) {
    const DeployScore* f = find_score(r, "tflite", split);
    const DeployScore* q = find_score(r, "tflite-int8", split);
    if (f == nullptr || q == nullptr) continue;
    md += fmt::format("**int8 - float32 on {}:** AUC {}, sensitivity {}, specificity {}.\n\n",
                      split, signed3(q->ci.auc.point - f->ci.auc.point),
                      signed3(q->ci.sensitivity.point - f->ci.sensitivity.point),
                      signed3(q->ci.specificity.point - f->ci.specificity.point));
  }
  md += fmt::format("Single-image CPU latency, 1 thread, median of {} runs ({}): ", r.latency_runs,
                    r.latency_machine);
  std::string parts;
  for (const char* f : {"safetensors", "onnx", "tflite", "tflite-int8"}) {
    const auto it = r.latency_ms.find(f);
    if (it == r.latency_ms.end()) continue;
    parts += fmt::format("{}{} {:.2f} ms", parts.empty() ? "" : ", ", f, it->second);
  }
  md += parts + " (safetensors: LibTorch as predict runs it; onnx: onnxruntime; tflite: LiteRT).\n";
  return md;
}

}  // namespace mammosweep::orchestrator
