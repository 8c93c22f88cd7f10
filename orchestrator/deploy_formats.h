#pragma once
// The deployment formats `export --format` writes next to model.json
// (docs/export-and-predict.md, "Deployment formats"):
//   safetensors  model.safetensors, always (the model folder's weights; predict reads it)
//   onnx         model.onnx, by the mammosweep-onnx program (deploy/onnx_writer.h), which is
//                kept out of this process because LibTorch carries its own protobuf
#include <cstdint>
#include <string>
#include <vector>

#include "worker/model_dir.h"

namespace mammosweep::orchestrator {

inline constexpr const char* kOnnxFile = "model.onnx";

/// One written format, for model.json's `formats` and the card's Files table.
struct FormatFile {
  std::string format;  // "safetensors", "onnx"
  std::string file;    // name inside the model folder
  std::uint64_t bytes = 0;
  std::string note;    // how it was checked / what it contains
};

/// "safetensors,onnx" -> {"safetensors", "onnx"} (safetensors always first, no repeats).
/// Throws InputError naming an unknown format and listing the known ones.
std::vector<std::string> parse_formats(const std::string& list);

/// The mammosweep-onnx program: $MAMMOSWEEP_ONNX_WRITER, else next to this executable,
/// else the one this build made.
std::string onnx_writer_path();

/// Writes every format of `formats` but safetensors (already in `model_dir`) and returns
/// them all, safetensors first. A model.onnx left by an earlier export is removed first, so
/// the folder never holds a file made from other weights. Throws InputError when a writer
/// fails (its message).
std::vector<FormatFile> write_formats(const std::string& model_dir, const worker::ModelInfo& info,
                                      const std::vector<std::string>& formats);

}  // namespace mammosweep::orchestrator
