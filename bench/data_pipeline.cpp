// Data pipeline throughput: decode + preprocess, and cached augment + batch.
//
//   build/bench/data_pipeline [--data DIR] [--count 200] [--src-size 640] [--size 224]
//       [--batch 16] [--threads 2] [--loader-epochs 4] [--cache-dir DIR]
//
// 1. If DIR holds no dataset yet (no DIR/.bench-complete), writes `count` synthetic
//    src-size x src-size 8-bit gray PNG mammograms there with worker::write_synthetic_dataset
//    (seed 7) -- the same files bench/data_pipeline.py reads.
// 2. decode: worker::make_decode_fn (decode_image + preprocess to size x size x 3 uint8,
//    minmax window, stretch, no CLAHE: the defaults) over every image, with 1 thread and with
//    `threads` threads (images split round-robin), img/s = images / wall time.
// 3. cache_build: ImageCache::open_or_build into a fresh cache dir with `threads` decode
//    threads (decode + write + fsync), img/s.
// 4. loader: a train-mode Loader over the cache's train split (batch `batch`, shuffle, hflip,
//    brightness/contrast/saturation 0.2, normalize; 1 prefetch thread, 1 intra-op thread),
//    `loader-epochs` epochs, img/s of batches handed to the consumer (which does nothing).
// Prints one JSON line per measurement.
#include <ATen/Parallel.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/files.h"
#include "worker/cache.h"
#include "worker/dataset.h"
#include "worker/image.h"
#include "worker/loader.h"
#include "worker/synth.h"

namespace {

namespace w = mammosweep::worker;
namespace io = mammosweep::io;
using Clock = std::chrono::steady_clock;
using ojson = nlohmann::ordered_json;

struct BenchOptions {
  std::string data = "/tmp/mammosweep-bench/synth640";
  std::string cache_dir;  // default: DATA-cache
  int count = 200;
  int src_size = 640;
  int size = 224;
  int batch = 16;
  int threads = 2;
  int loader_epochs = 4;
};

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

/// Prints one JSON line (keys in insertion order, as bench/data_pipeline.py prints them).
void print_line(const ojson& j) {
  std::printf("%s\n", j.dump().c_str());
  std::fflush(stdout);
}

/// Decodes every record with `threads` threads (record i goes to thread i % threads).
double decode_all(const std::vector<w::ImageRecord>& records, const w::DecodeFn& decode,
                  int threads) {
  std::vector<std::thread> pool;
  std::vector<std::exception_ptr> errors(threads);
  const auto t0 = Clock::now();
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      try {
        for (std::size_t i = t; i < records.size(); i += threads) {
          if (decode(records[i]).size() == 0) throw std::runtime_error("empty decode");
        }
      } catch (...) {
        errors[t] = std::current_exception();
      }
    });
  }
  for (auto& th : pool) th.join();
  const double s = seconds_since(t0);
  for (auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  BenchOptions o;
  CLI::App app{"Data pipeline throughput: decode + preprocess, and cached augment + batch"};
  app.add_option("--data", o.data, "Synthetic dataset folder (written when incomplete)")
      ->capture_default_str();
  app.add_option("--cache-dir", o.cache_dir, "Scratch cache folder (default: DATA-cache)");
  app.add_option("--count", o.count, "Images to synthesise")->capture_default_str();
  app.add_option("--src-size", o.src_size, "Side of the synthetic images")->capture_default_str();
  app.add_option("--size", o.size, "Preprocessed image side")->capture_default_str();
  app.add_option("--batch", o.batch, "Loader batch size")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--threads", o.threads, "Decode threads")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--loader-epochs", o.loader_epochs, "Timed loader epochs")
      ->capture_default_str()->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);
  if (o.cache_dir.empty()) o.cache_dir = o.data + "-cache";
  try {
    at::set_num_threads(1);
    const std::string marker = o.data + "/.bench-complete";
    if (!io::file_exists(marker)) {
      w::SynthOptions so;
      so.out = o.data;
      so.count = o.count;
      so.size = o.src_size;
      so.seed = 7;
      const auto t0 = Clock::now();
      w::write_synthetic_dataset(so);
      io::write_file_atomic(marker, std::to_string(o.count) + " " + std::to_string(o.src_size) + "\n");
      std::fprintf(stderr, "data_pipeline: wrote %d synthetic %dx%d images to %s in %.1f s\n",
                   o.count, o.src_size, o.src_size, o.data.c_str(), seconds_since(t0));
    }
    w::SourceOptions source;
    source.root = o.data;
    const std::vector<w::ImageRecord> records = w::list_images(source);
    const double n = static_cast<double>(records.size());

    w::PreprocessOptions pre;
    pre.image_size = o.size;
    const w::DecodeFn decode = w::make_decode_fn(pre);
    std::vector<int> thread_counts{1};
    if (o.threads > 1) thread_counts.push_back(o.threads);
    for (int t : thread_counts) {
      const double s = decode_all(records, decode, t);
      print_line({{"bench", "decode"}, {"impl", "cpp"}, {"images", records.size()},
                  {"src_size", o.src_size}, {"size", o.size}, {"threads", t}, {"seconds", s},
                  {"img_per_s", n / s}});
    }

    io::remove_tree(o.cache_dir);
    w::CacheOptions co = w::cache_options_for(pre, o.cache_dir, "bench");
    co.threads = o.threads;
    const auto t0 = Clock::now();
    w::ImageCache cache = w::ImageCache::open_or_build(records, co, decode);
    const double build = seconds_since(t0);
    print_line({{"bench", "cache_build"}, {"impl", "cpp"}, {"images", cache.size()},
                {"threads", o.threads}, {"seconds", build},
                {"img_per_s", static_cast<double>(cache.size()) / build}});

    w::LoaderOptions lo;
    lo.batch_size = o.batch;
    lo.train = true;
    lo.shuffle = true;
    lo.augment.hflip = true;
    lo.augment.brightness = 0.2;
    lo.augment.contrast = 0.2;
    lo.augment.saturation = 0.2;
    lo.prefetch_threads = 1;
    w::Loader loader(cache, w::split_indices(cache, records, "train"), lo);
    std::int64_t images = 0;
    w::Batch batch;
    loader.start_epoch(0);  // warm-up epoch, not timed
    while (loader.next(batch)) {
    }
    const auto t1 = Clock::now();
    for (int e = 1; e <= o.loader_epochs; ++e) {
      loader.start_epoch(e);
      while (loader.next(batch)) images += batch.images.size(0);
    }
    const double ls = seconds_since(t1);
    print_line({{"bench", "loader"}, {"impl", "cpp"}, {"images", images}, {"size", o.size},
                {"batch", o.batch}, {"prefetch_threads", 1}, {"augment", "hflip+bcs0.2"},
                {"seconds", ls}, {"img_per_s", static_cast<double>(images) / ls}});
    io::remove_tree(o.cache_dir);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "data_pipeline: %s\n", e.what());
    return 1;
  }
  return 0;
}
