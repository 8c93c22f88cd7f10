// Preprocessing for the model (no torch, no OpenCV); decoding is image.h.
//
// preprocess() turns an Image into the model's input: image_size x image_size x 3 uint8
// RGB, row-major, interleaved. Steps, in order:
//   1. window: 16-bit images become 8-bit by min-max or percentile windowing (one window
//      for all channels, so colours keep their balance). 8-bit images pass unchanged.
//   2. CLAHE (optional) at the source resolution, on gray or on the luminance (Y of full-range
//      YCbCr) of RGB images: 8x8 tiles, clip limit 2.0, bilinear blend of tile mappings.
//   3. resize: area averaging along an axis that shrinks, bilinear (half-pixel centres) along
//      an axis that grows. keep_aspect scales by min(S/w, S/h) and centres the result on a
//      black S x S canvas; otherwise the image is stretched to S x S.
//   4. gray is copied into R, G and B.
// ImageNet mean/std normalisation is NOT done here (the loader does it on tensors).
#pragma once

#include <cstdint>
#include <vector>

#include "worker/image.h"

namespace mammosweep::worker {

struct PreprocessOptions {
  int image_size = 224;     // output is image_size x image_size x 3
  bool keep_aspect = false;  // pad (black, centred) instead of stretching
  bool clahe = false;        // CLAHE, 8x8 tiles, clip limit 2.0
  enum class Window { minmax, percentile } window = Window::minmax;  // 16-bit inputs only
  double window_low_pct = 0.5, window_high_pct = 99.5;  // for Window::percentile
};

/// Runs the steps listed at the top of this file. Returns image_size*image_size*3 bytes.
/// Throws std::invalid_argument for an empty image or bad options.
std::vector<std::uint8_t> preprocess(const Image& image, const PreprocessOptions& options);

/// Step 1 alone: an 8-bit copy of `image` (same size and channels, bit_depth 8).
/// Min-max maps [min, max] linearly onto [0, 255] (a constant image becomes 0). Percentile
/// takes lo/hi as the nearest-rank percentiles of all samples (the value at 0-based rank
/// floor(p/100 * (N-1)) of the sorted samples) and maps [lo, hi] onto [0, 255], clamping.
/// Rounding is to nearest.
Image to_8bit(const Image& image, const PreprocessOptions& options);

/// Step 2 alone, on an 8-bit image: CLAHE with `tiles` x `tiles` tiles (fewer when the image
/// is smaller than that) and the given clip limit (OpenCV's convention: a bin holds at most
/// clip_limit * tile_area / 256 counts; the excess is spread over all bins).
Image clahe(const Image& image8, int tiles = 8, double clip_limit = 2.0);

/// Resamples one float plane (w x h) to out_w x out_h: area averaging on a shrinking axis,
/// bilinear with half-pixel centres on a growing axis, a copy on an unchanged axis.
std::vector<float> resize_plane(const float* src, int w, int h, int out_w, int out_h);

}  // namespace mammosweep::worker
