#include "orchestrator/deploy_formats.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstdlib>

#include "io/disk.h"
#include "io/files.h"
#include "io/process.h"
#include "orchestrator/sweep_results.h"
#include "orchestrator/tflite_format.h"

namespace mammosweep::orchestrator {
namespace {

const std::vector<std::string>& known_formats() {
  static const std::vector<std::string> known{"safetensors", "onnx", "tflite"};
  return known;
}

FormatFile write_onnx(const std::string& dir, const worker::ModelInfo& info) {
  const worker::ModelPreprocessing& p = info.preprocessing;
  const std::string out = io::join_path(dir, kOnnxFile);
  std::vector<std::string> argv{onnx_writer_path(),
                                "--weights", io::join_path(dir, worker::kModelWeightsFile),
                                "--out", out,
                                "--image-size", std::to_string(p.options.image_size),
                                "--producer-version", MAMMOSWEEP_VERSION,
                                "--meta", fmt::format("threshold={}", info.threshold),
                                "--meta", "input=NCHW float32 RGB pixel/255; normalisation in graph",
                                "--mean"};
  for (const double m : p.mean) argv.push_back(fmt::format("{}", m));
  argv.push_back("--std");
  for (const double s : p.std) argv.push_back(fmt::format("{}", s));
  io::ProcessResult r;
  try {
    r = io::run_process(argv);
  } catch (const io::ProcessError& e) {
    throw InputError(fmt::format("{} (the ONNX writer is built with mammosweep; set "
                                 "MAMMOSWEEP_ONNX_WRITER to its path)", e.what()));
  }
  if (r.exit_code != 0) {
    throw InputError(fmt::format("writing {} failed (exit {}): {}", out, r.exit_code, r.err));
  }
  return {"onnx", kOnnxFile, io::tree_bytes(out),
          "opset 17, BatchNorm folded, dynamic batch; passed onnx::checker and strict shape "
          "inference"};
}

}  // namespace

std::vector<std::string> parse_formats(const std::string& list) {
  std::vector<std::string> out{"safetensors"};
  std::size_t start = 0;
  while (start <= list.size()) {
    const std::size_t comma = std::min(list.find(',', start), list.size());
    const std::string f = list.substr(start, comma - start);
    start = comma + 1;
    if (f.empty()) continue;
    if (std::find(known_formats().begin(), known_formats().end(), f) == known_formats().end()) {
      throw InputError(fmt::format("--format: unknown format '{}' (known: {})", f,
                                   fmt::join(known_formats(), ", ")));
    }
    if (f == "tflite" && std::find(out.begin(), out.end(), "onnx") == out.end()) {
      out.push_back("onnx");  // the TF Lite files are converted from model.onnx
    }
    if (std::find(out.begin(), out.end(), f) == out.end()) out.push_back(f);
  }
  return out;
}

std::string onnx_writer_path() {
  if (const char* env = std::getenv("MAMMOSWEEP_ONNX_WRITER"); env != nullptr && *env != '\0') {
    return env;
  }
  const std::string sibling = io::join_path(io::parent_dir(io::read_link("/proc/self/exe")), "mammosweep-onnx");
  if (io::is_regular_file(sibling)) return sibling;
  return MAMMOSWEEP_ONNX_WRITER_BUILT;
}

std::vector<FormatFile> write_formats(const std::string& model_dir, const worker::ModelInfo& info,
                                      const std::vector<std::string>& formats) {
  const std::string weights = io::join_path(model_dir, worker::kModelWeightsFile);
  if (!io::is_regular_file(weights)) {
    throw InputError(fmt::format("{}: missing: the model folder has no weights", weights));
  }
  // Files of an earlier export hold other weights: never leave them next to these.
  for (const char* f : {kOnnxFile, kTfliteFile, kTfliteInt8File}) {
    io::remove_tree(io::join_path(model_dir, f));
  }
  std::vector<FormatFile> out{{"safetensors", worker::kModelWeightsFile, io::tree_bytes(weights),
                               "F32 weights, torchvision names + head.*; read by predict"}};
  for (const auto& f : formats) {
    if (f == "onnx") out.push_back(write_onnx(model_dir, info));
  }
  return out;
}

}  // namespace mammosweep::orchestrator
