// Decoding (libpng, libjpeg-turbo, a small PNM parser; DICOM in dicom.cpp, run in a helper
// process by dicom_helper.cpp) and encoding.
// Preprocessing (window, CLAHE, resize) is preprocess.cpp.
//
// libpng and libjpeg report fatal errors through callbacks that must not return. Both are
// handled the C way: the callback stores the message and longjmps back to a setjmp in a
// small function whose locals are all trivially destructible (so no C++ destructor is ever
// skipped); the C++ caller then throws ImageError. Handles are owned by RAII guards.
#include "worker/image.h"

#include <png.h>

#include "io/files.h"
#include "worker/dicom.h"
#include "worker/dicom_helper.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>

// jpeglib.h needs FILE and size_t declared first.
#include <jerror.h>
#include <jpeglib.h>

namespace mammosweep::worker {
namespace {

[[noreturn]] void fail(const std::string& name, const std::string& problem) {
  throw ImageError(name + ": " + problem);
}

void check_pixel_count(const std::string& name, const char* format, std::uint64_t width,
                       std::uint64_t height) {
  if (width * height > kMaxImagePixels)
    fail(name, std::string(format) + " size " + std::to_string(width) + "x" +
                   std::to_string(height) + " exceeds the limit of " +
                   std::to_string(kMaxImagePixels) + " pixels (corrupt header?)");
}

// ----------------------------------------------------------------------------------- PNG
struct PngReadContext {
  const std::uint8_t* data = nullptr;
  std::size_t size = 0;
  std::size_t pos = 0;
  char message[512] = {0};
};

void png_read_from_memory(png_structp png, png_bytep out, png_size_t n) {
  auto* ctx = static_cast<PngReadContext*>(png_get_io_ptr(png));
  if (ctx->size - ctx->pos < n) png_error(png, "unexpected end of data (file truncated?)");
  std::memcpy(out, ctx->data + ctx->pos, n);
  ctx->pos += n;
}

void png_store_error(png_structp png, png_const_charp message) {
  auto* ctx = static_cast<PngReadContext*>(png_get_error_ptr(png));
  std::snprintf(ctx->message, sizeof(ctx->message), "%s", message ? message : "unknown error");
  png_longjmp(png, 1);
}

void png_ignore_warning(png_structp, png_const_charp) {}

struct PngReadGuard {
  png_structp png = nullptr;
  png_infop info = nullptr;
  ~PngReadGuard() { png_destroy_read_struct(&png, info ? &info : nullptr, nullptr); }
};

struct PngLayout {
  png_uint_32 width = 0, height = 0;
  int channels = 0, bit_depth = 0;
  std::size_t row_bytes = 0;
};

// Reads the header and sets up transforms. Only trivially destructible locals here.
bool png_read_header(png_structp png, png_infop info, PngReadContext* ctx, PngLayout* layout) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_read_fn(png, ctx, png_read_from_memory);
  png_read_info(png, info);
  const int color_type = png_get_color_type(png, info);
  const int depth = png_get_bit_depth(png, info);
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color_type == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  png_set_strip_alpha(png);  // also drops alpha produced from palette/tRNS expansion
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  layout->width = png_get_image_width(png, info);
  layout->height = png_get_image_height(png, info);
  layout->channels = png_get_channels(png, info);
  layout->bit_depth = png_get_bit_depth(png, info);
  layout->row_bytes = png_get_rowbytes(png, info);
  return true;
}

bool png_read_pixels(png_structp png, png_bytepp rows) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_read_image(png, rows);
  png_read_end(png, nullptr);
  return true;
}

Image decode_png(const std::uint8_t* data, std::size_t size, const std::string& name) {
  PngReadContext ctx;
  ctx.data = data;
  ctx.size = size;
  PngReadGuard guard;
  guard.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, png_store_error,
                                     png_ignore_warning);
  if (!guard.png) fail(name, "cannot create a libpng read struct");
  guard.info = png_create_info_struct(guard.png);
  if (!guard.info) fail(name, "cannot create a libpng info struct");

  PngLayout layout;
  if (!png_read_header(guard.png, guard.info, &ctx, &layout))
    fail(name, std::string("corrupt PNG: ") + ctx.message);
  if (layout.channels != 1 && layout.channels != 3)
    fail(name, "unsupported PNG channel count " + std::to_string(layout.channels));
  if (layout.bit_depth != 8 && layout.bit_depth != 16)
    fail(name, "unsupported PNG bit depth " + std::to_string(layout.bit_depth));
  check_pixel_count(name, "PNG", layout.width, layout.height);

  std::vector<std::uint8_t> raw(layout.row_bytes * layout.height);
  std::vector<png_bytep> rows(layout.height);
  for (png_uint_32 y = 0; y < layout.height; ++y) rows[y] = raw.data() + y * layout.row_bytes;
  if (!png_read_pixels(guard.png, rows.data()))
    fail(name, std::string("corrupt PNG: ") + ctx.message);

  Image img;
  img.width = static_cast<int>(layout.width);
  img.height = static_cast<int>(layout.height);
  img.channels = layout.channels;
  img.bit_depth = layout.bit_depth;
  const std::size_t n = std::size_t(img.width) * img.height * img.channels;
  img.pixels.resize(n);
  if (img.bit_depth == 8) {
    for (png_uint_32 y = 0; y < layout.height; ++y)
      for (std::size_t i = 0; i < std::size_t(img.width) * img.channels; ++i)
        img.pixels[y * img.width * img.channels + i] = rows[y][i];
  } else {
    for (png_uint_32 y = 0; y < layout.height; ++y)
      for (std::size_t i = 0; i < std::size_t(img.width) * img.channels; ++i)
        img.pixels[y * img.width * img.channels + i] =
            static_cast<std::uint16_t>((rows[y][2 * i] << 8) | rows[y][2 * i + 1]);
  }
  return img;
}

// ---------------------------------------------------------------------------------- JPEG
struct JpegErrorManager {
  jpeg_error_mgr base;  // first member: libjpeg sees a jpeg_error_mgr*
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX] = {0};
};

void jpeg_error_exit_longjmp(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

// A truncated JPEG is only a warning for libjpeg (it pads with gray); we make it an error.
void jpeg_emit_message(j_common_ptr cinfo, int level) {
  if (level == -1 && cinfo->err->msg_code == JWRN_JPEG_EOF) {
    auto* err = reinterpret_cast<JpegErrorManager*>(cinfo->err);
    std::snprintf(err->message, sizeof(err->message), "%s",
                  "premature end of JPEG data (file truncated?)");
    std::longjmp(err->jump, 1);
  }
}

struct JpegDecompressGuard {
  jpeg_decompress_struct cinfo;
  bool created = false;
  ~JpegDecompressGuard() {
    if (created) jpeg_destroy_decompress(&cinfo);
  }
};

struct JpegLayout {
  int width = 0, height = 0, channels = 0;
};

bool jpeg_read_header_setjmp(JpegDecompressGuard* g, JpegErrorManager* err,
                             const std::uint8_t* data, std::size_t size, JpegLayout* layout) {
  if (setjmp(err->jump)) return false;
  jpeg_create_decompress(&g->cinfo);
  g->created = true;
  jpeg_mem_src(&g->cinfo, const_cast<unsigned char*>(data), static_cast<unsigned long>(size));
  jpeg_read_header(&g->cinfo, TRUE);
  g->cinfo.out_color_space =
      g->cinfo.jpeg_color_space == JCS_GRAYSCALE ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(&g->cinfo);
  layout->width = static_cast<int>(g->cinfo.output_width);
  layout->height = static_cast<int>(g->cinfo.output_height);
  layout->channels = g->cinfo.output_components;
  return true;
}

bool jpeg_read_pixels_setjmp(JpegDecompressGuard* g, JpegErrorManager* err, std::uint8_t* out,
                             std::size_t row_bytes) {
  if (setjmp(err->jump)) return false;
  while (g->cinfo.output_scanline < g->cinfo.output_height) {
    JSAMPROW row = out + std::size_t(g->cinfo.output_scanline) * row_bytes;
    jpeg_read_scanlines(&g->cinfo, &row, 1);
  }
  jpeg_finish_decompress(&g->cinfo);
  return true;
}

Image decode_jpeg(const std::uint8_t* data, std::size_t size, const std::string& name) {
  JpegErrorManager err;
  JpegDecompressGuard guard;
  guard.cinfo.err = jpeg_std_error(&err.base);
  err.base.error_exit = jpeg_error_exit_longjmp;
  err.base.emit_message = jpeg_emit_message;
  JpegLayout layout;
  if (!jpeg_read_header_setjmp(&guard, &err, data, size, &layout))
    fail(name, std::string("corrupt JPEG: ") + err.message);
  if (layout.channels != 1 && layout.channels != 3)
    fail(name, "unsupported JPEG component count " + std::to_string(layout.channels));
  check_pixel_count(name, "JPEG", std::uint64_t(layout.width), std::uint64_t(layout.height));
  const std::size_t row_bytes = std::size_t(layout.width) * layout.channels;
  std::vector<std::uint8_t> raw(row_bytes * layout.height);
  if (!jpeg_read_pixels_setjmp(&guard, &err, raw.data(), row_bytes))
    fail(name, std::string("corrupt JPEG: ") + err.message);
  Image img;
  img.width = layout.width;
  img.height = layout.height;
  img.channels = layout.channels;
  img.bit_depth = 8;
  img.pixels.assign(raw.begin(), raw.end());
  return img;
}

// ----------------------------------------------------------------------------------- PNM
class PnmReader {
 public:
  PnmReader(const std::uint8_t* data, std::size_t size, const std::string& name)
      : data_(data), size_(size), name_(name) {}

  Image read() {
    const char kind = static_cast<char>(data_[1]);
    pos_ = 2;
    const bool binary = kind == '5' || kind == '6';
    const int channels = (kind == '3' || kind == '6') ? 3 : 1;
    const long width = number("width");
    const long height = number("height");
    const long maxval = number("maxval");
    if (width <= 0 || height <= 0 || width > 100000 || height > 100000)
      fail(name_, "PNM size " + std::to_string(width) + "x" + std::to_string(height) +
                      " is not valid (expected 1..100000 per side)");
    if (maxval <= 0 || maxval > 65535)
      fail(name_, "PNM maxval " + std::to_string(maxval) + " is not in 1..65535");
    check_pixel_count(name_, "PNM", std::uint64_t(width), std::uint64_t(height));
    Image img;
    img.width = static_cast<int>(width);
    img.height = static_cast<int>(height);
    img.channels = channels;
    img.bit_depth = maxval > 255 ? 16 : 8;
    const std::size_t n = std::size_t(width) * height * channels;
    // The data must be there before the pixels are allocated: binary files hold n samples
    // of 1 or 2 bytes, plain (ASCII) ones at least one digit and one separator per sample.
    const std::size_t bps = maxval > 255 ? 2 : 1;
    if (binary) {
      if (pos_ >= size_ || !std::isspace(data_[pos_]))
        fail(name_, "PNM header must end with one whitespace byte after maxval");
      ++pos_;
      if (size_ - pos_ < n * bps)
        fail(name_, "truncated PNM: expected " + std::to_string(n * bps) +
                        " bytes of pixel data, found " + std::to_string(size_ - pos_));
    } else if (size_ - pos_ < 2 * n - 1) {
      fail(name_, "truncated PNM: " + std::to_string(n) + " samples need at least " +
                      std::to_string(2 * n - 1) + " bytes, found " + std::to_string(size_ - pos_));
    }
    img.pixels.resize(n);
    if (binary) {
      for (std::size_t i = 0; i < n; ++i)
        img.pixels[i] = bps == 1 ? data_[pos_ + i]
                                 : static_cast<std::uint16_t>((data_[pos_ + 2 * i] << 8) |
                                                              data_[pos_ + 2 * i + 1]);
    } else {
      for (std::size_t i = 0; i < n; ++i) {
        if (!has_token())
          fail(name_, "truncated PNM: expected " + std::to_string(n) + " samples, found " +
                          std::to_string(i));
        img.pixels[i] = static_cast<std::uint16_t>(number("sample"));
      }
    }
    for (auto& v : img.pixels)
      if (v > maxval) fail(name_, "PNM sample " + std::to_string(v) + " exceeds maxval " +
                                      std::to_string(maxval));
    // 8-bit files with a small maxval are stretched to 0..255; 16-bit keep raw values.
    if (maxval < 255)
      for (auto& v : img.pixels) v = static_cast<std::uint16_t>((v * 255 + maxval / 2) / maxval);
    return img;
  }

 private:
  void skip_space_and_comments() {
    while (pos_ < size_) {
      if (data_[pos_] == '#') {
        while (pos_ < size_ && data_[pos_] != '\n') ++pos_;
      } else if (std::isspace(data_[pos_])) {
        ++pos_;
      } else {
        break;
      }
    }
  }
  bool has_token() {
    skip_space_and_comments();
    return pos_ < size_;
  }
  long number(const char* what) {
    skip_space_and_comments();
    if (pos_ >= size_ || !std::isdigit(data_[pos_]))
      fail(name_, std::string("bad PNM header: expected a number for ") + what +
                      (pos_ >= size_ ? ", found end of file (truncated?)" : ""));
    long v = 0;
    while (pos_ < size_ && std::isdigit(data_[pos_])) {
      v = v * 10 + (data_[pos_] - '0');
      if (v > 10000000) fail(name_, std::string("bad PNM header: ") + what + " too large");
      ++pos_;
    }
    return v;
  }

  const std::uint8_t* data_;
  std::size_t size_;
  const std::string& name_;
  std::size_t pos_ = 0;
};

// ------------------------------------------------------------------------- PNG/JPEG write
void write_bytes(const std::string& path, const std::uint8_t* data, std::size_t size) {
  try {
    io::AtomicFile file(path);
    file.write(data, size);
    file.commit();
  } catch (const io::IoError& e) {
    fail(path, e.what());
  }
}

struct PngWriteContext {
  std::vector<std::uint8_t>* out = nullptr;
  char message[512] = {0};
};

void png_write_to_memory(png_structp png, png_bytep data, png_size_t n) {
  auto* ctx = static_cast<PngWriteContext*>(png_get_io_ptr(png));
  ctx->out->insert(ctx->out->end(), data, data + n);
}
void png_flush_noop(png_structp) {}

void png_store_write_error(png_structp png, png_const_charp message) {
  auto* ctx = static_cast<PngWriteContext*>(png_get_error_ptr(png));
  std::snprintf(ctx->message, sizeof(ctx->message), "%s", message ? message : "unknown error");
  png_longjmp(png, 1);
}

struct PngWriteGuard {
  png_structp png = nullptr;
  png_infop info = nullptr;
  ~PngWriteGuard() { png_destroy_write_struct(&png, info ? &info : nullptr); }
};

bool png_write_setjmp(png_structp png, png_infop info, PngWriteContext* ctx, int w, int h,
                      int color_type, int depth, png_bytepp rows) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_write_fn(png, ctx, png_write_to_memory, png_flush_noop);
  png_set_IHDR(png, info, static_cast<png_uint_32>(w), static_cast<png_uint_32>(h), depth,
               color_type, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  png_write_image(png, rows);
  png_write_end(png, nullptr);
  return true;
}

struct JpegCompressGuard {
  jpeg_compress_struct cinfo;
  bool created = false;
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  ~JpegCompressGuard() {
    if (created) jpeg_destroy_compress(&cinfo);
    std::free(buffer);
  }
};

bool jpeg_write_setjmp(JpegCompressGuard* g, JpegErrorManager* err, int w, int h, int channels,
                       const std::uint8_t* data, int quality) {
  if (setjmp(err->jump)) return false;
  jpeg_create_compress(&g->cinfo);
  g->created = true;
  jpeg_mem_dest(&g->cinfo, &g->buffer, &g->size);
  g->cinfo.image_width = static_cast<JDIMENSION>(w);
  g->cinfo.image_height = static_cast<JDIMENSION>(h);
  g->cinfo.input_components = channels;
  g->cinfo.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&g->cinfo);
  jpeg_set_quality(&g->cinfo, quality, TRUE);
  jpeg_start_compress(&g->cinfo, TRUE);
  const std::size_t row_bytes = std::size_t(w) * channels;
  while (g->cinfo.next_scanline < g->cinfo.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(data + g->cinfo.next_scanline * row_bytes);
    jpeg_write_scanlines(&g->cinfo, &row, 1);
  }
  jpeg_finish_compress(&g->cinfo);
  return true;
}

}  // namespace

// ------------------------------------------------------------------------------- decode
std::string read_file_bytes(const std::string& path) {
  try {
    return io::read_file(path);
  } catch (const io::IoError& e) {
    fail(path, std::string("cannot open file (missing or unreadable): ") + std::strerror(e.code()));
  }
}

Image decode_image_memory(const std::uint8_t* data, std::size_t size, const std::string& name) {
  if (size == 0) fail(name, "empty file (0 bytes)");
  static const std::uint8_t kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (size >= 8 && std::memcmp(data, kPng, 8) == 0) return decode_png(data, size, name);
  if (size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF)
    return decode_jpeg(data, size, name);
  if (is_dicom(data, size)) return decode_dicom_isolated(data, size, name);
  if (size >= 2 && data[0] == 'P' && (data[1] == '2' || data[1] == '3' || data[1] == '5' ||
                                      data[1] == '6'))
    return PnmReader(data, size, name).read();
  char first[64];
  std::snprintf(first, sizeof(first), "%02x %02x %02x %02x", data[0], size > 1 ? data[1] : 0,
                size > 2 ? data[2] : 0, size > 3 ? data[3] : 0);
  fail(name, std::string("unknown image format (first bytes ") + first +
                 "; expected JPEG, PNG, PGM/PPM or DICOM with \"DICM\" at byte 128)");
}

Image decode_image(const std::string& path) {
  const std::string bytes = read_file_bytes(path);
  return decode_image_memory(byte_ptr(bytes), bytes.size(), path);
}

void check_image(const Image& image, const char* where) {
  if (image.width <= 0 || image.height <= 0 || (image.channels != 1 && image.channels != 3) ||
      (image.bit_depth != 8 && image.bit_depth != 16) ||
      image.pixels.size() != std::size_t(image.width) * image.height * image.channels)
    throw std::invalid_argument(
        std::string(where) + ": invalid image " + std::to_string(image.width) + "x" +
        std::to_string(image.height) + "x" + std::to_string(image.channels) + " bit_depth " +
        std::to_string(image.bit_depth) + " with " + std::to_string(image.pixels.size()) +
        " samples (expected channels 1|3, bit_depth 8|16, width*height*channels samples)");
}

// -------------------------------------------------------------------------------- encode
void write_png(const std::string& path, int width, int height, int channels, int bit_depth,
               const std::uint16_t* data) {
  if (width <= 0 || height <= 0 || channels < 1 || channels > 4 ||
      (bit_depth != 8 && bit_depth != 16) || data == nullptr)
    fail(path, "write_png: invalid arguments " + std::to_string(width) + "x" +
                   std::to_string(height) + "x" + std::to_string(channels) + " depth " +
                   std::to_string(bit_depth) + " (expected channels 1..4, depth 8|16)");
  static const int kColor[5] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA,
                                PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA};
  const std::size_t row_samples = std::size_t(width) * channels;
  const std::size_t bps = bit_depth / 8;
  std::vector<std::uint8_t> raw(row_samples * bps * height);
  for (std::size_t i = 0; i < row_samples * height; ++i) {
    if (bps == 1) {
      if (data[i] > 255) fail(path, "write_png: 8-bit sample " + std::to_string(data[i]) + " > 255");
      raw[i] = static_cast<std::uint8_t>(data[i]);
    } else {
      raw[2 * i] = static_cast<std::uint8_t>(data[i] >> 8);
      raw[2 * i + 1] = static_cast<std::uint8_t>(data[i] & 0xFF);
    }
  }
  std::vector<png_bytep> rows(height);
  for (int y = 0; y < height; ++y) rows[y] = raw.data() + std::size_t(y) * row_samples * bps;

  std::vector<std::uint8_t> encoded;
  PngWriteContext ctx;
  ctx.out = &encoded;
  PngWriteGuard guard;
  guard.png =
      png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx, png_store_write_error, png_ignore_warning);
  if (!guard.png) fail(path, "cannot create a libpng write struct");
  guard.info = png_create_info_struct(guard.png);
  if (!guard.info) fail(path, "cannot create a libpng info struct");
  if (!png_write_setjmp(guard.png, guard.info, &ctx, width, height, kColor[channels], bit_depth,
                        rows.data()))
    fail(path, std::string("PNG encoding failed: ") + ctx.message);
  write_bytes(path, encoded.data(), encoded.size());
}

void write_png(const std::string& path, int width, int height, int channels, int bit_depth,
               const std::uint8_t* data) {
  if (bit_depth != 8) fail(path, "write_png: uint8 data needs bit_depth 8, got " +
                                     std::to_string(bit_depth));
  if (width <= 0 || height <= 0 || channels < 1 || channels > 4 || data == nullptr)
    fail(path, "write_png: invalid arguments");
  std::vector<std::uint16_t> wide(data, data + std::size_t(width) * height * channels);
  write_png(path, width, height, channels, 8, wide.data());
}

void write_png(const std::string& path, const Image& image) {
  check_image(image, "write_png");
  write_png(path, image.width, image.height, image.channels, image.bit_depth,
            image.pixels.data());
}

void write_jpeg(const std::string& path, int width, int height, int channels,
                const std::uint8_t* data, int quality) {
  if (width <= 0 || height <= 0 || (channels != 1 && channels != 3) || data == nullptr ||
      quality < 1 || quality > 100)
    fail(path, "write_jpeg: invalid arguments " + std::to_string(width) + "x" +
                   std::to_string(height) + "x" + std::to_string(channels) + " quality " +
                   std::to_string(quality) + " (expected channels 1|3, quality 1..100)");
  JpegErrorManager err;
  JpegCompressGuard guard;
  guard.cinfo.err = jpeg_std_error(&err.base);
  err.base.error_exit = jpeg_error_exit_longjmp;
  if (!jpeg_write_setjmp(&guard, &err, width, height, channels, data, quality))
    fail(path, std::string("JPEG encoding failed: ") + err.message);
  write_bytes(path, guard.buffer, guard.size);
}

}  // namespace mammosweep::worker
