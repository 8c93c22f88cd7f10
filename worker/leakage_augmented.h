// The leakage guard's augmented-copy check: finds one source image in two splits after it was
// mirrored, rotated, cropped, padded/letterboxed or brightness-shifted (what Roboflow exports
// hold). Used by check_leakage (worker/leakage.h); OpenCV stays inside the .cpp.
//
// Per image (local_features):
//  1. gray 8-bit (16-bit: min-max), then constant borders are trimmed (letterbox, padding:
//     edge rows/columns with >= 98 % of their pixels within +-3 of the edge's median);
//  2. scaled so the longer side is 256 px: the "canonical frame";
//  3. 250 ORB keypoints (FAST threshold 2, Harris-ranked) with 256-bit descriptors (OpenCV)
//     on that frame, the same keypoints described again on its mirror image (ORB is
//     rotation-invariant, not mirror-invariant), and a 64 px high-pass thumbnail.
// Over all images (find_augmented_copies):
//  4. index: every plain descriptor goes into 6 hash tables keyed by 20 of its bits (LSH for
//     the Hamming distance; keys held by more than max(64, n/50) descriptors are skipped).
//     Each image's plain and mirrored descriptors vote for the images of other groups that
//     share a key, per difference of keypoint orientation (16 bins): a copy's matches share
//     one rotation, a look-alike's do not. Images with >= 10 votes in their best pair of
//     neighbouring bins are candidates; the best 6 per image and frame are verified (an
//     index, not all pairs);
//  5. geometric verification: descriptor matches (two_nearest_hamming below, ratio test
//     0.85), a RANSAC affine fit (cv::estimateAffine2D, 3 px) with >= min_inliers inliers
//     and a plausible transform (scale 0.4-2.5, anisotropy <= 1.6);
//  6. confirmation: the thumbnail of one image warped onto the other with that transform; the
//     high-pass correlation over the overlap (>= 25 % of the frame) must reach
//     min_correlation. Distinct mammograms share their silhouette, not their texture, so
//     this rejects look-alikes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "worker/image.h"

namespace mammosweep::worker {

/// What the check keeps of one image (about 37 KB). [0] is the canonical frame, [1] its
/// mirror image (x -> width - 1 - x).
struct LocalFeatures {
  int width = 0, height = 0;                 // canonical frame
  std::vector<float> points[2];              // x0, y0, x1, y1, ... per keypoint
  std::vector<std::uint8_t> descriptors[2];  // 32 bytes per keypoint (ORB)
  std::vector<std::uint8_t> orientation[2];  // keypoint angle in 16ths of a turn, 0..15
  int thumb_width = 0, thumb_height = 0;
  std::vector<float> thumb;  // the canonical frame at longer side 64, high-passed
};

LocalFeatures local_features(const Image& image);

struct AugmentedMatch {
  std::size_t a = 0, b = 0;  // indices into the features; group[a] < group[b]
  int inliers = 0;           // RANSAC inlier matches
  double correlation = 0;    // aligned high-pass correlation
  std::string transform;     // a -> b in words, e.g. "mirrored left-right, scale 1.12"
};

/// The nearest and second-nearest of a set of binary descriptors to one query.
struct TwoNearest {
  int best = -1;                // index of the nearest; -1 when there are none
  int best_distance = 0;        // Hamming distance (bits)
  int second_distance = -1;     // of the second nearest; -1 when there is only one
};

/// For each of the `na` 32-byte descriptors at `a`, its two nearest among the `nb` at `b` by
/// Hamming distance, ties to the lower index: what cv::BFMatcher(NORM_HAMMING).knnMatch with
/// k = 2 finds, without OpenCV's cost per pair (a function call and a trace region for each
/// of the 62,500 pairs of two 250-keypoint images; it was most of the guard's time).
std::vector<TwoNearest> two_nearest_hamming(const std::uint8_t* a, std::size_t na,
                                            const std::uint8_t* b, std::size_t nb);

struct AugmentedOptions {
  int min_inliers = 15;
  double min_correlation = 0.5;
  int threads = 1;
};

/// Pairs (a, b) of images with different `group` values (splits) that are one image under a
/// mirror, rotation, crop, scaling or padding. Sorted by (a, b). Throws std::invalid_argument
/// when `group` does not have one value per image.
std::vector<AugmentedMatch> find_augmented_copies(const std::vector<LocalFeatures>& features,
                                                  const std::vector<int>& group,
                                                  const AugmentedOptions& options);

}  // namespace mammosweep::worker
