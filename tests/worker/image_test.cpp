// Decoding, writers, windowing, resizing and CLAHE, checked against hand-computed values.
#include "tests/worker/expect_decode_error.h"
#include "worker/image.h"
#include "worker/preprocess.h"

#include <gtest/gtest.h>
#include <png.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <numeric>

#include "tests/temp_dir.h"

namespace mammosweep::worker {
namespace {

class ImageTest : public ::testing::Test {
 protected:
  std::string path(const std::string& name) const { return dir_.file(name); }
  void write_raw(const std::string& name, const std::string& bytes) const {
    std::ofstream(path(name), std::ios::binary) << bytes;
  }
  std::string read_raw(const std::string& name) const {
    std::ifstream in(path(name), std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  test::TempDir dir_{"mswimage"};
};

TEST_F(ImageTest, Png8BitGrayRoundTrip) {
  std::vector<std::uint8_t> px(5 * 3);
  for (std::size_t i = 0; i < px.size(); ++i) px[i] = static_cast<std::uint8_t>(i * 17);
  write_png(path("g.png"), 5, 3, 1, 8, px.data());
  const Image img = decode_image(path("g.png"));
  EXPECT_EQ(img.width, 5);
  EXPECT_EQ(img.height, 3);
  EXPECT_EQ(img.channels, 1);
  EXPECT_EQ(img.bit_depth, 8);
  ASSERT_EQ(img.pixels.size(), 15u);
  for (std::size_t i = 0; i < px.size(); ++i) EXPECT_EQ(img.pixels[i], i * 17);
}

TEST_F(ImageTest, Png16BitGrayKeepsFullRange) {
  const std::vector<std::uint16_t> px = {0, 1, 258, 1000, 4095, 65535};
  write_png(path("g16.png"), 3, 2, 1, 16, px.data());
  const Image img = decode_image(path("g16.png"));
  EXPECT_EQ(img.bit_depth, 16);
  EXPECT_EQ(img.channels, 1);
  EXPECT_EQ(img.pixels, px);
}

TEST_F(ImageTest, PngRgbAndAlphaVariants) {
  const std::vector<std::uint8_t> rgb = {255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30};
  write_png(path("rgb.png"), 2, 2, 3, 8, rgb.data());
  Image img = decode_image(path("rgb.png"));
  EXPECT_EQ(img.channels, 3);
  EXPECT_EQ(std::vector<std::uint16_t>(rgb.begin(), rgb.end()), img.pixels);

  const std::vector<std::uint8_t> rgba = {1, 2, 3, 255, 4, 5, 6, 0};
  write_png(path("rgba.png"), 2, 1, 4, 8, rgba.data());
  img = decode_image(path("rgba.png"));
  EXPECT_EQ(img.channels, 3);
  EXPECT_EQ(img.pixels, (std::vector<std::uint16_t>{1, 2, 3, 4, 5, 6}));

  const std::vector<std::uint8_t> ga = {50, 255, 60, 128};
  write_png(path("ga.png"), 2, 1, 2, 8, ga.data());
  img = decode_image(path("ga.png"));
  EXPECT_EQ(img.channels, 1);
  EXPECT_EQ(img.pixels, (std::vector<std::uint16_t>{50, 60}));

  const std::vector<std::uint16_t> rgb16 = {65535, 0, 300, 1, 2, 3};
  write_png(path("rgb16.png"), 2, 1, 3, 16, rgb16.data());
  img = decode_image(path("rgb16.png"));
  EXPECT_EQ(img.bit_depth, 16);
  EXPECT_EQ(img.pixels, rgb16);
}

TEST_F(ImageTest, PalettePngExpandsToRgb) {
  // Hand-built 4-bit palette PNG through libpng directly.
  const std::string p = path("pal.png");
  FILE* f = std::fopen(p.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  png_init_io(png, f);
  png_set_IHDR(png, info, 3, 1, 4, PNG_COLOR_TYPE_PALETTE, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_color palette[3] = {{10, 20, 30}, {200, 100, 0}, {7, 8, 9}};
  png_set_PLTE(png, info, palette, 3);
  png_write_info(png, info);
  png_byte row[2] = {0x21, 0x00};  // indices 2, 1, 0 packed 4 bits each
  png_write_row(png, row);
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  std::fclose(f);

  const Image img = decode_image(p);
  EXPECT_EQ(img.channels, 3);
  EXPECT_EQ(img.bit_depth, 8);
  EXPECT_EQ(img.pixels, (std::vector<std::uint16_t>{7, 8, 9, 200, 100, 0, 10, 20, 30}));
}

TEST_F(ImageTest, JpegGrayAndRgb) {
  std::vector<std::uint8_t> gray(16 * 16, 128);
  write_jpeg(path("g.jpg"), 16, 16, 1, gray.data(), 95);
  Image img = decode_image(path("g.jpg"));
  EXPECT_EQ(img.channels, 1);
  EXPECT_EQ(img.width, 16);
  for (auto v : img.pixels) EXPECT_NEAR(v, 128, 2);

  std::vector<std::uint8_t> rgb(16 * 16 * 3);
  for (std::size_t i = 0; i < 16 * 16; ++i) {
    rgb[3 * i] = 200;
    rgb[3 * i + 1] = 50;
    rgb[3 * i + 2] = 30;
  }
  write_jpeg(path("c.jpg"), 16, 16, 3, rgb.data(), 95);
  img = decode_image(path("c.jpg"));
  EXPECT_EQ(img.channels, 3);
  for (std::size_t i = 0; i < 16 * 16; ++i) {
    EXPECT_NEAR(img.pixels[3 * i], 200, 4);
    EXPECT_NEAR(img.pixels[3 * i + 1], 50, 4);
    EXPECT_NEAR(img.pixels[3 * i + 2], 30, 4);
  }
}

TEST_F(ImageTest, PgmBinaryAsciiAnd16Bit) {
  write_raw("a.pgm", std::string("P5\n# a comment\n3 2\n255\n") + std::string("\x00\x10\x20\x30\x40\xff", 6));
  Image img = decode_image(path("a.pgm"));
  EXPECT_EQ(img.width, 3);
  EXPECT_EQ(img.height, 2);
  EXPECT_EQ(img.bit_depth, 8);
  EXPECT_EQ(img.pixels, (std::vector<std::uint16_t>{0, 16, 32, 48, 64, 255}));

  // maxval 4095: 16-bit, big-endian samples, raw values kept.
  write_raw("b.pgm", std::string("P5 2 1 4095\n") + std::string("\x0f\xff\x01\x02", 4));
  img = decode_image(path("b.pgm"));
  EXPECT_EQ(img.bit_depth, 16);
  EXPECT_EQ(img.pixels, (std::vector<std::uint16_t>{4095, 258}));

  // ASCII with maxval 15: stretched to 0..255 (v * 255 / 15).
  write_raw("c.pgm", "P2\n2 2\n15\n0 15\n5 10\n");
  img = decode_image(path("c.pgm"));
  EXPECT_EQ(img.bit_depth, 8);
  EXPECT_EQ(img.pixels, (std::vector<std::uint16_t>{0, 255, 85, 170}));
}

TEST_F(ImageTest, CorruptTruncatedAndUnknownFilesNameFileAndProblem) {
  std::vector<std::uint8_t> px(32 * 32);
  for (std::size_t i = 0; i < px.size(); ++i) px[i] = static_cast<std::uint8_t>((i * 7) % 251);
  write_png(path("ok.png"), 32, 32, 1, 8, px.data());
  write_jpeg(path("ok.jpg"), 32, 32, 1, px.data(), 90);
  const std::string png = read_raw("ok.png"), jpg = read_raw("ok.jpg");

  write_raw("trunc.png", png.substr(0, png.size() / 2));
  expect_decode_error(path("trunc.png"), "corrupt PNG");
  std::string bad = png;
  bad[bad.size() / 2] ^= 0x55;  // flips bits inside IDAT: CRC or zlib error
  write_raw("bad.png", bad);
  expect_decode_error(path("bad.png"), "corrupt PNG");
  write_raw("header.png", png.substr(0, 12));
  expect_decode_error(path("header.png"), "corrupt PNG");

  write_raw("trunc.jpg", jpg.substr(0, jpg.size() / 2));
  expect_decode_error(path("trunc.jpg"), "corrupt JPEG");
  write_raw("head.jpg", jpg.substr(0, 3) + std::string(40, '\x00'));
  expect_decode_error(path("head.jpg"), "corrupt JPEG");

  write_raw("trunc.pgm", "P5 4 4 255\n" + std::string(10, '\x01'));
  expect_decode_error(path("trunc.pgm"), "truncated PNM");
  write_raw("text.png", "hello, not an image");
  expect_decode_error(path("text.png"), "unknown image format");
  write_raw("empty.jpg", "");
  expect_decode_error(path("empty.jpg"), "empty file");
  expect_decode_error(path("missing.png"), "cannot open");
}

Image gray16(int w, int h, std::vector<std::uint16_t> px) {
  Image img;
  img.width = w;
  img.height = h;
  img.channels = 1;
  img.bit_depth = 16;
  img.pixels = std::move(px);
  return img;
}

TEST(Windowing, MinMaxMapsRangeOnto0To255) {
  // min 1000, max 5000: v -> (v - 1000) * 255 / 4000, rounded half up.
  const Image out = to_8bit(gray16(5, 1, {1000, 2000, 3000, 4000, 5000}), PreprocessOptions{});
  EXPECT_EQ(out.bit_depth, 8);
  // 63.75 -> 64, 127.5 -> 128, 191.25 -> 191
  EXPECT_EQ(out.pixels, (std::vector<std::uint16_t>{0, 64, 128, 191, 255}));
}

TEST(Windowing, PercentileUsesNearestRankAndClamps) {
  // Samples 0, 100, ..., 10000 (N = 101). 10th percentile: rank floor(0.1 * 100) = 10 -> 1000;
  // 90th: rank 90 -> 9000. v -> (v - 1000) * 255 / 8000.
  std::vector<std::uint16_t> px;
  for (int i = 0; i <= 100; ++i) px.push_back(static_cast<std::uint16_t>(i * 100));
  PreprocessOptions o;
  o.window = PreprocessOptions::Window::percentile;
  o.window_low_pct = 10;
  o.window_high_pct = 90;
  const Image out = to_8bit(gray16(101, 1, px), o);
  EXPECT_EQ(out.pixels[5], 0);     // 500 < lo
  EXPECT_EQ(out.pixels[10], 0);    // lo
  EXPECT_EQ(out.pixels[30], 64);   // 3000 -> 63.75
  EXPECT_EQ(out.pixels[50], 128);  // 5000 -> 127.5
  EXPECT_EQ(out.pixels[90], 255);  // hi
  EXPECT_EQ(out.pixels[95], 255);  // above hi
}

TEST(Windowing, EightBitPassesUnchangedAndConstantBecomesZero) {
  Image img = gray16(3, 1, {3, 100, 250});
  img.bit_depth = 8;
  EXPECT_EQ(to_8bit(img, {}).pixels, img.pixels);
  EXPECT_EQ(to_8bit(gray16(2, 1, {700, 700}), {}).pixels, (std::vector<std::uint16_t>{0, 0}));
}

TEST(Resize, AreaDownscaleAndBilinearUpscale) {
  // 4x2 stripes 0/200 alternating per column -> 2x1 by area: each output averages 0 and 200.
  const std::vector<float> src = {0, 200, 0, 200, 0, 200, 0, 200};
  EXPECT_EQ(resize_plane(src.data(), 4, 2, 2, 1), (std::vector<float>{100, 100}));
  // 3 -> 2 area: out0 = (a + b/2) / 1.5, out1 = (b/2 + c) / 1.5.
  const std::vector<float> row = {30, 60, 90};
  const auto r = resize_plane(row.data(), 3, 1, 2, 1);
  EXPECT_NEAR(r[0], (30 + 30) / 1.5, 1e-4);
  EXPECT_NEAR(r[1], (30 + 90) / 1.5, 1e-4);
  // 2 -> 4 bilinear, half-pixel centres: x = -0.25, 0.25, 0.75, 1.25 (clamped).
  const std::vector<float> two = {0, 100};
  const auto up = resize_plane(two.data(), 2, 1, 4, 1);
  EXPECT_NEAR(up[0], 0, 1e-4);
  EXPECT_NEAR(up[1], 25, 1e-4);
  EXPECT_NEAR(up[2], 75, 1e-4);
  EXPECT_NEAR(up[3], 100, 1e-4);
}

TEST(Preprocess, KeepAspectPadsCentredAndStretchFills) {
  Image wide = gray16(40, 20, std::vector<std::uint16_t>(800, 200));
  wide.bit_depth = 8;
  PreprocessOptions o;
  o.image_size = 32;
  o.keep_aspect = true;
  // scale min(32/40, 32/20) = 0.8 -> 32x16 placed at rows 8..23.
  auto out = preprocess(wide, o);
  ASSERT_EQ(out.size(), 32u * 32u * 3u);
  for (int y = 0; y < 32; ++y)
    for (int x = 0; x < 32; ++x)
      for (int c = 0; c < 3; ++c)
        ASSERT_EQ(out[(y * 32 + x) * 3 + c], (y >= 8 && y < 24) ? 200 : 0) << y << "," << x;

  Image tall = gray16(10, 40, std::vector<std::uint16_t>(400, 90));
  tall.bit_depth = 8;
  // scale 0.8 -> 8x32 placed at columns 12..19.
  out = preprocess(tall, o);
  for (int y = 0; y < 32; ++y)
    for (int x = 0; x < 32; ++x) ASSERT_EQ(out[(y * 32 + x) * 3 + 1], (x >= 12 && x < 20) ? 90 : 0);

  o.keep_aspect = false;
  out = preprocess(wide, o);
  for (auto v : out) ASSERT_EQ(v, 200);
}

TEST(Preprocess, SixteenBitRgbOutputAndChannelsKept) {
  // 16-bit gray 2x1 {0, 65535} at size 2 (upscale rows, same columns): 0 and 255 per column.
  auto out = preprocess(gray16(2, 1, {0, 65535}), PreprocessOptions{2});
  EXPECT_EQ(out, (std::vector<std::uint8_t>{0, 0, 0, 255, 255, 255, 0, 0, 0, 255, 255, 255}));
  Image rgb;
  rgb.width = rgb.height = 1;
  rgb.channels = 3;
  rgb.pixels = {10, 20, 30};
  out = preprocess(rgb, PreprocessOptions{3});
  for (int i = 0; i < 9; ++i) EXPECT_EQ(out[i * 3 + 0], 10);
  EXPECT_EQ(out[4], 20);
  EXPECT_EQ(out[5], 30);
}

double stddev(const std::vector<std::uint16_t>& v) {
  const double mean = std::accumulate(v.begin(), v.end(), 0.0) / v.size();
  double s = 0;
  for (auto x : v) s += (x - mean) * (x - mean);
  return std::sqrt(s / v.size());
}

TEST(Clahe, RaisesContrastOfLowContrastImageAndKeepsOrder) {
  // 64x64, values 100..119: a diagonal ramp plus a deterministic pattern.
  Image img = gray16(64, 64, {});
  img.bit_depth = 8;
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 64; ++x)
      img.pixels.push_back(static_cast<std::uint16_t>(100 + (x + y) * 10 / 127 + (x * 7 + y * 3) % 10));
  const Image out = clahe(img);
  ASSERT_EQ(out.pixels.size(), img.pixels.size());
  EXPECT_GT(stddev(out.pixels), 2.0 * stddev(img.pixels));
  for (auto v : out.pixels) ASSERT_LE(v, 255);
  // Within one tile's interior a brighter input never maps darker (mappings are monotone).
  const int a = 3 * 64 + 3, b = 3 * 64 + 4;
  ASSERT_LT(img.pixels[a], img.pixels[b]);
  EXPECT_LE(out.pixels[a], out.pixels[b]);
  // Gray-in-RGB goes through luminance and gives the same result on all channels.
  Image rgb = img;
  rgb.channels = 3;
  rgb.pixels.clear();
  for (auto v : img.pixels) rgb.pixels.insert(rgb.pixels.end(), {v, v, v});
  const Image rgb_out = clahe(rgb);
  for (std::size_t i = 0; i < out.pixels.size(); ++i) {
    ASSERT_NEAR(rgb_out.pixels[3 * i], out.pixels[i], 1);
    ASSERT_EQ(rgb_out.pixels[3 * i], rgb_out.pixels[3 * i + 2]);
  }
  // preprocess(clahe=true) applies it.
  PreprocessOptions o;
  o.image_size = 64;
  o.clahe = true;
  const auto pre = preprocess(img, o);
  for (std::size_t i = 0; i < out.pixels.size(); ++i) ASSERT_EQ(pre[3 * i], out.pixels[i]);
}

}  // namespace
}  // namespace mammosweep::worker
