#include "worker/leakage_augmented.h"

#include <opencv2/calib3d.hpp>
#include <opencv2/core.hpp>
#include <opencv2/features2d.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace mammosweep::worker {
namespace {

constexpr int kCanonical = 256;   // longer side of the canonical frame
constexpr int kThumbSide = 64;    // longer side of the correlation thumbnail
constexpr int kFeatures = 250;    // ORB keypoints per frame
constexpr int kBorderTolerance = 3;
constexpr int kTables = 6;        // LSH tables
constexpr int kKeyBits = 20;      // descriptor bits per key (direct-addressed buckets)
constexpr int kMinVotes = 10;     // votes (in the best orientation-bin pair) to be a candidate
constexpr int kMaxCandidates = 6; // best-voted candidates verified per image and orientation
constexpr int kMaxMatchDistance = 80;
constexpr int kBins = 16;         // orientation bins (a 4-bit tag on index entries)

// ---- canonical frame ------------------------------------------------------------------------

cv::Mat gray8(const Image& image) {
  const std::size_t n = std::size_t(image.width) * image.height;
  if (image.width <= 0 || image.height <= 0 || (image.channels != 1 && image.channels != 3) ||
      image.pixels.size() != n * image.channels)
    throw std::invalid_argument("leakage: invalid image");
  cv::Mat out(image.height, image.width, CV_8U);
  auto* p = out.ptr<std::uint8_t>();
  if (image.channels == 1 && image.bit_depth == 8) {  // the common case: no conversion
    for (std::size_t i = 0; i < n; ++i) p[i] = std::uint8_t(image.pixels[i]);
    return out;
  }
  std::vector<float> gray(n);
  for (std::size_t i = 0; i < n; ++i)
    gray[i] = image.channels == 1 ? float(image.pixels[i])
                                  : float(0.299 * image.pixels[3 * i] + 0.587 * image.pixels[3 * i + 1] +
                                          0.114 * image.pixels[3 * i + 2]);
  float lo = 0, scale = 1;
  if (image.bit_depth == 16) {  // min-max window, as preprocessing does by default
    const auto [mn, mx] = std::minmax_element(gray.begin(), gray.end());
    lo = *mn;
    scale = *mx > *mn ? 255.0f / (*mx - *mn) : 0.0f;
  }
  for (std::size_t i = 0; i < n; ++i) p[i] = cv::saturate_cast<std::uint8_t>((gray[i] - lo) * scale);
  return out;
}

// The median of a row (step 1) or column (step = row stride) of n pixels.
int line_median(const std::uint8_t* p, int n, int step) {
  int hist[256] = {};
  for (int i = 0; i < n; ++i) ++hist[p[i * step]];
  for (int v = 0, seen = 0; v < 256; ++v)
    if ((seen += hist[v]) * 2 >= n) return v;
  return 255;
}

// True when at least 98 % of the line lies within kBorderTolerance of `colour`.
bool line_is(const std::uint8_t* p, int n, int step, int colour) {
  int near = 0;
  for (int i = 0; i < n; ++i) near += std::abs(int(p[i * step]) - colour) <= kBorderTolerance;
  return near * 50 >= n * 49;
}

// The box left after trimming constant borders (letterbox bars, padding) from each side.
cv::Rect trimmed_box(const cv::Mat& g) {
  const int w = g.cols, h = g.rows, stride = int(g.step);
  const std::uint8_t* p = g.ptr<std::uint8_t>();
  int top = 0, bottom = h, left = 0, right = w;
  // Each side: the outermost line's colour, then inwards while lines keep that colour.
  if (int c = line_median(p, w, 1); line_is(p, w, 1, c))
    while (top < h / 2 && line_is(p + top * stride, w, 1, c)) ++top;
  if (int c = line_median(p + (h - 1) * stride, w, 1); line_is(p + (h - 1) * stride, w, 1, c))
    while (bottom > top + h / 8 && line_is(p + (bottom - 1) * stride, w, 1, c)) --bottom;
  const int rows = bottom - top;
  const std::uint8_t* q = p + top * stride;
  if (int c = line_median(q, rows, stride); line_is(q, rows, stride, c))
    while (left < w / 2 && line_is(q + left, rows, stride, c)) ++left;
  if (int c = line_median(q + w - 1, rows, stride); line_is(q + w - 1, rows, stride, c))
    while (right > left + w / 8 && line_is(q + right - 1, rows, stride, c)) --right;
  if (right - left < 8 || bottom - top < 8) return {0, 0, w, h};  // (nearly) blank image
  return {left, top, right - left, bottom - top};
}

cv::Mat resized_to(const cv::Mat& src, int longer_side) {
  const double s = double(longer_side) / std::max(src.cols, src.rows);
  const cv::Size size(std::max(1, int(std::lround(src.cols * s))), std::max(1, int(std::lround(src.rows * s))));
  cv::Mat out;
  cv::resize(src, out, size, 0, 0, s < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
  return out;
}

// Thumbnail minus its 5x5 box blur, clipped at 3x the median absolute residual (as the near
// check does): the texture, without the silhouette every mammogram shares.
cv::Mat high_pass(const cv::Mat& thumb8) {
  cv::Mat t, blur;
  thumb8.convertTo(t, CV_32F);
  cv::blur(t, blur, cv::Size(5, 5), cv::Point(-1, -1), cv::BORDER_REPLICATE);
  t -= blur;
  std::vector<float> mag(t.begin<float>(), t.end<float>());
  for (float& v : mag) v = std::abs(v);
  std::nth_element(mag.begin(), mag.begin() + mag.size() / 2, mag.end());
  const float limit = std::max(3.0f * mag[mag.size() / 2], 1e-3f);
  cv::min(t, limit, t);
  cv::max(t, -limit, t);
  return t;
}

void store(const std::vector<cv::KeyPoint>& kp, const cv::Mat& desc, int which, LocalFeatures& out) {
  auto& pts = out.points[which];
  for (const auto& k : kp) {
    pts.push_back(k.pt.x);
    pts.push_back(k.pt.y);
    out.orientation[which].push_back(std::uint8_t(int(k.angle * kBins / 360.0f) % kBins));
  }
  if (!desc.empty()) out.descriptors[which].assign(desc.datastart, desc.dataend);
}

// ---- index ----------------------------------------------------------------------------------

// Fixed, distinct bit positions per table (deterministic: a splitmix64 sequence).
const std::array<std::array<int, kKeyBits>, kTables>& key_bits() {
  static const auto bits = [] {
    std::array<std::array<int, kKeyBits>, kTables> b{};
    std::uint64_t state = 0x5EED;
    for (auto& table : b) {
      std::vector<bool> used(256, false);
      for (int& pos : table) {
        do {
          std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
          z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
          z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
          pos = int((z ^ (z >> 31)) % 256);
        } while (used[pos]);
        used[pos] = true;
      }
    }
    return b;
  }();
  return bits;
}

std::uint32_t key_of(const std::uint8_t* d, int table) {
  std::uint32_t key = 0;
  const auto& bits = key_bits()[table];
  for (int b = 0; b < kKeyBits; ++b) key |= std::uint32_t((d[bits[b] >> 3] >> (bits[b] & 7)) & 1) << b;
  return key;
}

// One LSH table: the plain-frame descriptors with key k are entry[start[k] .. start[k + 1])
// (counting sort), each as image << 4 | orientation bin.
struct Table {
  std::vector<std::uint32_t> start, entry;
};

// ---- verification ---------------------------------------------------------------------------

std::string describe(const cv::Matx23d& m, int inliers, double correlation) {
  const double a = m(0, 0), b = m(0, 1), c = m(1, 0), d = m(1, 1);
  const double scale = std::sqrt(std::abs(a * d - b * c));
  struct Named {
    double a, b, c, d;
    const char* name;
  };
  static const Named dihedral[] = {
      {1, 0, 0, 1, "same orientation"},         {-1, 0, 0, 1, "mirrored left-right"},
      {1, 0, 0, -1, "mirrored top-bottom"},     {-1, 0, 0, -1, "rotated 180 degrees"},
      {0, -1, 1, 0, "rotated 90 degrees clockwise"},
      {0, 1, -1, 0, "rotated 90 degrees counter-clockwise"},
      {0, 1, 1, 0, "transposed (mirrored and rotated 90 degrees)"},
      {0, -1, -1, 0, "anti-transposed (mirrored and rotated 90 degrees)"}};
  const Named* best = nullptr;
  double best_err = 1e9;
  for (const auto& n : dihedral) {
    const double e = std::abs(a / scale - n.a) + std::abs(b / scale - n.b) +
                     std::abs(c / scale - n.c) + std::abs(d / scale - n.d);
    if (e < best_err) best_err = e, best = &n;
  }
  char text[200];
  if (best_err < 0.35) {
    std::snprintf(text, sizeof(text), "%s, scale %.2f, %d matched features, aligned correlation %.3f",
                  best->name, scale, inliers, correlation);
  } else {
    const bool mirrored = a * d - b * c < 0;
    std::snprintf(text, sizeof(text),
                  "%srotated %.0f degrees, scale %.2f, %d matched features, aligned correlation %.3f",
                  mirrored ? "mirrored and " : "", std::atan2(c, a) * 180 / CV_PI, scale, inliers,
                  correlation);
  }
  return text;
}

// Pearson correlation of `b`'s high-pass thumbnail and `a`'s warped onto it by `m` (canonical
// frame of a -> canonical frame of b), over the pixels a covers; -1 when they cover < 25 %.
double aligned_correlation(const LocalFeatures& fa, const LocalFeatures& fb, const cv::Matx23d& m) {
  const cv::Mat ta(fa.thumb_height, fa.thumb_width, CV_32F, const_cast<float*>(fa.thumb.data()));
  const cv::Mat tb(fb.thumb_height, fb.thumb_width, CV_32F, const_cast<float*>(fb.thumb.data()));
  // thumb_b <- canonical_b <- canonical_a <- thumb_a, with pixel centres at +0.5.
  auto scaling = [](double sx, double sy) {
    return cv::Matx33d(sx, 0, 0.5 * sx - 0.5, 0, sy, 0.5 * sy - 0.5, 0, 0, 1);
  };
  const cv::Matx33d ma(m(0, 0), m(0, 1), m(0, 2), m(1, 0), m(1, 1), m(1, 2), 0, 0, 1);
  const cv::Matx33d full =
      scaling(double(fb.thumb_width) / fb.width, double(fb.thumb_height) / fb.height) * ma *
      scaling(double(fa.width) / fa.thumb_width, double(fa.height) / fa.thumb_height);
  const cv::Matx23d t(full(0, 0), full(0, 1), full(0, 2), full(1, 0), full(1, 1), full(1, 2));
  cv::Mat warped, cover;
  cv::warpAffine(ta, warped, t, tb.size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT, 0);
  cv::warpAffine(cv::Mat::ones(ta.size(), CV_32F), cover, t, tb.size(), cv::INTER_LINEAR,
                 cv::BORDER_CONSTANT, 0);
  double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
  int count = 0;
  for (int y = 0; y < tb.rows; ++y)
    for (int x = 0; x < tb.cols; ++x) {
      if (cover.at<float>(y, x) < 0.999f) continue;
      const double u = warped.at<float>(y, x), v = tb.at<float>(y, x);
      sa += u, sb += v, saa += u * u, sbb += v * v, sab += u * v;
      ++count;
    }
  if (count * 4 < tb.rows * tb.cols) return -1;
  const double cov = sab - sa * sb / count, va = saa - sa * sa / count, vb = sbb - sb * sb / count;
  return va > 0 && vb > 0 ? cov / std::sqrt(va * vb) : -1;
}

// Matches a's frame `which` (0 plain, 1 mirrored) against b's plain frame; on success `m`
// maps a's canonical frame onto b's.
bool verify(const LocalFeatures& fa, int which, const LocalFeatures& fb, const AugmentedOptions& o,
            cv::Matx23d& m, int& inliers, double& correlation) {
  const int na = int(fa.descriptors[which].size() / 32), nb = int(fb.descriptors[0].size() / 32);
  if (na < o.min_inliers || nb < o.min_inliers) return false;
  const std::vector<TwoNearest> knn = two_nearest_hamming(
      fa.descriptors[which].data(), std::size_t(na), fb.descriptors[0].data(), std::size_t(nb));
  std::vector<cv::Point2f> src, dst;
  for (int q = 0; q < na; ++q) {
    const TwoNearest& k = knn[std::size_t(q)];
    if (k.best < 0 || k.best_distance > kMaxMatchDistance) continue;
    if (k.second_distance >= 0 && float(k.best_distance) > 0.85f * float(k.second_distance)) continue;
    src.emplace_back(fa.points[which][2 * q], fa.points[which][2 * q + 1]);
    dst.emplace_back(fb.points[0][2 * k.best], fb.points[0][2 * k.best + 1]);
  }
  if (int(src.size()) < o.min_inliers) return false;
  std::vector<unsigned char> inlier;
  const cv::Mat fit = cv::estimateAffine2D(src, dst, inlier, cv::RANSAC, 3.0, 500, 0.995, 10);
  if (fit.empty()) return false;
  inliers = int(std::count(inlier.begin(), inlier.end(), 1));
  if (inliers < o.min_inliers) return false;
  m = cv::Matx23d(fit.ptr<double>());
  if (which == 1) {  // the points were in the mirror frame: x_m = width - 1 - x
    for (int r = 0; r < 2; ++r) {
      m(r, 2) += m(r, 0) * (fa.width - 1);
      m(r, 0) = -m(r, 0);
    }
  }
  // A plausible crop/scale/rotation: both singular values in [0.4, 2.5], ratio <= 1.6.
  cv::Mat sv;
  cv::SVD::compute(cv::Mat(cv::Matx22d(m(0, 0), m(0, 1), m(1, 0), m(1, 1))), sv, cv::SVD::NO_UV);
  const double s1 = sv.at<double>(0), s2 = sv.at<double>(1);
  if (s2 < 0.4 || s1 > 2.5 || s1 > 1.6 * s2) return false;
  correlation = aligned_correlation(fa, fb, m);
  return correlation >= o.min_correlation;
}

// out[j] = the Hamming distance of the 32-byte descriptor `q` to the j-th of the `nb` at `b`.
// target_clones: the POPCNT instruction where the CPU has it (x86-64 CPUs since 2007-2008),
// chosen when the program loads; the build targets plain x86-64.
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target_clones("popcnt", "default")))
#endif
void hamming_rows(const std::uint8_t* q, const std::uint8_t* b, std::size_t nb, int* out) {
  std::uint64_t x[4];
  std::memcpy(x, q, 32);
  for (std::size_t j = 0; j < nb; ++j, b += 32) {
    std::uint64_t y[4];
    std::memcpy(y, b, 32);
    out[j] = __builtin_popcountll(x[0] ^ y[0]) + __builtin_popcountll(x[1] ^ y[1]) +
             __builtin_popcountll(x[2] ^ y[2]) + __builtin_popcountll(x[3] ^ y[3]);
  }
}

}  // namespace

std::vector<TwoNearest> two_nearest_hamming(const std::uint8_t* a, std::size_t na,
                                            const std::uint8_t* b, std::size_t nb) {
  std::vector<TwoNearest> out(na);
  std::vector<int> distance(nb);
  for (std::size_t i = 0; i < na; ++i) {
    hamming_rows(a + 32 * i, b, nb, distance.data());
    TwoNearest& k = out[i];
    for (std::size_t j = 0; j < nb; ++j) {  // strictly nearer replaces: ties keep the lower index
      const int d = distance[j];
      if (k.best < 0 || d < k.best_distance) {
        if (k.best >= 0) k.second_distance = k.best_distance;
        k.best = int(j);
        k.best_distance = d;
      } else if (k.second_distance < 0 || d < k.second_distance) {
        k.second_distance = d;
      }
    }
  }
  return out;
}

LocalFeatures local_features(const Image& image) {
  const cv::Mat gray = gray8(image);
  const cv::Mat frame = resized_to(gray(trimmed_box(gray)), kCanonical);
  LocalFeatures f;
  f.width = frame.cols;
  f.height = frame.rows;
  // FAST threshold 2: mammogram texture is smooth, so only a low threshold finds enough
  // corners inside the breast; Harris ranking keeps the best kFeatures.
  auto orb = cv::ORB::create(kFeatures, 1.2f, 6, 31, 0, 2, cv::ORB::HARRIS_SCORE, 31, 2);
  std::vector<cv::KeyPoint> kp;
  cv::Mat desc;
  orb->detectAndCompute(frame, cv::noArray(), kp, desc);
  store(kp, desc, 0, f);
  // The mirror frame: FAST and Harris are mirror-symmetric, so its keypoints are these,
  // mirrored (angle -> 180 - angle); only the descriptors are computed again.
  for (auto& k : kp) {
    k.pt.x = float(frame.cols - 1) - k.pt.x;
    k.angle = std::fmod(540.0f - k.angle, 360.0f);
  }
  cv::Mat mirrored;
  cv::flip(frame, mirrored, 1);
  orb->detectAndCompute(mirrored, cv::noArray(), kp, desc, true);
  store(kp, desc, 1, f);
  const cv::Mat thumb = high_pass(resized_to(frame, kThumbSide));
  f.thumb_width = thumb.cols;
  f.thumb_height = thumb.rows;
  f.thumb.assign(thumb.begin<float>(), thumb.end<float>());
  return f;
}

std::vector<AugmentedMatch> find_augmented_copies(const std::vector<LocalFeatures>& features,
                                                  const std::vector<int>& group,
                                                  const AugmentedOptions& options) {
  const std::size_t n = features.size();
  if (group.size() != n) throw std::invalid_argument("find_augmented_copies: one group per image");
  if (n >= (std::size_t(1) << 28))
    throw std::invalid_argument("find_augmented_copies: too many images");
  // Index: every plain descriptor under kTables keys.
  std::array<Table, kTables> tables;
  for (int t = 0; t < kTables; ++t) {
    auto& table = tables[t];
    table.start.assign((std::size_t(1) << kKeyBits) + 1, 0);
    for (const auto& f : features)
      for (std::size_t k = 0; k + 32 <= f.descriptors[0].size(); k += 32)
        ++table.start[key_of(&f.descriptors[0][k], t) + 1];
    for (std::size_t k = 1; k < table.start.size(); ++k) table.start[k] += table.start[k - 1];
    table.entry.resize(table.start.back());
    std::vector<std::uint32_t> fill(table.start.begin(), table.start.end() - 1);
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t k = 0; k + 32 <= features[i].descriptors[0].size(); k += 32)
        table.entry[fill[key_of(&features[i].descriptors[0][k], t)]++] =
            std::uint32_t(i) << 4 | features[i].orientation[0][k / 32];
  }
  // Keys shared by very many images carry no identity (flat regions, common edges).
  const std::size_t max_bucket = std::max<std::size_t>(64, n / 50);

  std::vector<std::vector<AugmentedMatch>> per_image(n);
  std::atomic<std::size_t> next{0};
  std::exception_ptr first_error;
  std::mutex error_mutex;
  auto work = [&] {
    std::vector<int> votes(n * kBins, 0);  // per image and orientation difference
    std::vector<std::uint32_t> stamp(n, 0);
    std::uint32_t current = 0;
    std::vector<std::uint32_t> touched;
    for (std::size_t a = next++; a < n; a = next++) {
      try {
        for (int which = 0; which < 2; ++which) {
          const auto& d = features[a].descriptors[which];
          for (std::size_t k = 0; k + 32 <= d.size(); k += 32) {
            ++current;
            const int bin = features[a].orientation[which][k / 32];
            for (int t = 0; t < kTables; ++t) {
              const std::uint32_t key = key_of(&d[k], t);
              auto it = tables[t].entry.begin() + tables[t].start[key];
              const auto end = tables[t].entry.begin() + tables[t].start[key + 1];
              if (std::size_t(end - it) > max_bucket) continue;
              for (; it != end; ++it) {
                const std::uint32_t b = *it >> 4;
                if (b <= a || group[b] == group[a] || stamp[b] == current) continue;
                stamp[b] = current;
                int& v = votes[b * kBins + ((int(*it & 15) - bin + kBins) % kBins)];
                if (v++ == 0) touched.push_back(b);
              }
            }
          }
          // An image's score: its votes in the best pair of neighbouring orientation bins (b
          // may be in `touched` more than once; its votes are zeroed the first time).
          std::vector<std::pair<int, std::uint32_t>> candidates;
          for (std::uint32_t b : touched) {
            int* v = &votes[b * kBins];
            int best = 0;
            for (int r = 0; r < kBins; ++r) best = std::max(best, v[r] + v[(r + 1) % kBins]);
            if (best >= kMinVotes) candidates.push_back({-best, b});
            std::fill(v, v + kBins, 0);
          }
          touched.clear();
          std::sort(candidates.begin(), candidates.end());
          if (candidates.size() > std::size_t(kMaxCandidates)) candidates.resize(kMaxCandidates);
          // Copies collect far more votes than look-alikes, so few candidates pass kMinVotes:
          // verify each of the best kMaxCandidates.
          for (const auto& candidate : candidates) {
            const std::uint32_t b = candidate.second;
            auto& found = per_image[a];
            if (std::any_of(found.begin(), found.end(),
                            [&](const AugmentedMatch& m) { return m.a == b || m.b == b; }))
              continue;
            cv::Matx23d m;
            AugmentedMatch match;
            if (!verify(features[a], which, features[b], options, m, match.inliers, match.correlation))
              continue;
            match.a = a;
            match.b = b;
            if (group[b] < group[a]) {  // describe it from the earlier group
              cv::Matx23d inverse;
              cv::invertAffineTransform(m, inverse);
              m = inverse;
              std::swap(match.a, match.b);
            }
            match.transform = describe(m, match.inliers, match.correlation);
            found.push_back(std::move(match));
          }
        }
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!first_error) first_error = std::current_exception();
        next = n;
      }
    }
  };
  const unsigned threads = unsigned(
      std::clamp<std::size_t>(std::size_t(std::max(1, options.threads)), 1, std::max<std::size_t>(n, 1)));
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  if (first_error) std::rethrow_exception(first_error);

  std::vector<AugmentedMatch> out;
  for (auto& v : per_image)
    for (auto& m : v) out.push_back(std::move(m));
  std::sort(out.begin(), out.end(), [](const AugmentedMatch& x, const AugmentedMatch& y) {
    return x.a != y.a ? x.a < y.a : x.b < y.b;
  });
  return out;
}

}  // namespace mammosweep::worker
