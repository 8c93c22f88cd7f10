#include "worker/leakage.h"

#include "io/files.h"
#include "worker/leakage_augmented.h"
#include "worker/preprocess.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <exception>
#include <map>
#include <mutex>
#include <ostream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>
#include <unordered_map>

namespace mammosweep::worker {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr int kThumb = 32;

// 64-bit content hash (not cryptographic; collisions are ~n^2 / 2^64).
std::uint64_t mix64(std::uint64_t h) {
  h ^= h >> 33;
  h *= 0xFF51AFD7ED558CCDULL;
  h ^= h >> 33;
  h *= 0xC4CEB9FE1A85EC53ULL;
  h ^= h >> 33;
  return h;
}

std::uint64_t hash_bytes(const std::uint8_t* p, std::size_t n, std::uint64_t seed) {
  std::uint64_t h = mix64(seed ^ (n * 0x9E3779B97F4A7C15ULL));
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t w = 0;
    for (int k = 0; k < 8; ++k) w |= std::uint64_t(p[i + k]) << (8 * k);
    h = mix64(h ^ w) + 0x9E3779B97F4A7C15ULL;
  }
  std::uint64_t tail = 0;
  for (int k = 0; i < n; ++i, ++k) tail |= std::uint64_t(p[i]) << (8 * k);
  return mix64(h ^ tail ^ 0xABCDEF);
}

std::vector<float> gray_thumbnail(const Image& image) {
  const std::size_t n = std::size_t(image.width) * image.height;
  if (image.width <= 0 || image.height <= 0 || image.pixels.size() != n * image.channels)
    throw std::invalid_argument("leakage: invalid image");
  std::vector<float> gray(n);
  for (std::size_t i = 0; i < n; ++i)
    gray[i] = image.channels == 1
                  ? float(image.pixels[i])
                  : float(0.299 * image.pixels[3 * i] + 0.587 * image.pixels[3 * i + 1] +
                          0.114 * image.pixels[3 * i + 2]);
  return resize_plane(gray.data(), image.width, image.height, kThumb, kThumb);
}

std::uint64_t phash_of_thumb(const std::vector<float>& t) {
  static const auto table = [] {
    std::vector<double> c(8 * kThumb);
    for (int u = 0; u < 8; ++u)
      for (int x = 0; x < kThumb; ++x) c[u * kThumb + x] = std::cos((2 * x + 1) * u * kPi / (2 * kThumb));
    return c;
  }();
  double rows[kThumb][8];
  for (int y = 0; y < kThumb; ++y)
    for (int u = 0; u < 8; ++u) {
      double s = 0;
      for (int x = 0; x < kThumb; ++x) s += t[y * kThumb + x] * table[u * kThumb + x];
      rows[y][u] = s;
    }
  double coef[64];
  for (int v = 0; v < 8; ++v)
    for (int u = 0; u < 8; ++u) {
      double s = 0;
      for (int y = 0; y < kThumb; ++y) s += rows[y][u] * table[v * kThumb + y];
      coef[v * 8 + u] = s;
    }
  std::vector<double> ac(coef + 1, coef + 64);
  std::nth_element(ac.begin(), ac.begin() + 31, ac.end());
  const double median = ac[31];
  std::uint64_t h = 0;
  for (int k = 1; k < 64; ++k)
    if (coef[k] > median) h |= std::uint64_t(1) << k;
  return h;
}

// High-pass: the thumbnail minus its 5x5 box blur (edges clamped). Mammograms share their
// low frequencies (silhouette on black), so copies are confirmed on the texture left here.
std::vector<float> high_pass(const std::vector<float>& t) {
  std::vector<float> out(t.size());
  for (int y = 0; y < kThumb; ++y)
    for (int x = 0; x < kThumb; ++x) {
      double s = 0;
      for (int dy = -2; dy <= 2; ++dy)
        for (int dx = -2; dx <= 2; ++dx) {
          const int yy = std::clamp(y + dy, 0, kThumb - 1), xx = std::clamp(x + dx, 0, kThumb - 1);
          s += t[yy * kThumb + xx];
        }
      out[y * kThumb + x] = static_cast<float>(t[y * kThumb + x] - s / 25.0);
    }
  // Clip to 3x the median absolute residual so a few strong edges (the skin line) do not
  // dominate the correlation.
  std::vector<float> mag(out.size());
  for (std::size_t i = 0; i < out.size(); ++i) mag[i] = std::abs(out[i]);
  std::nth_element(mag.begin(), mag.begin() + mag.size() / 2, mag.end());
  const float limit = 3.0f * mag[mag.size() / 2];
  for (float& v : out) v = std::clamp(v, -limit, limit);
  return out;
}

std::vector<float> normalise(std::vector<float> t) {
  double mean = 0;
  for (float v : t) mean += v;
  mean /= double(t.size());
  double norm = 0;
  for (float& v : t) {
    v = static_cast<float>(v - mean);
    norm += double(v) * v;
  }
  norm = std::sqrt(norm);
  for (float& v : t) v = norm > 0 ? static_cast<float>(v / norm) : 0.0f;
  return t;
}

double correlation(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += double(a[i]) * b[i];
  return s;
}

struct Fingerprint {
  std::uint64_t file_hash = 0, file_size = 0, pixel_hash = 0, phash = 0;
  std::vector<float> thumb;  // normalised
  LocalFeatures local;       // for augmented copies
};

int split_rank(const std::string& s) { return s == "train" ? 0 : s == "val" ? 1 : s == "test" ? 2 : 3; }

int kind_rank(const std::string& k) {
  return k == "exact" ? 0 : k == "near" ? 1 : k == "augmented" ? 2 : k == "roboflow_stem" ? 3 : 4;
}

// Appends a finding with the earlier split first.
void add_finding(std::vector<LeakageFinding>& out, const std::string& kind, const ImageRecord& x,
                 const ImageRecord& y, int distance, std::string detail) {
  const bool swap = split_rank(y.split) < split_rank(x.split) ||
                    (split_rank(y.split) == split_rank(x.split) && y.path < x.path);
  const ImageRecord& a = swap ? y : x;
  const ImageRecord& b = swap ? x : y;
  out.push_back({kind, a.path, b.path, a.split, b.split, distance, std::move(detail)});
}

std::string format_finding(const LeakageFinding& f) {
  std::ostringstream s;
  s << f.kind << ": " << f.a << " (" << f.split_a << ") <-> " << f.b << " (" << f.split_b << ")";
  if (f.kind == "near") s << " hamming " << f.distance;
  if (!f.detail.empty()) s << " [" << f.detail << "]";
  return s.str();
}

}  // namespace

int hamming_distance(std::uint64_t a, std::uint64_t b) {
  return __builtin_popcountll(a ^ b);
}

std::vector<float> thumbnail32(const Image& image) {
  return normalise(high_pass(gray_thumbnail(image)));
}

std::uint64_t perceptual_hash(const Image& image) { return phash_of_thumb(gray_thumbnail(image)); }

std::string roboflow_stem(const std::string& path) {
  static const std::regex pattern(R"(^(.+)_(jpg|jpeg|png|bmp|tif|tiff)\.rf\.[0-9A-Za-z]+\.(jpg|jpeg|png)$)",
                                  std::regex::icase);
  const std::string name = io::file_name(path);
  std::smatch m;
  return std::regex_match(name, m, pattern) ? m[1].str() : std::string();
}

LeakagePolicy parse_leakage_policy(const std::string& text) {
  std::string t;
  for (char c : text) t += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (t == "error") return LeakagePolicy::error;
  if (t == "warn") return LeakagePolicy::warn;
  if (t == "ignore") return LeakagePolicy::ignore;
  throw std::invalid_argument("leakage policy '" + text + "' is not one of error, warn, ignore");
}

LeakageReport check_leakage(const std::vector<ImageRecord>& records, const LeakageOptions& options) {
  LeakageReport report;
  report.images = records.size();
  const std::size_t n = records.size();
  auto& out = report.findings;

  if (options.exact || options.near || options.augmented) {
    std::vector<Fingerprint> fp(n);
    report.shapes.resize(n);
    std::atomic<std::size_t> next{0};
    std::exception_ptr first_error;
    std::mutex error_mutex;
    auto work = [&] {
      for (std::size_t i = next++; i < n; i = next++) {
        try {
          const std::string bytes = read_file_bytes(records[i].path);
          Fingerprint& f = fp[i];
          f.file_size = bytes.size();
          f.file_hash = hash_bytes(byte_ptr(bytes), bytes.size(), 1);
          const Image img = decode_image_memory(byte_ptr(bytes), bytes.size(), records[i].path);
          report.shapes[i] = {img.width, img.height, img.channels, img.bit_depth};
          if (options.augmented) f.local = local_features(img);
          const std::uint64_t shape[4] = {std::uint64_t(img.width), std::uint64_t(img.height),
                                          std::uint64_t(img.channels), std::uint64_t(img.bit_depth)};
          f.pixel_hash = hash_bytes(reinterpret_cast<const std::uint8_t*>(img.pixels.data()),
                                    img.pixels.size() * 2,
                                    hash_bytes(reinterpret_cast<const std::uint8_t*>(shape),
                                               sizeof(shape), 2));
          const auto thumb = gray_thumbnail(img);
          f.phash = phash_of_thumb(thumb);
          f.thumb = normalise(high_pass(thumb));
        } catch (...) {
          std::lock_guard<std::mutex> lock(error_mutex);
          if (!first_error) first_error = std::current_exception();
          next = n;  // stop the other workers early
        }
      }
    };
    unsigned threads = options.threads > 0 ? unsigned(options.threads)
                                           : std::min(8u, std::max(1u, std::thread::hardware_concurrency()));
    threads = static_cast<unsigned>(std::min<std::size_t>(threads, std::max<std::size_t>(n, 1)));
    std::vector<std::thread> pool;
    for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
    if (first_error) std::rethrow_exception(first_error);

    // Pairs already reported as exact are not repeated as near, nor either as augmented.
    std::set<std::pair<std::size_t, std::size_t>> exact_pairs, near_pairs;
    if (options.exact) {
      std::map<std::pair<std::uint64_t, std::uint64_t>, std::vector<std::size_t>> by_file, by_pixels;
      for (std::size_t i = 0; i < n; ++i) {
        by_file[{fp[i].file_hash, fp[i].file_size}].push_back(i);
        by_pixels[{fp[i].pixel_hash, 0}].push_back(i);
      }
      for (const auto* groups : {&by_file, &by_pixels}) {
        const char* detail = groups == &by_file ? "identical file bytes" : "identical decoded pixels";
        for (const auto& [key, members] : *groups)
          for (std::size_t x = 0; x < members.size(); ++x)
            for (std::size_t y = x + 1; y < members.size(); ++y) {
              const std::size_t i = members[x], j = members[y];
              if (records[i].split == records[j].split) continue;
              if (!exact_pairs.insert({i, j}).second) continue;
              add_finding(out, "exact", records[i], records[j], 0, detail);
            }
      }
    }
    if (options.near) {
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = i + 1; j < n; ++j) {
          if (records[i].split == records[j].split) continue;
          const int d = hamming_distance(fp[i].phash, fp[j].phash);
          if (d > options.near_threshold || exact_pairs.count({i, j})) continue;
          const double r = correlation(fp[i].thumb, fp[j].thumb);
          if (r < options.near_min_correlation) continue;
          char detail[64];
          std::snprintf(detail, sizeof(detail), "thumbnail correlation %.3f", r);
          add_finding(out, "near", records[i], records[j], d, detail);
          near_pairs.insert({i, j});
        }
    }
    if (options.augmented) {
      std::vector<LocalFeatures> features(n);
      std::vector<int> group(n);
      for (std::size_t i = 0; i < n; ++i) {
        features[i] = std::move(fp[i].local);
        group[i] = split_rank(records[i].split);
      }
      AugmentedOptions ao;
      ao.min_inliers = options.augmented_min_inliers;
      ao.min_correlation = options.augmented_min_correlation;
      ao.threads = int(threads);
      for (const auto& m : find_augmented_copies(features, group, ao)) {
        const std::pair<std::size_t, std::size_t> pair{std::min(m.a, m.b), std::max(m.a, m.b)};
        if (exact_pairs.count(pair) || near_pairs.count(pair)) continue;
        add_finding(out, "augmented", records[m.a], records[m.b], 0, m.transform);
      }
    }
  }

  if (options.roboflow_stem) {
    std::map<std::string, std::vector<std::size_t>> by_stem;
    for (std::size_t i = 0; i < n; ++i) {
      const std::string stem = roboflow_stem(records[i].path);
      if (!stem.empty()) by_stem[stem].push_back(i);
    }
    for (const auto& [stem, members] : by_stem)
      for (std::size_t x = 0; x < members.size(); ++x)
        for (std::size_t y = x + 1; y < members.size(); ++y) {
          const auto& a = records[members[x]];
          const auto& b = records[members[y]];
          if (a.split != b.split) add_finding(out, "roboflow_stem", a, b, 0, "stem " + stem);
        }
  }

  if (options.patient) {
    // patient -> split -> (first path, image count)
    std::map<std::string, std::map<int, std::pair<const ImageRecord*, std::size_t>>> by_patient;
    for (const auto& r : records) {
      if (r.patient_id.empty()) continue;
      auto& slot = by_patient[r.patient_id][split_rank(r.split)];
      if (!slot.first || r.path < slot.first->path) slot.first = &r;
      ++slot.second;
    }
    for (const auto& [patient, splits] : by_patient)
      for (auto x = splits.begin(); x != splits.end(); ++x)
        for (auto y = std::next(x); y != splits.end(); ++y) {
          std::ostringstream d;
          d << "patient " << patient << ": " << x->second.second << " image(s) in "
            << x->second.first->split << ", " << y->second.second << " in "
            << y->second.first->split;
          add_finding(out, "patient", *x->second.first, *y->second.first, 0, d.str());
        }
  }

  std::stable_sort(out.begin(), out.end(), [](const LeakageFinding& p, const LeakageFinding& q) {
    if (kind_rank(p.kind) != kind_rank(q.kind)) return kind_rank(p.kind) < kind_rank(q.kind);
    if (p.a != q.a) return p.a < q.a;
    return p.b < q.b;
  });
  return report;
}

std::size_t LeakageReport::count(const std::string& kind) const {
  return static_cast<std::size_t>(std::count_if(
      findings.begin(), findings.end(), [&](const LeakageFinding& f) { return f.kind == kind; }));
}

std::string LeakageReport::to_json(bool with_shapes) const {
  nlohmann::json j;
  j["images"] = images;
  j["counts"] = {{"exact", count("exact")},
                 {"near", count("near")},
                 {"augmented", count("augmented")},
                 {"roboflow_stem", count("roboflow_stem")},
                 {"patient", count("patient")}};
  j["findings"] = nlohmann::json::array();
  for (const auto& f : findings)
    j["findings"].push_back({{"kind", f.kind},
                             {"a", f.a},
                             {"b", f.b},
                             {"split_a", f.split_a},
                             {"split_b", f.split_b},
                             {"distance", f.distance},
                             {"detail", f.detail}});
  if (with_shapes) {
    j["shapes"] = nlohmann::json::array();
    for (const ImageShape& s : shapes) j["shapes"].push_back({s.width, s.height, s.channels, s.bit_depth});
  }
  return j.dump(2);
}

LeakageReport LeakageReport::from_json(const std::string& text) {
  const nlohmann::json j = nlohmann::json::parse(text);
  LeakageReport report;
  report.images = j.at("images").get<std::size_t>();
  for (const nlohmann::json& f : j.at("findings")) {
    report.findings.push_back({f.at("kind").get<std::string>(), f.at("a").get<std::string>(),
                               f.at("b").get<std::string>(), f.at("split_a").get<std::string>(),
                               f.at("split_b").get<std::string>(), f.at("distance").get<int>(),
                               f.at("detail").get<std::string>()});
  }
  if (j.contains("shapes")) {
    for (const nlohmann::json& s : j.at("shapes")) {
      report.shapes.push_back({s.at(0).get<int>(), s.at(1).get<int>(), s.at(2).get<int>(),
                               s.at(3).get<int>()});
    }
    if (report.shapes.size() != report.images) throw std::runtime_error("one shape per image expected");
  }
  return report;
}

std::string LeakageReport::summary(std::size_t max_pairs) const {
  std::ostringstream s;
  s << "leakage check over " << images << " images: " << findings.size()
    << " cross-split finding(s) (exact " << count("exact") << ", near " << count("near")
    << ", augmented " << count("augmented") << ", roboflow_stem " << count("roboflow_stem")
    << ", patient " << count("patient") << ")";
  for (std::size_t i = 0; i < findings.size() && i < max_pairs; ++i)
    s << "\n  " << format_finding(findings[i]);
  if (findings.size() > max_pairs) s << "\n  ... and " << findings.size() - max_pairs << " more";
  return s.str();
}

void enforce(const LeakageReport& report, LeakagePolicy policy, std::ostream* warn_to) {
  if (report.findings.empty() || policy == LeakagePolicy::ignore) return;
  if (policy == LeakagePolicy::warn) {
    if (warn_to) *warn_to << "warning: " << report.summary() << "\n";
    return;
  }
  throw LeakageError(report.summary() +
                     "\nThe same image or patient appears in two splits, so validation/test "
                     "scores would be inflated. Remove the duplicates, re-split by patient, or "
                     "set the leakage policy to warn/ignore to proceed anyway.");
}

}  // namespace mammosweep::worker
