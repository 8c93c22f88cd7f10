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

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

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

BenchOptions parse(int argc, char** argv) {
  BenchOptions o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument("missing value after " + a);
      return argv[++i];
    };
    if (a == "--size") {
      o.size = std::stoi(value());
    } else if (a == "--batch") {
      o.batch = std::stoi(value());
    } else if (a == "--threads") {
      o.threads = std::stoi(value());
    } else if (a == "--precision") {
      o.precision = value();
      if (o.precision != "fp32" && o.precision != "bf16") {
        throw std::invalid_argument("--precision: expected fp32 or bf16, got " + o.precision);
      }
    } else if (a == "--channels-last") {
      o.channels_last = true;
    } else if (a == "--warmup") {
      o.warmup = std::stoi(value());
    } else if (a == "--steps") {
      o.steps = std::stoi(value());
    } else {
      throw std::invalid_argument(
          "unknown argument '" + a +
          "' (expected --size N --batch B --threads T --precision fp32|bf16 --channels-last "
          "--warmup W --steps S)");
    }
  }
  if (o.size < 32 || o.batch < 1 || o.threads < 1 || o.steps < 1 || o.warmup < 0) {
    throw std::invalid_argument("need --size >= 32, --batch >= 1, --threads >= 1, --steps >= 1");
  }
  return o;
}

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
  try {
    const BenchOptions o = parse(argc, argv);
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
    std::printf(
        "{\"bench\": \"train_throughput\", \"impl\": \"cpp\", \"size\": %d, \"batch\": %d, "
        "\"threads\": %d, \"precision\": \"%s\", \"channels_last\": %s, \"warmup\": %d, "
        "\"steps\": %d, \"img_per_s\": %.6g, \"median_step_s\": %.6g, \"peak_rss_mib\": %.1f}\n",
        o.size, o.batch, o.threads, o.precision.c_str(), o.channels_last ? "true" : "false",
        o.warmup, o.steps, o.batch * o.steps / total, sorted[sorted.size() / 2], peak_rss_mib());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "train_throughput: %s\n", e.what());
    return 1;
  }
  return 0;
}
