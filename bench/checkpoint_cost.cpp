// What one epoch's checkpoint costs, for the week-7 variants' ResNet50 (Adam or RMSprop state
// after one step): the format-1 path (a torch archive serialised on the training thread, then
// FNV-1a and the fsync'd write in the background) against the format-2 path that the trainer
// uses (worker/checkpoint.h: one copy of each tensor into a reused buffer on the training
// thread, then XXH3 and the write in the background, whose whole pages bypass the page cache).
// A third row writes the same format-2 file through the page cache, as the trainer did until
// session 14 (XXH3 and an AtomicFile write of an unaligned copy; the copy is made outside the
// timing). All write the same tensors to the same folder; each repeat alternates them.
//
//   build/bench/checkpoint_cost --dir /tmp/ck [--repeats 5] [--threads 2]
//
// Prints a table per variant: medians of the training thread's wall seconds and of the
// background writer's CPU seconds (CLOCK_THREAD_CPUTIME_ID) and wall seconds, and the bytes.
#include <fmt/format.h>
#include <time.h>
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <sstream>
#include <string>
#include <vector>

#include "io/files.h"
#include "io/hash.h"
#include "worker/checkpoint.h"
#include "worker/optimizer.h"
#include "worker/resnet50.h"

namespace ms = mammosweep;

namespace {

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double thread_cpu() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/// Format 1 as the trainer wrote it until 2026-12 (session 10's code): a torch archive.
std::string serialize_v1(ms::worker::ResNet50Impl& model, torch::optim::Optimizer& optimizer) {
  torch::serialize::OutputArchive archive;
  for (const auto& p : model.named_parameters()) archive.write("p." + p.key(), p.value().cpu());
  for (const auto& b : model.named_buffers()) archive.write("b." + b.key(), b.value().cpu(), true);
  torch::serialize::OutputArchive opt;
  optimizer.save(opt);
  archive.write("optimizer", opt);
  archive.write("epoch", c10::IValue(std::int64_t{1}));
  std::ostringstream payload;
  archive.save_to(payload);
  return payload.str();
}

/// Format 1's file: header, FNV-1a, payload, written atomically.
void write_v1(const std::string& path, const std::string& body) {
  std::string header("MSCKPT01", 8);
  const std::uint64_t n = body.size(), sum = ms::io::fnv1a64(body.data(), n);
  header.append(reinterpret_cast<const char*>(&n), 8);
  header.append(reinterpret_cast<const char*>(&sum), 8);
  ms::io::AtomicFile file(path);
  file.write(header.data(), header.size());
  file.write(body.data(), body.size());
  file.commit();
}

struct Sample {
  double foreground = 0, background_cpu = 0, background_wall = 0;
  std::size_t bytes = 0;
};

/// `foreground` on this thread, then `background` on another, timed as the trainer runs them.
template <class F, class B>
Sample measure(F&& foreground, B&& background) {
  Sample s;
  const double t0 = now();
  foreground();
  s.foreground = now() - t0;
  std::thread writer([&] {
    const double c0 = thread_cpu(), w0 = now();
    s.bytes = background();
    s.background_cpu = thread_cpu() - c0;
    s.background_wall = now() - w0;
  });
  writer.join();
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("Checkpoint cost per epoch: format 1 (torch archive) vs format 2 (safetensors)");
  std::string dir;
  int repeats = 5, threads = 2;
  app.add_option("--dir", dir, "Folder to write the checkpoints in")->required();
  app.add_option("--repeats", repeats, "Checkpoints per format and variant");
  app.add_option("--threads", threads, "LibTorch intra-op threads");
  CLI11_PARSE(app, argc, argv);
  torch::set_num_threads(threads);
  ms::io::make_dirs(dir);

  struct Variant {
    const char* name;
    double unfrozen;
    int dense;
    const char* optimizer;
  };
  const Variant variants[] = {{"Model 1", 0.5, 1024, "adam"},
                              {"Model 2", 0.6, 512, "adam"},
                              {"Model 3", 0.7, 1024, "rmsprop"}};
  fmt::print("| variant | format | training thread s | background CPU s | background wall s | MB |\n");
  fmt::print("|---|---|---:|---:|---:|---:|\n");
  for (const Variant& v : variants) {
    ms::sweeps::TrainingParams p;
    p.unfrozen_fraction = v.unfrozen;
    p.dense_units = v.dense;
    p.optimizer = v.optimizer;
    ms::worker::ResNet50 model(ms::worker::model_options(p, 7));
    auto optimizer = ms::worker::make_optimizer(model->trainable_parameters(), p);
    model->train();
    model->forward(torch::rand({2, 3, 64, 64})).sum().backward();
    optimizer->step();  // the optimizer has its state, as after an epoch

    std::vector<Sample> one, two, cached;
    ms::io::AlignedBytes payload;  // format 2's reused file image, as in the trainer
    for (int r = 0; r < repeats; ++r) {
      std::string body;
      one.push_back(measure([&] { body = serialize_v1(*model, *optimizer); },
                            [&] {
                              write_v1(dir + "/v1.ckpt", body);
                              return body.size() + 24;
                            }));
      two.push_back(measure(
          [&] { ms::worker::snapshot_checkpoint(*model, *optimizer, {1, 1, 0.5, 0.5}, payload); },
          [&] {
            ms::worker::write_checkpoint(dir + "/v2.ckpt", payload);
            return payload.size();
          }));
      const std::string copy(payload.view());  // header filled in by the write above
      cached.push_back(measure([] {}, [&] {
        const std::uint64_t n = copy.size() - ms::worker::kCheckpointHeaderBytes;
        volatile std::uint64_t sum = ms::io::xxh3_64(copy.data() + ms::worker::kCheckpointHeaderBytes, n);
        (void)sum;
        ms::io::AtomicFile file(dir + "/v2-cached.ckpt");
        file.write(copy.data(), copy.size());
        file.commit();
        return copy.size();
      }));
      cached.back().foreground = two.back().foreground;
    }
    for (const auto& [name, samples] : {std::pair{"1 (torch archive)", &one},
                                        {"2, through the page cache (until session 14)", &cached},
                                        {"2 (safetensors), whole pages around the cache", &two}}) {
      std::vector<double> f, c, w;
      for (const Sample& s : *samples) {
        f.push_back(s.foreground);
        c.push_back(s.background_cpu);
        w.push_back(s.background_wall);
      }
      fmt::print("| {} | {} | {:.3f} | {:.3f} | {:.3f} | {:.0f} |\n", v.name, name, median(f),
                 median(c), median(w), static_cast<double>(samples->front().bytes) / 1e6);
    }
  }
  return 0;
}
