// mammosweep-onnx: writes a model folder's weights as an ONNX inference graph
// (deploy/onnx_writer.h). Run by `mammosweep export --format onnx`, which passes the
// preprocessing from model.json; usable on its own:
//   mammosweep-onnx --weights M/model.safetensors --image-size 224 --out M/model.onnx
// Exit codes: 0 written (and re-read by the ONNX checker); 2 bad input (missing or invalid
// weights, checker complaint); 1 other failures.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>
#include <onnx/checker.h>

#include "deploy/onnx_writer.h"
#include "deploy/safetensors_index.h"
#include "io/files.h"

int main(int argc, char** argv) {
  using namespace mammosweep;
  CLI::App app{"Writes a mammosweep model's weights as an ONNX graph (opset 17)"};
  std::string weights, out;
  deploy::OnnxRequest request;
  std::vector<std::string> meta;
  app.add_option("--weights", weights, "model.safetensors of a model folder")->required();
  app.add_option("--out", out, "ONNX file to write (atomically)")->required();
  app.add_option("--image-size", request.image_size, "trained square input size")
      ->required()->check(CLI::Range(32, 4096));
  app.add_option("--mean", request.mean, "normalisation mean, RGB")->expected(3);
  app.add_option("--std", request.std, "normalisation std, RGB")->expected(3);
  app.add_option("--meta", meta, "KEY=VALUE stored in the model's metadata_props");
  app.add_option("--producer-version", request.producer_version, "mammosweep version");
  CLI11_PARSE(app, argc, argv);
  for (const auto& kv : meta) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos) {
      std::cerr << fmt::format("mammosweep-onnx: error: --meta '{}' is not KEY=VALUE\n", kv);
      return 2;
    }
    request.metadata[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  try {
    request.weights = deploy::read_safetensors_float(weights);
    io::write_file_atomic(out, deploy::build_onnx_model(request));
    onnx::checker::check_model(out);  // the file as written, read back
  } catch (const deploy::SafetensorsError& e) {
    std::cerr << "mammosweep-onnx: error: " << e.what() << "\n";
    return 2;
  } catch (const io::IoError& e) {
    std::cerr << "mammosweep-onnx: error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << fmt::format("mammosweep-onnx: error: {}: {}\n", weights, e.what());
    return 2;
  }
  return 0;
}
