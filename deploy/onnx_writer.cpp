#include "deploy/onnx_writer.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <cstdint>
#include <stdexcept>
#include <utility>

#include "deploy/batchnorm_fold.h"

namespace mammosweep::deploy {
namespace {

constexpr double kBatchNormEps = 1e-5;  // torch::nn::BatchNorm2d's default, used in training

class GraphBuilder {
 public:
  GraphBuilder(const std::map<std::string, FloatTensor>& weights, onnx::GraphProto* graph)
      : weights_(weights), graph_(graph) {}

  const FloatTensor& tensor(const std::string& name, std::size_t rank) const {
    const auto it = weights_.find(name);
    if (it == weights_.end()) {
      throw std::runtime_error(fmt::format("the weights have no tensor '{}'", name));
    }
    if (it->second.shape.size() != rank) {
      throw std::runtime_error(fmt::format("tensor '{}' has shape [{}], expected {} dimensions",
                                           name, fmt::join(it->second.shape, ", "), rank));
    }
    return it->second;
  }

  std::string initializer(const std::string& name, const std::vector<std::int64_t>& shape,
                          const std::vector<float>& values) {
    onnx::TensorProto* t = graph_->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (const auto d : shape) t->add_dims(d);
    t->set_raw_data(values.data(), values.size() * sizeof(float));
    return name;
  }

  onnx::NodeProto* node(const std::string& op, const std::vector<std::string>& inputs,
                        const std::string& output) {
    onnx::NodeProto* n = graph_->add_node();
    n->set_op_type(op);
    n->set_name(output);
    for (const auto& i : inputs) n->add_input(i);
    n->add_output(output);
    return n;
  }

  static void ints(onnx::NodeProto* n, const std::string& name, std::vector<std::int64_t> v) {
    onnx::AttributeProto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (const auto x : v) a->add_ints(x);
  }
  static void int1(onnx::NodeProto* n, const std::string& name, std::int64_t v) {
    onnx::AttributeProto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
  }

  /// conv `prefix` followed by BatchNorm `bn`, folded; returns the output's name.
  std::string conv_bn(const std::string& input, const std::string& conv, const std::string& bn,
                      std::int64_t stride, std::int64_t pad) {
    const FloatTensor& w = tensor(conv + ".weight", 4);
    const FoldedConv f = fold_batchnorm(w.values, tensor(bn + ".weight", 1).values,
                                        tensor(bn + ".bias", 1).values,
                                        tensor(bn + ".running_mean", 1).values,
                                        tensor(bn + ".running_var", 1).values, kBatchNormEps);
    const std::string wn = initializer(conv + ".weight", w.shape, f.weight);
    const std::string bname = initializer(conv + ".bias", {w.shape[0]}, f.bias);
    onnx::NodeProto* n = node("Conv", {input, wn, bname}, conv);
    ints(n, "kernel_shape", {w.shape[2], w.shape[3]});
    ints(n, "strides", {stride, stride});
    ints(n, "pads", {pad, pad, pad, pad});
    return conv;
  }

  std::string relu(const std::string& input) { return node("Relu", {input}, input + ".relu")->output(0); }

  std::string bottleneck(const std::string& input, const std::string& p, std::int64_t stride,
                         bool downsample) {
    std::string x = relu(conv_bn(input, p + ".conv1", p + ".bn1", 1, 0));
    x = relu(conv_bn(x, p + ".conv2", p + ".bn2", stride, 1));
    x = conv_bn(x, p + ".conv3", p + ".bn3", 1, 0);
    const std::string shortcut =
        downsample ? conv_bn(input, p + ".downsample.0", p + ".downsample.1", stride, 0) : input;
    return relu(node("Add", {x, shortcut}, p + ".add")->output(0));
  }

  std::string gemm(const std::string& input, const std::string& p) {
    const FloatTensor& w = tensor(p + ".weight", 2);
    const FloatTensor& b = tensor(p + ".bias", 1);
    onnx::NodeProto* n = node("Gemm", {input, initializer(p + ".weight", w.shape, w.values),
                                       initializer(p + ".bias", b.shape, b.values)},
                              p);
    int1(n, "transB", 1);
    return p;
  }

 private:
  const std::map<std::string, FloatTensor>& weights_;
  onnx::GraphProto* graph_;
};

void set_tensor_type(onnx::ValueInfoProto* v, const std::string& name,
                     const std::vector<std::int64_t>& fixed_dims) {
  v->set_name(name);
  onnx::TypeProto_Tensor* t = v->mutable_type()->mutable_tensor_type();
  t->set_elem_type(onnx::TensorProto::FLOAT);
  onnx::TensorShapeProto* s = t->mutable_shape();
  s->add_dim()->set_dim_param("batch");
  for (const auto d : fixed_dims) s->add_dim()->set_dim_value(d);
}

}  // namespace

std::string build_onnx_model(const OnnxRequest& r) {
  if (r.mean.size() != 3 || r.std.size() != 3) {
    throw std::runtime_error("mean and std need 3 values (RGB)");
  }
  onnx::ModelProto model;
  model.set_ir_version(8);  // the IR of opset 17 (ONNX 1.12)
  model.set_producer_name("mammosweep");
  model.set_producer_version(r.producer_version);
  model.set_doc_string(
      "ResNet50 (BatchNorm folded) + classification head. Input: NCHW float32 RGB pixel/255; "
      "the normalisation (x - mean) / std is in the graph. Outputs: probabilities [batch, 2] "
      "(softmax; class 1 = malignant) and p_malignant [batch].");
  onnx::OperatorSetIdProto* opset = model.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOnnxOpset);
  for (const auto& [k, v] : r.metadata) {
    onnx::StringStringEntryProto* e = model.add_metadata_props();
    e->set_key(k);
    e->set_value(v);
  }
  onnx::GraphProto* graph = model.mutable_graph();
  graph->set_name("mammosweep_resnet50");
  set_tensor_type(graph->add_input(), "image", {3, r.image_size, r.image_size});

  GraphBuilder g(r.weights, graph);
  std::vector<float> mean(r.mean.begin(), r.mean.end()), stdev(r.std.begin(), r.std.end());
  std::string x = g.node("Sub", {"image", g.initializer("norm.mean", {1, 3, 1, 1}, mean)},
                         "norm.sub")->output(0);
  x = g.node("Div", {x, g.initializer("norm.std", {1, 3, 1, 1}, stdev)}, "norm.div")->output(0);
  x = g.relu(g.conv_bn(x, "conv1", "bn1", 2, 3));
  onnx::NodeProto* pool = g.node("MaxPool", {x}, "maxpool");
  GraphBuilder::ints(pool, "kernel_shape", {3, 3});
  GraphBuilder::ints(pool, "strides", {2, 2});
  GraphBuilder::ints(pool, "pads", {1, 1, 1, 1});
  x = "maxpool";
  const int blocks[4] = {3, 4, 6, 3};
  for (int layer = 0; layer < 4; ++layer) {
    for (int b = 0; b < blocks[layer]; ++b) {
      const std::int64_t stride = (layer > 0 && b == 0) ? 2 : 1;
      x = g.bottleneck(x, fmt::format("layer{}.{}", layer + 1, b), stride, b == 0);
    }
  }
  x = g.node("GlobalAveragePool", {x}, "avgpool")->output(0);
  GraphBuilder::int1(g.node("Flatten", {x}, "flatten"), "axis", 1);
  x = g.relu(g.gemm("flatten", "head.0"));
  x = g.gemm(x, "head.3");
  GraphBuilder::int1(g.node("Softmax", {x}, "probabilities"), "axis", 1);
  onnx::TensorProto* index = graph->add_initializer();  // Gather's index: int64 scalar 1
  index->set_name("class_index");
  index->set_data_type(onnx::TensorProto::INT64);
  index->add_int64_data(1);
  GraphBuilder::int1(g.node("Gather", {"probabilities", "class_index"}, "p_malignant"), "axis", 1);

  const std::int64_t classes = g.tensor("head.3.weight", 2).shape[0];
  set_tensor_type(graph->add_output(), "probabilities", {classes});
  set_tensor_type(graph->add_output(), "p_malignant", {});

  try {
    onnx::checker::check_model(model);
    // Strict, type-checking shape inference; its result (every intermediate shape in
    // value_info) is what is written, which converters such as onnx2tf rely on.
    onnx::shape_inference::InferShapes(model, onnx::OpSchemaRegistry::Instance(),
                                       onnx::ShapeInferenceOptions(true, 1, false));
    onnx::checker::check_model(model);
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("the ONNX checker rejected the graph: {}", e.what()));
  }
  std::string bytes;
  if (!model.SerializeToString(&bytes)) throw std::runtime_error("cannot serialize the ONNX model");
  return bytes;
}

}  // namespace mammosweep::deploy
