// Training throughput of worker::ResNet50 (the model the trainer trains), one configuration
// per process, so the reported peak RSS belongs to that configuration.
//
//   build/bench/train_throughput --size 224 --batch 16 --threads 2
//       [--precision fp32|bf16] [--channels-last] [--warmup 2] [--steps 5]
//
// One step is what worker/trainer.cpp does per batch: zero_grad, forward (under bf16 CPU
// autocast for --precision bf16), float32 cross-entropy, loss.item(), backward, Adam step
// (lr 1e-4). Model: head 2048 -> 1024 -> ReLU -> Dropout(0.5) -> 2, unfrozen_fraction 1.0
// (everything trains). With --channels-last the 4-d parameters and the input use the
// ChannelsLast memory format, as the trainer does. The input is a fixed random batch, so the
// data pipeline is not measured here (bench/data_pipeline.cpp does that).
// Prints one line of JSON (the same keys as bench/train_throughput.py):
//   img_per_s = batch * steps / (total time of the timed steps), median_step_s,
//   peak_rss_mib (VmHWM of this process).
#include <ATen/autocast_mode.h>
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "worker/resnet50.h"

namespace {

struct BenchOptions {
  int size = 224;
  int batch = 16;
  int threads = 1;
  std::string precision = "fp32";
  bool channels_last = false;
  int warmup = 2;
  int steps = 5;
};

/// VmHWM (peak resident set) of this process in MiB, from /proc/self/status.
double peak_rss_mib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return std::nan("");
}

}  // namespace

int main(int argc, char** argv) {
  namespace w = mammosweep::worker;
  using Clock = std::chrono::steady_clock;
  BenchOptions o;
  CLI::App app{"Training throughput of worker::ResNet50, one configuration per process"};
  app.add_option("--size", o.size, "Input image side")
      ->capture_default_str()->check(CLI::Range(32, std::numeric_limits<int>::max()));
  app.add_option("--batch", o.batch, "Batch size")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--threads", o.threads, "Intra-op threads")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--precision", o.precision, "fp32 or bf16 (CPU autocast)")
      ->capture_default_str()->check(CLI::IsMember({"fp32", "bf16"}));
  app.add_flag("--channels-last", o.channels_last, "ChannelsLast parameters and input");
  app.add_option("--warmup", o.warmup, "Untimed steps")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--steps", o.steps, "Timed steps")
      ->capture_default_str()->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);
  try {
    torch::set_num_threads(o.threads);
    torch::manual_seed(0);
    w::ResNet50Options mo;
    mo.dense_units = 1024;
    mo.dropout = 0.5;
    mo.unfrozen_fraction = 1.0;
    w::ResNet50 model(mo);
    const auto format =
        o.channels_last ? torch::MemoryFormat::ChannelsLast : torch::MemoryFormat::Contiguous;
    if (o.channels_last) {
      torch::NoGradGuard no_grad;
      for (auto& t : model->parameters()) {
        if (t.dim() == 4) t.set_data(t.contiguous(torch::MemoryFormat::ChannelsLast));
      }
    }
    model->train();
    torch::optim::Adam optimizer(model->trainable_parameters(), torch::optim::AdamOptions(1e-4));
    const torch::Tensor x = torch::rand({o.batch, 3, o.size, o.size}).contiguous(format);
    const torch::Tensor y = torch::randint(0, 2, {o.batch}, torch::kLong);
    const bool bf16 = o.precision == "bf16";

    std::vector<double> times;
    for (int i = 0; i < o.warmup + o.steps; ++i) {
      const auto t0 = Clock::now();
      optimizer.zero_grad(/*set_to_none=*/true);
      torch::Tensor logits;
      if (bf16) {
        at::autocast::set_autocast_dtype(torch::kCPU, at::kBFloat16);
        at::autocast::set_autocast_enabled(torch::kCPU, true);
        logits = model->forward(x);
        at::autocast::set_autocast_enabled(torch::kCPU, false);
        at::autocast::clear_cache();
      } else {
        logits = model->forward(x);
      }
      torch::Tensor loss = torch::nn::functional::cross_entropy(logits.to(torch::kFloat), y);
      const double loss_value = loss.item<double>();
      loss.backward();
      optimizer.step();
      const std::chrono::duration<double> dt = Clock::now() - t0;
      if (i >= o.warmup) times.push_back(dt.count());
      if (!std::isfinite(loss_value)) {
        throw std::runtime_error("loss became " + std::to_string(loss_value) + " at step " +
                                 std::to_string(i + 1));
      }
    }
    const double total = std::accumulate(times.begin(), times.end(), 0.0);
    std::vector<double> sorted = times;
    std::sort(sorted.begin(), sorted.end());
    const nlohmann::ordered_json line = {
        {"bench", "train_throughput"}, {"impl", "cpp"}, {"size", o.size}, {"batch", o.batch},
        {"threads", o.threads}, {"precision", o.precision}, {"channels_last", o.channels_last},
        {"warmup", o.warmup}, {"steps", o.steps}, {"img_per_s", o.batch * o.steps / total},
        {"median_step_s", sorted[sorted.size() / 2]}, {"peak_rss_mib", peak_rss_mib()}};
    std::printf("%s\n", line.dump().c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "train_throughput: %s\n", e.what());
    return 1;
  }
  return 0;
}
