// Leakage guard: finds the same image (or the same patient) in two different splits.
//
// Checks (each pair is reported once, the earlier split first: train < val < test):
//  * exact:  identical file bytes, or identical decoded pixels (same image re-saved);
//            distance 0.
//  * near:   perceptual copies. Each image gets a 63-bit DCT pHash (grayscale, area-downscaled
//            to 32x32, 8x8 lowest DCT-II frequencies without DC, each bit = coefficient above
//            the median). A pair whose Hamming distance is <= near_threshold is confirmed when
//            the correlation of the two 32x32 high-pass thumbnails (thumbnail minus its 5x5
//            box blur, clipped at 3x the median absolute residual) is >= near_min_correlation.
//            Mammograms share their low frequencies (silhouette on black: distinct synthetic
//            images come as close as Hamming 2), so the texture test is what rejects
//            look-alikes. Tuned on synthetic images: distinct pairs correlate <= 0.70,
//            JPEG q75 / 0.8x resize / +10 brightness copies >= 0.93.
//            Robust to JPEG re-encoding, resizing and brightness/contrast changes.
//            distance = Hamming distance.
//  * augmented: one image mirrored, rotated (90/180/270 or any angle), cropped to >= ~75 % of
//            its area, scaled, or padded/letterboxed into a canvas, with or without a
//            brightness shift: ORB features in an LSH index, RANSAC affine verification and an
//            aligned high-pass correlation (worker/leakage_augmented.h). detail = the
//            transform; distance 0.
//  * roboflow_stem: Roboflow exports name files <stem>_<ext>.rf.<hash>.<ext>; the same
//            <stem> in two splits is one source image (often augmented copies). distance 0.
//  * patient: a non-empty patient_id present in two splits; a/b are one file of each split.
// Cost: one decode and ORB extraction per image (threads in parallel), O(n^2) 64-bit
// popcounts for near (~6M for 3,400 images), and a few verified candidates per image for
// augmented: 10,000 128 px images in under a minute on 2 cores (docs/performance.md).
#pragma once

#include <cstdint>
#include <iosfwd>
#include <stdexcept>
#include <string>
#include <vector>

#include "worker/dataset.h"
#include "worker/image.h"

namespace mammosweep::worker {

/// Bump when a check (or the decoding it relies on) changes what it finds for the same images
/// and options: reports kept by worker/leakage_cache.h carry it in their key.
inline constexpr int kLeakageGuardVersion = 1;

struct LeakageOptions {
  bool exact = true, near = true, augmented = true, roboflow_stem = true, patient = true;
  int near_threshold = 10;                 // max pHash Hamming distance for a near candidate
  double near_min_correlation = 0.85;      // min high-pass thumbnail correlation to confirm
  int augmented_min_inliers = 15;          // min RANSAC inliers for an augmented copy
  double augmented_min_correlation = 0.5;  // min aligned high-pass correlation to confirm it
  int threads = 0;                         // decode threads; 0 = min(hardware, 8)
};

struct LeakageFinding {
  std::string kind;  // "exact" | "near" | "augmented" | "roboflow_stem" | "patient"
  std::string a, b;  // file paths
  std::string split_a, split_b;
  int distance = 0;    // pHash Hamming distance for "near", else 0
  std::string detail;  // e.g. "identical file bytes", "correlation 0.991", "stem IMG_12"
};

/// What decoding found out about one image.
struct ImageShape {
  int width = 0, height = 0, channels = 0, bit_depth = 0;
};

struct LeakageReport {
  std::size_t images = 0;  // records examined
  std::vector<LeakageFinding> findings;
  /// One per record, in record order, when the images were decoded (exact, near or
  /// augmented enabled); empty otherwise.
  std::vector<ImageShape> shapes;
  /// {"images": N, "counts": {"exact": .., ...}, "findings": [{kind, a, b, split_a, split_b,
  /// distance, detail}, ...]}, and with `with_shapes` also "shapes": [[width, height,
  /// channels, bit_depth], ...] (the report kept by worker/leakage_cache.h).
  std::string to_json(bool with_shapes = false) const;
  /// The report that to_json wrote (with or without shapes). Throws std::exception when
  /// `text` is not such a report.
  static LeakageReport from_json(const std::string& text);
  /// One line of counts, then up to `max_pairs` findings, one per line.
  std::string summary(std::size_t max_pairs = 20) const;
  std::size_t count(const std::string& kind) const;
};

enum class LeakagePolicy { error, warn, ignore };
/// "error" | "warn" | "ignore" (any case); throws std::invalid_argument otherwise.
LeakagePolicy parse_leakage_policy(const std::string& text);

class LeakageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Runs the checks enabled in `options` over `records`. Throws ImageError when a file
/// cannot be read or decoded (only when exact, near or augmented is enabled).
LeakageReport check_leakage(const std::vector<ImageRecord>& records,
                            const LeakageOptions& options = {});

/// error: throws LeakageError listing the pairs when there are findings; warn: writes the
/// summary to `warn_to` (when not null) if there are findings; ignore: does nothing.
void enforce(const LeakageReport& report, LeakagePolicy policy, std::ostream* warn_to = nullptr);

// Building blocks, exposed for tests.
/// 63-bit DCT perceptual hash (bit 0 is always 0) of the image's gray version.
std::uint64_t perceptual_hash(const Image& image);
/// The zero-mean, unit-norm 32x32 high-pass gray thumbnail used to confirm near copies.
std::vector<float> thumbnail32(const Image& image);
int hamming_distance(std::uint64_t a, std::uint64_t b);
/// The <stem> of a Roboflow file name "<stem>_<ext>.rf.<hash>.<ext>" (directories ignored),
/// or "" when the name does not follow that pattern.
std::string roboflow_stem(const std::string& path);

}  // namespace mammosweep::worker
