#include "worker/leakage_cache.h"

#include <fmt/format.h>

#include "io/files.h"
#include "io/hash.h"
#include "worker/cache.h"

namespace mammosweep::worker {
namespace {

std::uint64_t report_key(const std::vector<ImageRecord>& records, const LeakageOptions& o) {
  const std::string signature = fmt::format(
      "leakage guard {} exact={} near={} augmented={} roboflow_stem={} patient={} "
      "near_threshold={} near_min_correlation={:.17g} augmented_min_inliers={} "
      "augmented_min_correlation={:.17g}",
      kLeakageGuardVersion, o.exact, o.near, o.augmented, o.roboflow_stem, o.patient,
      o.near_threshold, o.near_min_correlation, o.augmented_min_inliers,
      o.augmented_min_correlation);
  std::uint64_t h = records_key(records, io::fnv1a64(signature.data(), signature.size()));
  for (const ImageRecord& r : records) {
    for (const std::string* text : {&r.split, &r.patient_id}) {
      const std::uint64_t n = text->size();
      h = io::fnv1a64(&n, sizeof n, h);
      h = io::fnv1a64(text->data(), text->size(), h);
    }
  }
  return h;
}

}  // namespace

LeakageReport check_leakage_cached(const std::vector<ImageRecord>& records,
                                   const LeakageOptions& options, const std::string& cache_dir,
                                   bool* hit) {
  if (hit) *hit = false;
  std::uint64_t key = 0;
  try {
    key = report_key(records, options);
  } catch (const CacheError&) {  // a file that cannot be stat()ed: the guard names it
    return check_leakage(records, options);
  }
  const std::string path = fmt::format("{}/leakage-{:016x}.json", cache_dir, key);
  if (io::file_exists(path)) {
    try {
      LeakageReport report = LeakageReport::from_json(io::read_file(path));
      if (report.images != records.size()) throw std::runtime_error("another file list");
      if (hit) *hit = true;
      return report;
    } catch (const std::exception&) {  // torn, foreign or edited: run the guard again
    }
  }
  LeakageReport report = check_leakage(records, options);
  try {
    io::make_dirs(cache_dir);
    io::write_file_atomic(path, report.to_json(/*with_shapes=*/true));
  } catch (const io::IoError&) {  // a read-only cache folder costs the next run 2 s, no more
  }
  return report;
}

}  // namespace mammosweep::worker
