#include "worker/leakage_cache.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "io/files.h"
#include "io/hash.h"
#include "worker/cache.h"

namespace mammosweep::worker {
namespace {

std::uint64_t report_key(const std::vector<ImageRecord>& records, const LeakageOptions& o) {
  CacheOptions co;
  co.image_size = 1;
  co.channels = 1;
  co.preprocess_signature = fmt::format(
      "leakage guard {} exact={} near={} augmented={} roboflow_stem={} patient={} "
      "near_threshold={} near_min_correlation={:.17g} augmented_min_inliers={} "
      "augmented_min_correlation={:.17g}",
      kLeakageGuardVersion, o.exact, o.near, o.augmented, o.roboflow_stem, o.patient,
      o.near_threshold, o.near_min_correlation, o.augmented_min_inliers,
      o.augmented_min_correlation);
  std::uint64_t h = cache_key(records, co);
  for (const ImageRecord& r : records) {
    for (const std::string* text : {&r.split, &r.patient_id}) {
      const std::uint64_t n = text->size();
      h = io::fnv1a64(&n, sizeof n, h);
      h = io::fnv1a64(text->data(), text->size(), h);
    }
  }
  return h;
}

std::string serialise(const LeakageReport& report, std::uint64_t key) {
  nlohmann::json j;
  j["key"] = fmt::format("{:016x}", key);
  j["report"] = nlohmann::json::parse(report.to_json());
  j["shapes"] = nlohmann::json::array();
  for (const ImageShape& s : report.shapes) {
    j["shapes"].push_back({s.width, s.height, s.channels, s.bit_depth});
  }
  return j.dump();
}

/// The report in `text` when it is one for `key` over `images` records; throws otherwise.
LeakageReport parse(const std::string& text, std::uint64_t key, std::size_t images) {
  const nlohmann::json j = nlohmann::json::parse(text);
  if (j.at("key").get<std::string>() != fmt::format("{:016x}", key)) throw std::runtime_error("key");
  LeakageReport report;
  const nlohmann::json& r = j.at("report");
  report.images = r.at("images").get<std::size_t>();
  if (report.images != images) throw std::runtime_error("images");
  for (const nlohmann::json& f : r.at("findings")) {
    report.findings.push_back({f.at("kind").get<std::string>(), f.at("a").get<std::string>(),
                               f.at("b").get<std::string>(), f.at("split_a").get<std::string>(),
                               f.at("split_b").get<std::string>(), f.at("distance").get<int>(),
                               f.at("detail").get<std::string>()});
  }
  for (const nlohmann::json& s : j.at("shapes")) {
    report.shapes.push_back({s.at(0).get<int>(), s.at(1).get<int>(), s.at(2).get<int>(),
                             s.at(3).get<int>()});
  }
  return report;
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
      LeakageReport report = parse(io::read_file(path), key, records.size());
      if (hit) *hit = true;
      return report;
    } catch (const std::exception&) {  // torn, foreign or edited: run the guard again
    }
  }
  LeakageReport report = check_leakage(records, options);
  try {
    io::make_dirs(cache_dir);
    io::write_file_atomic(path, serialise(report, key));
  } catch (const io::IoError&) {  // a read-only cache folder costs the next run 2 s, no more
  }
  return report;
}

}  // namespace mammosweep::worker
