#pragma once
// The deployment formats `export --format` writes next to model.json
// (docs/export-and-predict.md, "Deployment formats"):
//   safetensors  model.safetensors, always (the model folder's weights; predict reads it)
//   onnx         model.onnx, by the mammosweep-onnx program (deploy/onnx_writer.h), which is
//                kept out of this process because LibTorch carries its own protobuf
//   tflite       model.tflite + model-int8.tflite, converted from model.onnx (so tflite
//                implies onnx) in the deploy venv: tflite_format.h
#include <cstdint>
#include <string>
#include <vector>

#include "worker/model_dir.h"

namespace mammosweep::orchestrator {

inline constexpr const char* kOnnxFile = "model.onnx";

/// One written format, for model.json's `formats` and the card's Files table.
struct FormatFile {
  std::string format;  // "safetensors", "onnx", "tflite", "tflite-int8"
  std::string file;    // name inside the model folder
  std::uint64_t bytes = 0;
  std::string note;    // how it was checked / what it contains
};

/// "safetensors,onnx" -> {"safetensors", "onnx"} (safetensors always first, no repeats;
/// "tflite" brings "onnx" before it, its source). Throws InputError naming an unknown format
/// and listing the known ones.
std::vector<std::string> parse_formats(const std::string& list);

/// The mammosweep-onnx program: $MAMMOSWEEP_ONNX_WRITER, else next to this executable,
/// else the one this build made.
std::string onnx_writer_path();

/// Writes safetensors' companions that need nothing but the folder (onnx) and returns them,
/// safetensors first; tflite is written by export_model (tflite_format.h), which needs the
/// data. Files of every format left by an earlier export are removed first, so the folder
/// never holds a file made from other weights. Throws InputError when a writer fails (its
/// message).
std::vector<FormatFile> write_formats(const std::string& model_dir, const worker::ModelInfo& info,
                                      const std::vector<std::string>& formats);

}  // namespace mammosweep::orchestrator
