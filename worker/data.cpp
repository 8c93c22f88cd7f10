#include "worker/data.h"

#include <fmt/format.h>

#include <iostream>

#include "io/phases.h"
#include "worker/image.h"
#include "worker/leakage_cache.h"
#include "worker/preprocess.h"

namespace mammosweep::worker {

namespace {

SourceOptions source_options(const sweeps::DataSpec& d) {
  SourceOptions s;
  s.root = d.root;
  s.layout = d.layout == "csv" ? SourceOptions::Layout::csv : SourceOptions::Layout::folders;
  s.manifest = d.manifest;
  s.class_map = d.class_map;
  s.train_split = d.train_split;
  s.val_split = d.val_split;
  s.test_split = d.test_split;
  s.val_fraction = d.val_fraction;
  s.test_fraction = d.test_fraction;
  return s;
}

}  // namespace

PreprocessOptions preprocess_options(const sweeps::DataSpec& d) {
  PreprocessOptions p;
  p.image_size = d.image_size;
  p.keep_aspect = d.keep_aspect;
  p.clahe = d.clahe;
  p.window = d.window == "percentile" ? PreprocessOptions::Window::percentile
                                      : PreprocessOptions::Window::minmax;
  return p;
}

std::vector<ImageRecord> list_dataset(const sweeps::DataSpec& spec) {
  return list_images(source_options(spec));
}

PreparedData prepare_data(const sweeps::DataSpec& spec, const PrepareOptions& options) {
  PreparedData data;
  {
    io::PhaseTimer phase("list dataset");
    data.records = list_dataset(spec);
  }

  if (options.check_leakage && spec.leakage != "ignore") {
    io::PhaseTimer phase("leakage guard");
    LeakageOptions lo;
    lo.threads = options.threads;
    data.leakage = check_leakage_cached(data.records, lo, options.cache_dir, &data.leakage_cached);
    enforce(data.leakage, parse_leakage_policy(spec.leakage), &std::cerr);
  }

  const PreprocessOptions pre = preprocess_options(spec);
  CacheOptions co;
  co.cache_dir = options.cache_dir;
  co.name = "images";
  co.image_size = spec.image_size;
  co.channels = 3;
  co.preprocess_signature = fmt::format("size={} keep_aspect={} clahe={} window={}",
                                        spec.image_size, spec.keep_aspect, spec.clahe,
                                        spec.window);
  co.on_bad_image = spec.on_bad_image == "skip" ? OnBadImage::skip : OnBadImage::error;
  co.threads = std::max(1, options.threads);
  io::PhaseTimer phase("image cache (build or open)");
  data.cache = std::make_unique<ImageCache>(ImageCache::open_or_build(
      data.records, co,
      [pre](const ImageRecord& r) { return preprocess(decode_image(r.path), pre); }));
  for (const auto& s : data.cache->stats().skipped) {
    std::cerr << fmt::format("warning: skipped image {}: {}\n", s.path, s.reason);
  }
  data.train = split_indices(*data.cache, data.records, "train");
  data.val = split_indices(*data.cache, data.records, "val");
  data.test = split_indices(*data.cache, data.records, "test");
  data.manifest_hash = fmt::format("{:016x}", data.cache->stats().key);
  if (data.train.empty()) throw DatasetError(fmt::format("{}: the train split is empty", spec.root));
  if (data.val.empty()) throw DatasetError(fmt::format("{}: the val split is empty", spec.root));
  return data;
}

}  // namespace mammosweep::worker
