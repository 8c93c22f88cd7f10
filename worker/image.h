// Image decoding and encoding (no torch, no OpenCV). Preprocessing is preprocess.h.
//
// decode_image() turns a JPEG, PNG, PGM or DICOM file into an `Image`: interleaved, row-major
// pixels stored as uint16 whatever the bit depth, with 1 (gray) or 3 (RGB) channels.
// Alpha channels are dropped and palettes expanded to RGB. DICOM goes through GDCM
// (worker/dicom.h lists its rules: MONOCHROME1 inverted, signed shifted, single frame only).
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

/// Throws std::invalid_argument naming `where` unless `image` holds its invariant.
void check_image(const Image& image, const char* where);

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

/// Reads a whole file (io::read_file, read once); throws ImageError naming the file when it
/// cannot be read. byte_ptr() views the result as the uint8 array the decoders take.
std::string read_file_bytes(const std::string& path);
inline const std::uint8_t* byte_ptr(const std::string& s) {
  return reinterpret_cast<const std::uint8_t*>(s.data());
}

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
