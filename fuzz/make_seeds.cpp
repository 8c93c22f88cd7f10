// Writes the binary seed inputs of tests/fuzz/ with the project's own writers, so seeds are
// what mammosweep itself produces: `fuzz_make_seeds tests/fuzz` (build it with
// MAMMOSWEEP_TARGETS=fuzz_make_seeds). The text seeds (spec, set, csv) are written by hand.
// Existing files are overwritten; regression inputs (crash-*) are never touched.
#include <gdcmImageChangeTransferSyntax.h>
#include <gdcmImageWriter.h>
#include <gdcmTrace.h>
#include <torch/serialize.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "cluster/protocol.h"
#include "io/files.h"
#include "io/hash.h"
#include "results/store.h"
#include "sweeps/parse.h"
#include "sweeps/trial.h"
#include "worker/checkpoint.h"
#include "worker/image.h"
#include "worker/model_dir.h"
#include "worker/safetensors.h"
#include "worker/synth.h"

using namespace mammosweep;

namespace {

std::string out;

std::string path(const std::string& target, const std::string& name) {
  io::make_dirs(out + "/" + target);
  return out + "/" + target + "/" + name;
}

std::vector<std::uint8_t> gradient(int w, int h, int channels, int max) {
  std::vector<std::uint8_t> px(std::size_t(w) * h * channels);
  for (std::size_t i = 0; i < px.size(); ++i) px[i] = std::uint8_t((i * 7) % (max + 1));
  return px;
}

void images() {
  auto g8 = gradient(16, 12, 1, 255);
  auto rgb = gradient(16, 12, 3, 255);
  worker::write_png(path("image", "gray8.png"), 16, 12, 1, 8, g8.data());
  worker::write_png(path("image", "rgb8.png"), 16, 12, 3, 8, rgb.data());
  worker::write_png(path("image", "gray_alpha8.png"), 16, 6, 2, 8, g8.data());
  std::vector<std::uint16_t> g16(16 * 12);
  for (std::size_t i = 0; i < g16.size(); ++i) g16[i] = std::uint16_t(i * 300);
  worker::write_png(path("image", "gray16.png"), 16, 12, 1, 16, g16.data());
  worker::write_jpeg(path("image", "gray.jpg"), 16, 12, 1, g8.data(), 80);
  worker::write_jpeg(path("image", "rgb.jpg"), 16, 12, 3, rgb.data(), 80);
  worker::write_png(path("image", "synth64.png"), worker::synth_mammogram(64, 1, 7));
  std::string p5 = "P5\n16 12\n255\n" + std::string(g8.begin(), g8.end());
  io::write_file_atomic(path("image", "gray8.pgm"), p5);
  std::string p5_16 = "P5\n# 12-bit\n4 3\n4095\n";
  for (int i = 0; i < 12; ++i) p5_16 += {char((i * 341) >> 8), char((i * 341) & 0xff)};
  io::write_file_atomic(path("image", "gray12.pgm"), p5_16);
  io::write_file_atomic(path("image", "ascii.pgm"), "P2\n3 2\n15\n0 5 10\n15 7 3\n");
}

void dicom(const std::string& name, int samples, int allocated, int stored, bool is_signed,
           gdcm::PhotometricInterpretation::PIType pi, gdcm::TransferSyntax::TSType ts) {
  const int w = 16, h = 12;
  std::vector<std::uint8_t> bytes(std::size_t(w) * h * samples * (allocated / 8));
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = std::uint8_t(i * 5);
  if (allocated == 16)
    for (std::size_t i = 1; i < bytes.size(); i += 2) bytes[i] &= (1 << (stored - 8)) - 1;
  gdcm::ImageWriter writer;
  gdcm::Image& im = writer.GetImage();
  im.SetNumberOfDimensions(2);
  im.SetDimension(0, w);
  im.SetDimension(1, h);
  im.SetPixelFormat(gdcm::PixelFormat(std::uint16_t(samples), std::uint16_t(allocated),
                                      std::uint16_t(stored), std::uint16_t(stored - 1),
                                      std::uint16_t(is_signed)));
  im.SetPhotometricInterpretation(pi);
  if (samples == 3) im.SetPlanarConfiguration(0);
  im.SetTransferSyntax(gdcm::TransferSyntax::ExplicitVRLittleEndian);
  gdcm::DataElement pixel_data(gdcm::Tag(0x7fe0, 0x0010));
  pixel_data.SetByteValue(reinterpret_cast<const char*>(bytes.data()),
                          static_cast<std::uint32_t>(bytes.size()));
  im.SetDataElement(pixel_data);
  gdcm::ImageChangeTransferSyntax change;
  if (ts != gdcm::TransferSyntax::ExplicitVRLittleEndian) {
    change.SetTransferSyntax(ts);
    change.SetInput(im);
    if (!change.Change()) std::fprintf(stderr, "GDCM cannot encode %s\n", name.c_str());
    writer.SetImage(change.GetOutput());
  }
  const std::string p = path("dicom", name);
  writer.SetFileName(p.c_str());
  if (!writer.Write()) std::fprintf(stderr, "cannot write %s\n", p.c_str());
}

void dicoms() {
  gdcm::Trace::WarningOff();
  using PI = gdcm::PhotometricInterpretation;
  using TS = gdcm::TransferSyntax;
  dicom("mono2_8.dcm", 1, 8, 8, false, PI::MONOCHROME2, TS::ExplicitVRLittleEndian);
  dicom("mono1_12_signed.dcm", 1, 16, 12, true, PI::MONOCHROME1, TS::ExplicitVRLittleEndian);
  dicom("mono2_16_implicit.dcm", 1, 16, 16, false, PI::MONOCHROME2, TS::ImplicitVRLittleEndian);
  dicom("rgb_8.dcm", 3, 8, 8, false, PI::RGB, TS::ExplicitVRLittleEndian);
  dicom("mono2_12_rle.dcm", 1, 16, 12, false, PI::MONOCHROME2, TS::RLELossless);
  dicom("mono2_8_jpeg_lossless.dcm", 1, 8, 8, false, PI::MONOCHROME2,
        TS::JPEGLosslessProcess14_1);
}

void safetensors() {
  worker::write_safetensors(path("safetensors", "small.safetensors"),
                            {{"conv1.weight", torch::arange(24, torch::kFloat32).reshape({2, 3, 2, 2})},
                             {"fc.bias", torch::ones({2}, torch::kFloat64)},
                             {"bn.num_batches_tracked", torch::tensor(3, torch::kInt64)},
                             {"mask", torch::zeros({0}, torch::kBool)},
                             {"half", torch::ones({3}, torch::kFloat16)}},
                            {{"format", "pt"}, {"tool", "mammosweep"}});
  worker::write_safetensors(path("safetensors", "empty.safetensors"), {});
}

void checkpoints() {
  torch::serialize::OutputArchive archive;
  archive.write("p.conv1.weight", torch::zeros({2, 3}));
  archive.write("b.bn1.running_mean", torch::ones({2}), true);
  torch::serialize::OutputArchive opt;
  opt.write("lr", c10::IValue(0.001));
  archive.write("optimizer", opt);
  archive.write("epoch", c10::IValue(std::int64_t{3}));
  archive.write("best_epoch", c10::IValue(std::int64_t{2}));
  archive.write("best_metric", c10::IValue(0.75));
  std::ostringstream payload;
  archive.save_to(payload);
  // The fuzz target frames every input itself; a whole file is a seed too.
  io::write_file_atomic(path("checkpoint", "payload.bin"), payload.str());
  std::string v1("MSCKPT01", 8);  // format version 1 (read only): FNV-1a, torch archive
  const std::uint64_t n = payload.str().size(), sum = io::fnv1a64(payload.str().data(), n);
  v1.append(reinterpret_cast<const char*>(&n), 8);
  v1.append(reinterpret_cast<const char*>(&sum), 8);
  io::write_file_atomic(path("checkpoint", "epoch-0003.ckpt"), v1 + payload.str());
  // Version 2: what snapshot_checkpoint writes (safetensors), for a two-tensor model.
  io::AlignedBytes v2;
  worker::encode_checkpoint({{"p.conv1.weight", torch::zeros({2, 3})},
                             {"b.bn1.running_mean", torch::ones({2})},
                             {"o.conv1.weight.step", torch::scalar_tensor(4, torch::kInt64)},
                             {"o.conv1.weight.exp_avg", torch::zeros({2, 3})}},
                            {3, 2, 0.75, std::nan("")}, v2);
  io::write_file_atomic(path("checkpoint", "payload-v2.bin"),
                        v2.view().substr(worker::kCheckpointHeaderBytes));
  worker::write_checkpoint(path("checkpoint", "epoch-0004.ckpt"), v2);
}

void model_jsons() {
  worker::ModelInfo info;
  info.tool_version = "0.1.0";
  io::write_file_atomic(path("model_json", "default.json"), worker::model_info_to_json(info));
  info.architecture.dense_units = 256;
  info.preprocessing.options.image_size = 64;
  info.preprocessing.options.keep_aspect = true;
  info.preprocessing.options.clahe = true;
  info.preprocessing.options.window = worker::PreprocessOptions::Window::percentile;
  info.class_map = {{"benign", 0}, {"malignant", 1}};
  info.threshold = 0.42;
  info.extra_json = R"({"trial": {"id": "t0001", "epoch": 3}, "metrics": {"val_auc": 0.9}})";
  io::write_file_atomic(path("model_json", "percentile.json"),
                             worker::model_info_to_json(info));
}

constexpr char kSpec[] = R"(name: seeds
seed: 1
method: grid
metric: {name: val_auc, goal: maximize}
data: {root: data, image_size: 64}
training: {epochs: 2, batch_size: 4, optimizer: adam}
parameters:
  lr: {values: [1.0e-4]}
)";

void protocol_messages() {
  const auto trials = sweeps::expand(sweeps::parse_spec(kSpec, "seeds.yaml"));
  results::EpochRecord rec;
  rec.epoch = 2;
  rec.train.loss = 0.5;
  rec.val.auc = 0.75;
  rec.val.f1 = std::nan("");
  rec.lr = 1e-4;
  rec.seconds = INFINITY;
  results::Predictions preds;
  preds.labels = {0, 1, 1};
  preds.scores = {0.25f, 0.5f, 0.875f};
  const std::vector<std::pair<std::string, cluster::MessageBody>> messages = {
      {"assign", cluster::Assign{sweeps::to_text(trials.at(0)), 2, {1, 2}, 3}},
      {"epoch_report", cluster::EpochReport{trials.at(0).id, rec, preds}},
      {"epoch_report_no_preds", cluster::EpochReport{trials.at(0).id, rec, std::nullopt}},
      {"done", cluster::Done{"t0001", results::TrialStatus::stopped_early, 3, 2, "median"}},
      {"failed", cluster::Failed{"t0001", "CUDA out of memory", results::FailureKind::oom, 2, 0}},
      {"stop", cluster::Stop{"t0001", "below median", true, 2}},
      {"shutdown", cluster::Shutdown{}},
      {"ready", cluster::Ready{3, "node01", 1, 0, 2}},
      {"checkpoint_now", cluster::CheckpointNow{"t0001"}},
  };
  for (const auto& [name, body] : messages) {
    // The fuzz target's first byte is the message type, as the MPI tag is.
    std::string bytes(1, char(static_cast<int>(cluster::type_of(body))));
    bytes += cluster::encode(body);
    io::write_file_atomic(path("protocol", name + ".msg"), bytes);
  }
}

void results_h5() {
  const std::string p = path("results_h5", "results.h5");
  io::remove_tree(p);
  results::SweepInfo info;
  info.tool_version = "0.1.0";
  info.spec_yaml = kSpec;
  info.spec_overrides = {"training.epochs=2"};
  info.spec_effective_yaml = kSpec;
  info.spec_hash = "abc";
  info.hostnames = {"node01"};
  info.slurm_job_ids = {"42"};
  auto store = results::SweepStore::create(
      p, info, {{"t0001", "lr=1e-4", R"({"lr": 0.0001, "augmentation": {"hflip": true}})", 7}});
  results::TrialState state;
  state.status = results::TrialStatus::done;
  state.attempts = 1;
  state.ranks = {1};
  store.set_state("t0001", state);
  results::EpochRecord rec;
  rec.epoch = 1;
  rec.val.auc = 0.75;
  store.append_epoch("t0001", rec);
  store.set_best_predictions("t0001", 1, results::Predictions{{0, 1}, {0.25f, 0.75f}});
  store.add_evaluation(R"({"trial": "t0001", "auc": 0.7})");
  store.close();
  io::remove_tree(p + ".lock");  // the writer's lock file is no seed
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s tests/fuzz\n", argv[0]);
    return 2;
  }
  out = argv[1];
  images();
  dicoms();
  safetensors();
  checkpoints();
  model_jsons();
  protocol_messages();
  results_h5();
  std::printf("seeds written under %s\n", out.c_str());
  return 0;
}
