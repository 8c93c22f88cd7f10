// `mammosweep predict --model MODEL_DIR IMAGE...`: score images with an exported model
// (worker/model_dir.h; docs/export-and-predict.md).
//
// Output, one line per image in argument order:
//   text (default): PATH  PROBABILITY  LABEL   (columns separated by two spaces, the path
//                   padded to the longest one; LABEL is 1 when PROBABILITY >= the model's
//                   threshold, else 0)
//   --csv:          header `path,probability,prediction`, then one row per image (paths with
//                   a comma, quote or newline are quoted, "" escaping quotes).
// An image that cannot be decoded is reported on stderr ("mammosweep: error: FILE: ...")
// and skipped; the others are still scored, and the exit code is then 2. A missing or
// invalid model folder is an error (exit 2) before any image is read.
#include <fmt/format.h>

#include <ATen/Parallel.h>
#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>
#include <optional>

#include "orchestrator/cli.h"
#include "worker/model_dir.h"

namespace mammosweep::orchestrator {

namespace {

struct PredictOptions {
  std::string model;
  std::vector<std::string> images;
  bool csv = false;
  int threads = 1;
  int batch_size = 16;
};

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

int predict(const PredictOptions& opt) {
  at::set_num_threads(opt.threads);
  std::optional<worker::Predictor> predictor;
  try {
    predictor.emplace(opt.model, worker::PredictorOptions{opt.threads, opt.batch_size});
  } catch (const worker::ModelDirError& e) {
    std::cerr << "mammosweep: error: " << e.what() << "\n";
    return kExitUsage;
  }
  std::vector<worker::ImagePrediction> results = predictor->predict_files(opt.images);
  std::size_t width = 0;
  for (const auto& r : results) {
    if (r.ok) width = std::max(width, r.path.size());
  }
  int bad = 0;
  if (opt.csv) std::cout << "path,probability,prediction\n";
  for (const auto& r : results) {
    if (!r.ok) {
      std::cerr << "mammosweep: error: " << r.error << "\n";
      ++bad;
      continue;
    }
    if (opt.csv) {
      std::cout << fmt::format("{},{:.6f},{}\n", csv_field(r.path), r.probability, r.label);
    } else {
      std::cout << fmt::format("{:<{}}  {:.6f}  {}\n", r.path, width, r.probability, r.label);
    }
  }
  std::cout << std::flush;
  if (bad > 0) {
    std::cerr << fmt::format("mammosweep: {} of {} image(s) could not be read\n", bad,
                             results.size());
    return kExitUsage;
  }
  return kExitOk;
}

}  // namespace

Command add_predict_command(CLI::App& app) {
  auto opt = std::make_shared<PredictOptions>();
  CLI::App* cmd = app.add_subcommand(
      "predict", "Score images with an exported model: probability of malignancy per image");
  cmd->add_option("--model", opt->model, "Model folder written by `mammosweep export`")
      ->required();
  cmd->add_option("IMAGE", opt->images, "Image files (JPEG, PNG, PGM, DICOM)")->required();
  cmd->add_flag("--csv", opt->csv, "CSV output: path,probability,prediction");
  cmd->add_option("--threads", opt->threads, "Threads for decoding and the forward pass")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  cmd->add_option("--batch-size", opt->batch_size, "Images per forward pass")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  return [opt, cmd]() { return cmd->parsed() ? predict(*opt) : -1; };
}

}  // namespace mammosweep::orchestrator
