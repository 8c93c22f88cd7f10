// Decoding (libpng, libjpeg-turbo, a small PNM parser; DICOM in dicom.cpp), encoding and
// preprocessing.
//
// libpng and libjpeg report fatal errors through callbacks that must not return. Both are
// handled the C way: the callback stores the message and longjmps back to a setjmp in a
// small function whose locals are all trivially destructible (so no C++ destructor is ever
// skipped); the C++ caller then throws ImageError. Handles are owned by RAII guards.
#include "worker/image.h"

#include <png.h>

#include "worker/dicom.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
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
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) fail(path, "cannot open for writing");
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!out) fail(path, "write failed");
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

// ------------------------------------------------------------------------- preprocessing
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

std::uint8_t round_u8(double v) {
  if (!(v > 0.0)) return 0;
  if (v >= 255.0) return 255;
  return static_cast<std::uint8_t>(v + 0.5);
}

// CLAHE on one 8-bit plane, in place.
void clahe_plane(std::uint8_t* p, int w, int h, int tiles, double clip_limit) {
  const int tx_n = std::max(1, std::min(tiles, w));
  const int ty_n = std::max(1, std::min(tiles, h));
  std::vector<std::array<std::uint8_t, 256>> luts(std::size_t(tx_n) * ty_n);
  for (int ty = 0; ty < ty_n; ++ty) {
    const int y0 = int(std::int64_t(ty) * h / ty_n), y1 = int(std::int64_t(ty + 1) * h / ty_n);
    for (int tx = 0; tx < tx_n; ++tx) {
      const int x0 = int(std::int64_t(tx) * w / tx_n), x1 = int(std::int64_t(tx + 1) * w / tx_n);
      std::array<int, 256> hist{};
      for (int y = y0; y < y1; ++y)
        for (int x = x0; x < x1; ++x) ++hist[p[std::size_t(y) * w + x]];
      const int area = (x1 - x0) * (y1 - y0);
      if (clip_limit > 0.0) {
        const int limit = std::max(1, static_cast<int>(clip_limit * area / 256.0));
        int excess = 0;
        for (int& c : hist)
          if (c > limit) {
            excess += c - limit;
            c = limit;
          }
        const int batch = excess / 256;
        int residual = excess % 256;
        for (int& c : hist) c += batch;
        if (residual > 0) {
          const int step = std::max(256 / residual, 1);
          for (int i = 0; i < 256 && residual > 0; i += step, --residual) ++hist[i];
        }
      }
      auto& lut = luts[std::size_t(ty) * tx_n + tx];
      const double scale = 255.0 / std::max(area, 1);
      int sum = 0;
      for (int i = 0; i < 256; ++i) {
        sum += hist[i];
        lut[i] = round_u8(sum * scale);
      }
    }
  }
  const double tw = double(w) / tx_n, th = double(h) / ty_n;
  for (int y = 0; y < h; ++y) {
    const double fy = (y + 0.5) / th - 0.5;
    int ty1 = int(std::floor(fy));
    const double ya = fy - ty1;
    int ty2 = ty1 + 1;
    ty1 = std::max(ty1, 0);
    ty2 = std::min(ty2, ty_n - 1);
    for (int x = 0; x < w; ++x) {
      const double fx = (x + 0.5) / tw - 0.5;
      int tx1 = int(std::floor(fx));
      const double xa = fx - tx1;
      int tx2 = tx1 + 1;
      tx1 = std::max(tx1, 0);
      tx2 = std::min(tx2, tx_n - 1);
      std::uint8_t& v = p[std::size_t(y) * w + x];
      const double top = (1 - xa) * luts[std::size_t(ty1) * tx_n + tx1][v] +
                         xa * luts[std::size_t(ty1) * tx_n + tx2][v];
      const double bottom = (1 - xa) * luts[std::size_t(ty2) * tx_n + tx1][v] +
                            xa * luts[std::size_t(ty2) * tx_n + tx2][v];
      v = round_u8((1 - ya) * top + ya * bottom);
    }
  }
}

// Per-axis resampling taps: output i = sum_k weight[k] * src[index[k]] for k in [begin, end).
struct Taps {
  std::vector<int> begin, index;
  std::vector<float> weight;
};

Taps make_taps(int in, int out) {
  Taps t;
  t.begin.reserve(out + 1);
  const double s = double(in) / out;
  for (int i = 0; i < out; ++i) {
    t.begin.push_back(static_cast<int>(t.index.size()));
    if (in == out) {
      t.index.push_back(i);
      t.weight.push_back(1.0f);
    } else if (out < in) {  // area: overlap of [i*s, (i+1)*s) with each source pixel
      const double a = i * s, b = (i + 1) * s;
      const int j0 = int(std::floor(a)), j1 = std::min(in, int(std::ceil(b)));
      for (int j = j0; j < j1; ++j) {
        const double overlap = std::min<double>(j + 1, b) - std::max<double>(j, a);
        if (overlap <= 0) continue;
        t.index.push_back(j);
        t.weight.push_back(static_cast<float>(overlap / s));
      }
    } else {  // bilinear, half-pixel centres, edges clamped
      double x = (i + 0.5) * s - 0.5;
      x = std::clamp(x, 0.0, double(in - 1));
      const int j0 = int(std::floor(x)), j1 = std::min(j0 + 1, in - 1);
      const double a = x - j0;
      t.index.push_back(j0);
      t.weight.push_back(static_cast<float>(1 - a));
      if (j1 != j0) {
        t.index.push_back(j1);
        t.weight.push_back(static_cast<float>(a));
      }
    }
  }
  t.begin.push_back(static_cast<int>(t.index.size()));
  return t;
}

}  // namespace

// ------------------------------------------------------------------------------- decode
std::vector<std::uint8_t> read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open file (missing or unreadable)");
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                  std::istreambuf_iterator<char>());
  if (in.bad()) fail(path, "read error");
  return bytes;
}

Image decode_image_memory(const std::uint8_t* data, std::size_t size, const std::string& name) {
  if (size == 0) fail(name, "empty file (0 bytes)");
  static const std::uint8_t kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (size >= 8 && std::memcmp(data, kPng, 8) == 0) return decode_png(data, size, name);
  if (size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF)
    return decode_jpeg(data, size, name);
  if (is_dicom(data, size)) return decode_dicom_memory(data, size, name);
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
  const auto bytes = read_file_bytes(path);
  return decode_image_memory(bytes.data(), bytes.size(), path);
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

// ---------------------------------------------------------------------------- preprocess
Image to_8bit(const Image& image, const PreprocessOptions& options) {
  check_image(image, "to_8bit");
  Image out;
  out.width = image.width;
  out.height = image.height;
  out.channels = image.channels;
  out.bit_depth = 8;
  out.pixels.resize(image.pixels.size());
  if (image.bit_depth == 8) {
    for (std::size_t i = 0; i < image.pixels.size(); ++i)
      out.pixels[i] = std::min<std::uint16_t>(image.pixels[i], 255);
    return out;
  }
  std::uint32_t lo = 0, hi = 0;
  if (options.window == PreprocessOptions::Window::minmax) {
    const auto [mn, mx] = std::minmax_element(image.pixels.begin(), image.pixels.end());
    lo = *mn;
    hi = *mx;
  } else {
    const double pl = options.window_low_pct, ph = options.window_high_pct;
    if (!(pl >= 0 && pl <= 100 && ph >= 0 && ph <= 100 && pl <= ph))
      throw std::invalid_argument("to_8bit: percentile window needs 0 <= low <= high <= 100, got " +
                                  std::to_string(pl) + ", " + std::to_string(ph));
    std::vector<std::uint32_t> hist(65536, 0);
    for (auto v : image.pixels) ++hist[v];
    const std::size_t n = image.pixels.size();
    auto value_at_rank = [&](double pct) {
      const auto rank = static_cast<std::size_t>(std::floor(pct / 100.0 * double(n - 1)));
      std::size_t seen = 0;
      for (std::uint32_t v = 0; v < 65536; ++v) {
        seen += hist[v];
        if (seen > rank) return v;
      }
      return std::uint32_t(65535);
    };
    lo = value_at_rank(pl);
    hi = value_at_rank(ph);
  }
  for (std::size_t i = 0; i < image.pixels.size(); ++i) {
    const std::uint32_t v = image.pixels[i];
    std::uint16_t o;
    if (hi <= lo) o = v > lo ? 255 : 0;
    else if (v <= lo) o = 0;
    else if (v >= hi) o = 255;
    else o = round_u8(double(v - lo) * 255.0 / double(hi - lo));
    out.pixels[i] = o;
  }
  return out;
}

Image clahe(const Image& image8, int tiles, double clip_limit) {
  check_image(image8, "clahe");
  if (image8.bit_depth != 8) throw std::invalid_argument("clahe: needs an 8-bit image");
  if (tiles < 1) throw std::invalid_argument("clahe: tiles must be >= 1");
  const int w = image8.width, h = image8.height;
  const std::size_t n = std::size_t(w) * h;
  Image out = image8;
  std::vector<std::uint8_t> plane(n);
  if (image8.channels == 1) {
    for (std::size_t i = 0; i < n; ++i) plane[i] = static_cast<std::uint8_t>(image8.pixels[i]);
    clahe_plane(plane.data(), w, h, tiles, clip_limit);
    for (std::size_t i = 0; i < n; ++i) out.pixels[i] = plane[i];
    return out;
  }
  std::vector<float> cb(n), cr(n);
  for (std::size_t i = 0; i < n; ++i) {
    const double r = image8.pixels[3 * i], g = image8.pixels[3 * i + 1],
                 b = image8.pixels[3 * i + 2];
    plane[i] = round_u8(0.299 * r + 0.587 * g + 0.114 * b);
    cb[i] = static_cast<float>(-0.168736 * r - 0.331264 * g + 0.5 * b);
    cr[i] = static_cast<float>(0.5 * r - 0.418688 * g - 0.081312 * b);
  }
  clahe_plane(plane.data(), w, h, tiles, clip_limit);
  for (std::size_t i = 0; i < n; ++i) {
    const double y = plane[i];
    out.pixels[3 * i] = round_u8(y + 1.402 * cr[i]);
    out.pixels[3 * i + 1] = round_u8(y - 0.344136 * cb[i] - 0.714136 * cr[i]);
    out.pixels[3 * i + 2] = round_u8(y + 1.772 * cb[i]);
  }
  return out;
}

std::vector<float> resize_plane(const float* src, int w, int h, int out_w, int out_h) {
  if (w <= 0 || h <= 0 || out_w <= 0 || out_h <= 0)
    throw std::invalid_argument("resize_plane: sizes must be positive");
  const Taps tx = make_taps(w, out_w), ty = make_taps(h, out_h);
  std::vector<float> tmp(std::size_t(out_w) * h);
  for (int y = 0; y < h; ++y) {
    const float* row = src + std::size_t(y) * w;
    float* o = tmp.data() + std::size_t(y) * out_w;
    for (int x = 0; x < out_w; ++x) {
      float acc = 0;
      for (int k = tx.begin[x]; k < tx.begin[x + 1]; ++k) acc += tx.weight[k] * row[tx.index[k]];
      o[x] = acc;
    }
  }
  std::vector<float> out(std::size_t(out_w) * out_h, 0.0f);
  for (int y = 0; y < out_h; ++y) {
    float* o = out.data() + std::size_t(y) * out_w;
    for (int k = ty.begin[y]; k < ty.begin[y + 1]; ++k) {
      const float wgt = ty.weight[k];
      const float* row = tmp.data() + std::size_t(ty.index[k]) * out_w;
      for (int x = 0; x < out_w; ++x) o[x] += wgt * row[x];
    }
  }
  return out;
}

std::vector<std::uint8_t> preprocess(const Image& image, const PreprocessOptions& options) {
  check_image(image, "preprocess");
  const int S = options.image_size;
  if (S <= 0 || S > 16384)
    throw std::invalid_argument("preprocess: image_size must be in 1..16384, got " +
                                std::to_string(S));
  Image img = to_8bit(image, options);
  if (options.clahe) img = clahe(img, 8, 2.0);

  int nw = S, nh = S;
  if (options.keep_aspect) {
    const double scale = std::min(double(S) / img.width, double(S) / img.height);
    nw = std::clamp(static_cast<int>(std::lround(img.width * scale)), 1, S);
    nh = std::clamp(static_cast<int>(std::lround(img.height * scale)), 1, S);
  }
  const int x0 = (S - nw) / 2, y0 = (S - nh) / 2;
  std::vector<std::uint8_t> out(std::size_t(S) * S * 3, 0);
  const std::size_t n = std::size_t(img.width) * img.height;
  std::vector<float> plane(n);
  for (int c = 0; c < img.channels; ++c) {
    for (std::size_t i = 0; i < n; ++i) plane[i] = img.pixels[i * img.channels + c];
    const auto resized = resize_plane(plane.data(), img.width, img.height, nw, nh);
    for (int y = 0; y < nh; ++y)
      for (int x = 0; x < nw; ++x) {
        const std::uint8_t v = round_u8(resized[std::size_t(y) * nw + x]);
        std::uint8_t* px = &out[(std::size_t(y + y0) * S + (x + x0)) * 3];
        if (img.channels == 1) px[0] = px[1] = px[2] = v;
        else px[c] = v;
      }
  }
  return out;
}

}  // namespace mammosweep::worker
