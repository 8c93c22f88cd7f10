#pragma once
// The exported ResNet50 as an ONNX inference graph (docs/export-and-predict.md, "ONNX").
// Built only into the mammosweep-onnx executable, which links Debian's onnx + protobuf and
// never LibTorch (see deploy/CMakeLists.txt for why).
//
// Graph (opset 17, IR version 8):
//   input  image          float32 [batch, 3, S, S], NCHW, RGB, pixel / 255 (in [0, 1]);
//                         batch is dynamic ("batch"), S is the trained image_size
//   Sub(mean) -> Div(std)  the model card's normalisation, inside the graph
//   ResNet50 with every BatchNorm folded into the convolution before it (fold_batchnorm)
//   GlobalAveragePool -> Flatten -> Gemm(head.0) -> Relu -> Gemm(head.3) (dropout: identity)
//   output probabilities  float32 [batch, 2]: softmax of the logits (class 1 = malignant)
//   output p_malignant    float32 [batch]: probabilities[:, 1]
// The model's metadata_props carry what the caller passes (threshold, trial, preprocessing).
#include <map>
#include <string>
#include <vector>

#include "deploy/safetensors_index.h"

namespace mammosweep::deploy {

inline constexpr int kOnnxOpset = 17;

struct OnnxRequest {
  std::map<std::string, FloatTensor> weights;  // the model folder's tensors by name
  int image_size = 224;
  std::vector<double> mean{0.485, 0.456, 0.406}, std{0.229, 0.224, 0.225};
  std::map<std::string, std::string> metadata;  // model metadata_props
  std::string producer_version;
};

/// The serialized ModelProto, after onnx::checker::check_model and strict, type-checking
/// shape inference (what onnx.checker.check_model(full_check=True) runs). Throws
/// std::runtime_error naming a missing or misshapen tensor, or the checker's complaint.
std::string build_onnx_model(const OnnxRequest& request);

}  // namespace mammosweep::deploy
