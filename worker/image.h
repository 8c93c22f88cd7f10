// Image decoding, encoding and model-input preprocessing (no torch, no OpenCV).
//
// decode_image() turns a JPEG, PNG, PGM or DICOM file into an `Image`: interleaved, row-major
// pixels stored as uint16 whatever the bit depth, with 1 (gray) or 3 (RGB) channels.
// Alpha channels are dropped and palettes expanded to RGB. DICOM goes through GDCM
// (worker/dicom.h lists its rules: MONOCHROME1 inverted, signed shifted, single frame only).
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

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace mammosweep::worker {

/// A decoding or encoding failure. what() names the file and the problem.
class ImageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A decoded image. Invariant: pixels.size() == width * height * channels, channels is 1
/// or 3, bit_depth is 8 (values 0..255) or 16 (values 0..65535; PGM with maxval > 255 and
/// DICOM with more than 8 bits stored keep their raw values, e.g. 0..4095 for 12 bits).
struct Image {
  int width = 0, height = 0, channels = 0 /*1 or 3*/, bit_depth = 8 /*8 or 16*/;
  std::vector<std::uint16_t> pixels;  // row-major, interleaved
};

/// The largest image the decoders accept: 2^27 pixels (e.g. 11585 x 11585; full-field
/// mammograms are about 4000 x 5000). A header that declares more is refused before any
/// pixel buffer is allocated, so a small corrupt file cannot make a decoder ask for gigabytes.
inline constexpr std::uint64_t kMaxImagePixels = std::uint64_t{1} << 27;

/// Decodes a JPEG, PNG (1/2/4/8/16-bit; gray, gray+alpha, RGB, RGBA, palette), PGM (P5 8/16
/// bit, P2) or DICOM Part 10 ("DICM" at byte 128; see worker/dicom.h) file; the format is
/// detected from the bytes, not the extension.
/// Throws ImageError naming `path` for a missing, unknown, corrupt or truncated file.
Image decode_image(const std::string& path);

/// Same as decode_image for bytes already in memory; `name` is used in error messages.
Image decode_image_memory(const std::uint8_t* data, std::size_t size, const std::string& name);

/// Reads a whole file; throws ImageError naming the file when it cannot be read.
std::vector<std::uint8_t> read_file_bytes(const std::string& path);

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

/// Writes a PNG. `data` is row-major interleaved with `channels` in 1..4 (gray, gray+alpha,
/// RGB, RGBA) and `bit_depth` 8 or 16 (uint16 samples; 8-bit samples must be <= 255).
void write_png(const std::string& path, int width, int height, int channels, int bit_depth,
               const std::uint16_t* data);
/// 8-bit convenience overload (`bit_depth` must be 8).
void write_png(const std::string& path, int width, int height, int channels, int bit_depth,
               const std::uint8_t* data);
/// Writes an Image as PNG at its own bit depth.
void write_png(const std::string& path, const Image& image);

/// Writes a baseline JPEG (channels 1 or 3, 8-bit data) at `quality` 1..100.
void write_jpeg(const std::string& path, int width, int height, int channels,
                const std::uint8_t* data, int quality = 90);

}  // namespace mammosweep::worker
