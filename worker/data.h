#pragma once
// A sweep's data, prepared once per process and shared by every trial it runs: the image
// list, the leakage-guard verdict, and the decode-once cache with its split indices.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sweeps/spec.h"
#include "worker/cache.h"
#include "worker/dataset.h"
#include "worker/leakage.h"

namespace mammosweep::worker {

struct PreparedData {
  std::vector<ImageRecord> records;
  LeakageReport leakage;
  bool leakage_cached = false;  // the report was read back (leakage_cache.h), not computed
  std::unique_ptr<ImageCache> cache;
  std::vector<std::int64_t> train, val, test;  // stored-image indices per split
  std::string manifest_hash;                   // hex of the cache key (files + preprocessing)
};

struct PrepareOptions {
  std::string cache_dir;      // where the decode-once cache lives (shared by a node's ranks)
  int threads = 1;            // decode threads while building the cache
  bool check_leakage = true;  // run the guard, or read its report kept in cache_dir
                              // (leakage_cache.h); the spec's data.leakage decides what follows
};

/// How the spec's images become pixels (training, the cache, export and evaluate).
PreprocessOptions preprocess_options(const sweeps::DataSpec& spec);

/// The spec's images with their labels and splits ("train" | "val" | "test"), in the
/// order training uses (list_images on the spec's data section). Throws DatasetError.
std::vector<ImageRecord> list_dataset(const sweeps::DataSpec& spec);

/// Lists, checks and caches `spec`'s images. Throws LeakageError under `leakage: error`
/// when an image appears in two splits, DatasetError for a bad layout, CacheError (naming
/// the file) for a bad image under `on_bad_image: error`. Warnings go to stderr.
PreparedData prepare_data(const sweeps::DataSpec& spec, const PrepareOptions& options);

}  // namespace mammosweep::worker
