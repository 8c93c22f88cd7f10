#pragma once
// The leakage guard's report, kept beside the image cache.
//
// The guard decodes every image and compares them (worker/leakage.h): 2-3 s for the demo's
// 600 images, about a minute for 10,000, on every `run` and every `--resume`. Its report depends only on the files, their labels, splits and patient ids,
// the options and the guard's code, so a sweep run again on unchanged data reads it back:
// `<cache_dir>/leakage-<key:016x>.json` (LeakageReport::to_json with the image shapes),
// written atomically.
//
// Key (64-bit FNV-1a): a signature of kLeakageGuardVersion and every option but `threads`,
// then every path, label, file size and mtime in order (cache.h's records_key, as in the
// image cache's key), then each record's split and patient id. A file that does not parse
// is a miss: the guard runs and the file is written again. A report that cannot be written
// is not an error.
#include <string>
#include <vector>

#include "worker/dataset.h"
#include "worker/leakage.h"

namespace mammosweep::worker {

/// check_leakage(records, options), or the report it gave for the same key before.
/// `hit` (when not null) says which.
LeakageReport check_leakage_cached(const std::vector<ImageRecord>& records,
                                   const LeakageOptions& options, const std::string& cache_dir,
                                   bool* hit = nullptr);

}  // namespace mammosweep::worker
