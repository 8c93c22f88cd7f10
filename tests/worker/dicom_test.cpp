// DICOM decoding (worker/dicom.h). Test files are written here with GDCM's own writer (the
// tests may include GDCM; the product code outside dicom.cpp does not), from pixel arrays
// whose decoded values are known independently of the decoder.
#include "worker/dicom.h"

#include <gdcmImageChangeTransferSyntax.h>
#include <gdcmImageWriter.h>
#include <gdcmReader.h>
#include <gdcmTrace.h>
#include <gdcmWriter.h>

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <functional>
#include <iostream>

#include <fstream>
#include <thread>

#include "io/files.h"
#include "tests/temp_dir.h"
#include "tests/worker/expect_decode_error.h"
#include "worker/dataset.h"
#include "worker/image.h"
#include "worker/preprocess.h"

namespace mammosweep::worker {
namespace {

using PI = gdcm::PhotometricInterpretation;
using TS = gdcm::TransferSyntax;

// What to write: pixel data `bytes` are the DICOM pixel data in little-endian order.
struct Spec {
  int width = 0, height = 0, samples = 1, allocated = 16, stored = 12, is_signed = 0;
  PI::PIType pi = PI::MONOCHROME2;
  int planar = 0;
  unsigned frames = 1;
  TS::TSType ts = TS::ExplicitVRLittleEndian;
  double slope = 1.0;
};

std::vector<std::uint8_t> le16(const std::vector<std::uint16_t>& v) {
  std::vector<std::uint8_t> out;
  for (auto s : v) {
    out.push_back(static_cast<std::uint8_t>(s & 0xFF));
    out.push_back(static_cast<std::uint8_t>(s >> 8));
  }
  return out;
}

std::vector<std::uint8_t> le16_signed(const std::vector<int>& v) {
  std::vector<std::uint16_t> bits;
  for (int s : v) bits.push_back(static_cast<std::uint16_t>(s));  // two's complement
  return le16(bits);
}

// A deterministic 12-bit test pattern of w*h values.
std::vector<std::uint16_t> pattern12(int w, int h) {
  std::vector<std::uint16_t> v;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      v.push_back(static_cast<std::uint16_t>((x * 37 + y * 101 + (x * y) % 13 * 211) % 4096));
  return v;
}

std::vector<std::uint16_t> pattern_rgb8(int w, int h) {  // interleaved RGB
  std::vector<std::uint16_t> v;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      v.push_back(static_cast<std::uint16_t>((x * 40 + y * 3) % 256));
      v.push_back(static_cast<std::uint16_t>((y * 50 + x) % 256));
      v.push_back(static_cast<std::uint16_t>((x * y * 7 + 11) % 256));
    }
  return v;
}

std::vector<std::uint8_t> bytes8(const std::vector<std::uint16_t>& v) {
  return std::vector<std::uint8_t>(v.begin(), v.end());
}

// Interleaved RGB -> planar (all R, then all G, then all B).
std::vector<std::uint16_t> planes(const std::vector<std::uint16_t>& rgb) {
  std::vector<std::uint16_t> out;
  for (std::size_t c = 0; c < 3; ++c)
    for (std::size_t i = c; i < rgb.size(); i += 3) out.push_back(rgb[i]);
  return out;
}

// An 8-bit, 3-sample spec of the given size and photometric interpretation.
Spec colour8(int width, int height, PI::PIType pi, TS::TSType ts = TS::ExplicitVRLittleEndian) {
  Spec s;
  s.width = width;
  s.height = height;
  s.samples = 3;
  s.allocated = s.stored = 8;
  s.pi = pi;
  s.ts = ts;
  return s;
}

class DicomTest : public ::testing::Test {
 protected:
  void SetUp() override {
    gdcm::Trace::WarningOff();  // GDCM's writer warns about the minimal test files
  }
  std::string path(const std::string& name) const { return dir_.file(name); }

  // Writes a DICOM file with `bytes` as its pixel data, compressed by GDCM when s.ts says so.
  std::string write(const std::string& name, const Spec& s,
                    const std::vector<std::uint8_t>& bytes) const {
    const std::string p = path(name);
    io::make_dirs(io::parent_dir(p));
    gdcm::ImageWriter writer;
    gdcm::Image& im = writer.GetImage();
    im.SetNumberOfDimensions(s.frames > 1 ? 3 : 2);
    im.SetDimension(0, static_cast<unsigned>(s.width));
    im.SetDimension(1, static_cast<unsigned>(s.height));
    if (s.frames > 1) im.SetDimension(2, s.frames);
    im.SetPixelFormat(gdcm::PixelFormat(static_cast<unsigned short>(s.samples),
                                        static_cast<unsigned short>(s.allocated),
                                        static_cast<unsigned short>(s.stored),
                                        static_cast<unsigned short>(s.stored - 1),
                                        static_cast<unsigned short>(s.is_signed)));
    im.SetPhotometricInterpretation(s.pi);
    if (s.samples == 3) im.SetPlanarConfiguration(static_cast<unsigned>(s.planar));
    im.SetTransferSyntax(TS::ExplicitVRLittleEndian);
    im.SetSlope(s.slope);
    gdcm::DataElement pixel_data(gdcm::Tag(0x7fe0, 0x0010));
    pixel_data.SetByteValue(reinterpret_cast<const char*>(bytes.data()),
                            static_cast<std::uint32_t>(bytes.size()));
    im.SetDataElement(pixel_data);
    gdcm::ImageChangeTransferSyntax change;
    if (s.ts != TS::ExplicitVRLittleEndian) {
      change.SetTransferSyntax(s.ts);
      change.SetInput(im);
      EXPECT_TRUE(change.Change()) << "GDCM cannot encode " << TS::GetTSString(s.ts);
      writer.SetImage(change.GetOutput());
    }
    writer.SetFileName(p.c_str());
    EXPECT_TRUE(writer.Write()) << p;
    return p;
  }
  // Reads `in` with GDCM, lets `edit` change its data set, writes the result to `out`.
  template <typename Edit>
  std::string rewrite(const std::string& in, const std::string& out_name, Edit edit) const {
    gdcm::Reader reader;
    reader.SetFileName(in.c_str());
    EXPECT_TRUE(reader.Read()) << in;
    edit(reader.GetFile().GetDataSet());
    gdcm::Writer writer;
    writer.SetFile(reader.GetFile());
    const std::string out = path(out_name);
    writer.SetFileName(out.c_str());
    EXPECT_TRUE(writer.Write()) << out;
    return out;
  }
  std::vector<std::uint8_t> bytes_of(const std::string& p) const {
    const std::string s = read_file_bytes(p);
    return {s.begin(), s.end()};
  }
  void write_bytes(const std::string& p, const std::vector<std::uint8_t>& b) const {
    std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(b.data()),
                                            static_cast<std::streamsize>(b.size()));
  }

  test::TempDir dir_{"mswdicom"};
};

TEST_F(DicomTest, Monochrome2TwelveBitKeepsRawValues) {
  const std::vector<std::uint16_t> px = {0, 1, 2048, 4095, 100, 3000};
  Spec s;
  s.width = 3;
  s.height = 2;
  const Image img = decode_image(write("m2.dcm", s, le16(px)));
  EXPECT_EQ(img.width, 3);
  EXPECT_EQ(img.height, 2);
  EXPECT_EQ(img.channels, 1);
  EXPECT_EQ(img.bit_depth, 16);
  EXPECT_EQ(img.pixels, px);
}

TEST_F(DicomTest, UnusedHighBitsAreMasked) {
  // Bits 12..15 of a 12-bit sample are not part of the value (overlays used to live there).
  Spec s;
  s.width = 2;
  s.height = 1;
  const Image img = decode_image(write("m.dcm", s, le16({0xF123, 0x1FFF})));
  EXPECT_EQ(img.pixels, (std::vector<std::uint16_t>{0x123, 0xFFF}));
}

TEST_F(DicomTest, Monochrome1IsInverted) {
  Spec s;
  s.width = 4;
  s.height = 1;
  s.pi = PI::MONOCHROME1;
  Image img = decode_image(write("m1.dcm", s, le16({0, 1, 4000, 4095})));
  EXPECT_EQ(img.bit_depth, 16);
  EXPECT_EQ(img.pixels, (std::vector<std::uint16_t>{4095, 4094, 95, 0}));

  s.allocated = s.stored = 8;
  img = decode_image(write("m1_8.dcm", s, {0, 10, 200, 255}));
  EXPECT_EQ(img.bit_depth, 8);
  EXPECT_EQ(img.pixels, (std::vector<std::uint16_t>{255, 245, 55, 0}));
}

TEST_F(DicomTest, EightBitGray) {
  Spec s;
  s.width = 2;
  s.height = 2;
  s.allocated = s.stored = 8;
  Image img = decode_image(write("g8.dcm", s, {0, 17, 128, 255}));
  EXPECT_EQ(img.channels, 1);
  EXPECT_EQ(img.bit_depth, 8);
  EXPECT_EQ(img.pixels, (std::vector<std::uint16_t>{0, 17, 128, 255}));

  s.allocated = 16;  // 8 bits stored in 16 allocated: still an 8-bit image
  img = decode_image(write("g8in16.dcm", s, le16({0, 17, 0xFF80, 255})));
  EXPECT_EQ(img.bit_depth, 8);
  EXPECT_EQ(img.pixels, (std::vector<std::uint16_t>{0, 17, 128, 255}));

  s.stored = 6;  // fewer than 8 bits stored: stretched to 0..255 like a small-maxval PGM
  img = decode_image(write("g6.dcm", s, le16({0, 63, 32, 1})));
  EXPECT_EQ(img.bit_depth, 8);
  EXPECT_EQ(img.pixels, (std::vector<std::uint16_t>{0, 255, 130, 4}));

  s.allocated = 8;  // GDCM cannot decode 8 bits allocated with fewer stored: a clear error
  expect_decode_error(write("g6in8.dcm", s, {0, 63, 32, 1}), "unsupported bits stored 6");
}

TEST_F(DicomTest, SignedPixelsAreShiftedByHalfTheStoredRange) {
  Spec s;
  s.width = 5;
  s.height = 1;
  s.is_signed = 1;
  Image img = decode_image(write("s12.dcm", s, le16_signed({-2048, -1, 0, 1, 2047})));
  EXPECT_EQ(img.bit_depth, 16);
  EXPECT_EQ(img.pixels, (std::vector<std::uint16_t>{0, 2047, 2048, 2049, 4095}));

  s.stored = 16;
  img = decode_image(write("s16.dcm", s, le16_signed({-32768, -1000, 0, 1000, 32767})));
  EXPECT_EQ(img.pixels, (std::vector<std::uint16_t>{0, 31768, 32768, 33768, 65535}));

  // MONOCHROME1 inverts after the shift, within the stored range.
  s.stored = 12;
  s.pi = PI::MONOCHROME1;
  img = decode_image(write("s12m1.dcm", s, le16_signed({-2048, -1, 0, 1, 2047})));
  EXPECT_EQ(img.pixels, (std::vector<std::uint16_t>{4095, 2048, 2047, 2046, 0}));
}

TEST_F(DicomTest, NegativeRescaleSlopeReversesBrightnessLikeMonochrome1) {
  Spec s;
  s.width = 3;
  s.height = 1;
  s.slope = -1.0;
  Image img = decode_image(write("neg.dcm", s, le16({0, 1000, 4095})));
  EXPECT_EQ(img.pixels, (std::vector<std::uint16_t>{4095, 3095, 0}));
  s.pi = PI::MONOCHROME1;  // two reversals cancel
  img = decode_image(write("neg_m1.dcm", s, le16({0, 1000, 4095})));
  EXPECT_EQ(img.pixels, (std::vector<std::uint16_t>{0, 1000, 4095}));
  s.pi = PI::MONOCHROME2;
  s.slope = 2.5;  // a positive slope is not applied
  img = decode_image(write("pos.dcm", s, le16({0, 1000, 4095})));
  EXPECT_EQ(img.pixels, (std::vector<std::uint16_t>{0, 1000, 4095}));
}

TEST_F(DicomTest, RgbInterleavedAndPlanarGiveTheSameInterleavedPixels) {
  const int w = 5, h = 3;
  const auto rgb = pattern_rgb8(w, h);
  Spec s = colour8(w, h, PI::RGB);
  const Image interleaved = decode_image(write("rgb0.dcm", s, bytes8(rgb)));
  s.planar = 1;
  const Image planar = decode_image(write("rgb1.dcm", s, bytes8(planes(rgb))));
  EXPECT_EQ(interleaved.channels, 3);
  EXPECT_EQ(interleaved.bit_depth, 8);
  EXPECT_EQ(interleaved.pixels, rgb);
  EXPECT_EQ(planar.channels, 3);
  EXPECT_EQ(planar.pixels, rgb);
}

// Lossless compressed transfer syntaxes decode to exactly the pixels that went in.
TEST_F(DicomTest, LosslessCompressionGivesTheSamePixels) {
  const int w = 20, h = 12;
  const auto gray = pattern12(w, h);
  const auto rgb = pattern_rgb8(w, h);
  for (const TS::TSType ts : {TS::JPEGLosslessProcess14_1, TS::RLELossless, TS::JPEG2000Lossless,
                              TS::JPEGLSLossless}) {
    SCOPED_TRACE(TS::GetTSString(ts));
    Spec s;
    s.width = w;
    s.height = h;
    s.ts = ts;
    const std::string name = std::to_string(static_cast<int>(ts));
    Image img = decode_image(write(name + "_gray.dcm", s, le16(gray)));
    EXPECT_EQ(img.bit_depth, 16);
    EXPECT_EQ(img.pixels, gray);

    s.samples = 3;
    s.allocated = s.stored = 8;
    s.pi = PI::RGB;
    img = decode_image(write(name + "_rgb.dcm", s, bytes8(rgb)));
    EXPECT_EQ(img.channels, 3);
    EXPECT_EQ(img.pixels, rgb);

    s.planar = 1;  // the encoder starts from planar input
    img = decode_image(write(name + "_rgb_planar.dcm", s, bytes8(planes(rgb))));
    EXPECT_EQ(img.pixels, rgb);
  }
}

// JPEG 2000 colour files say YBR_RCT (lossless) or YBR_ICT (lossy) when the codestream holds
// the component transform; the JPEG 2000 decoder undoes it, so the pixels are RGB.
TEST_F(DicomTest, Jpeg2000YbrRctIsRgb) {
  const int w = 12, h = 8;
  const auto rgb = pattern_rgb8(w, h);
  Spec s = colour8(w, h, PI::RGB, TS::JPEG2000Lossless);
  const auto relabel = [](gdcm::DataSet& ds) {
    gdcm::DataElement pi(gdcm::Tag(0x0028, 0x0004), 8, gdcm::VR::CS);
    pi.SetByteValue("YBR_RCT ", 8);
    ds.Replace(pi);
  };
  const std::string rct = rewrite(write("rgb.dcm", s, bytes8(rgb)), "rct.dcm", relabel);
  const Image img = decode_image(rct);
  EXPECT_EQ(img.channels, 3);
  EXPECT_EQ(img.pixels, rgb);
}

// Y, Cb, Cr triples and the RGB the DICOM (JPEG/JFIF) equations give for them.
const std::vector<std::uint16_t> kYbr = {100, 128, 128, 76, 85, 255, 150, 44, 21, 29, 255, 107};
const std::vector<std::uint16_t> kRgb = {100, 100, 100, 254, 0, 0, 0, 255, 0, 0, 0, 255};

TEST_F(DicomTest, YbrFullIsConvertedToRgb) {
  Spec s = colour8(4, 1, PI::YBR_FULL);
  const Image img = decode_image(write("ybr.dcm", s, bytes8(kYbr)));
  ASSERT_EQ(img.pixels.size(), kRgb.size());
  for (std::size_t i = 0; i < kRgb.size(); ++i)
    EXPECT_NEAR(img.pixels[i], kRgb[i], 1) << "sample " << i;
}

// JPEG baseline colour, the usual lossy colour DICOM: YCbCr inside the JPEG, YBR_FULL_422.
TEST_F(DicomTest, JpegBaselineYbrComesBackAsRgb) {
  const int w = 16, h = 16;  // four flat 8x8 quadrants: JPEG keeps flat colours well
  std::vector<std::uint16_t> ybr, rgb;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const std::size_t q = 3 * std::size_t((y / 8) * 2 + x / 8);
      ybr.insert(ybr.end(), kYbr.begin() + q, kYbr.begin() + q + 3);
      rgb.insert(rgb.end(), kRgb.begin() + q, kRgb.begin() + q + 3);
    }
  Spec s = colour8(w, h, PI::YBR_FULL, TS::JPEGBaselineProcess1);
  const Image img = decode_image(write("baseline.dcm", s, bytes8(ybr)));
  ASSERT_EQ(img.pixels.size(), rgb.size());
  // Subsampled chroma bleeds across quadrant edges; compare the quadrants' inner pixels.
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c)
        if (x % 8 >= 2 && x % 8 < 6 && y % 8 >= 2 && y % 8 < 6) {
          const std::size_t i = 3 * std::size_t(y * w + x) + c;
          EXPECT_NEAR(img.pixels[i], rgb[i], 8) << "x " << x << " y " << y << " c " << c;
        }
}

TEST_F(DicomTest, UncompressedYbrFull422) {
  // Two pixels share one Cb, Cr pair: Y1 Y2 Cb Cr.
  Spec s = colour8(2, 1, PI::YBR_FULL_422);
  const Image img = decode_image(write("ybr422.dcm", s, {100, 150, 44, 21}));
  const std::vector<std::uint16_t> expected = {0, 205, 0, 0, 255, 1};
  ASSERT_EQ(img.pixels.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i)
    EXPECT_NEAR(img.pixels[i], expected[i], 1) << "sample " << i;
}

TEST_F(DicomTest, DetectionIsByContentNotExtension) {
  Spec s;
  s.width = 2;
  s.height = 1;
  const std::string p = write("scan.dcm", s, le16({5, 4000}));
  const auto bytes = bytes_of(p);
  EXPECT_TRUE(is_dicom(bytes.data(), bytes.size()));
  const std::string odd = path("no_extension");
  write_bytes(odd, bytes);
  EXPECT_EQ(decode_image(odd).pixels, (std::vector<std::uint16_t>{5, 4000}));
  EXPECT_EQ(decode_image_memory(bytes.data(), bytes.size(), "mem").pixels,
            (std::vector<std::uint16_t>{5, 4000}));
}

// The strongest end-to-end check: a DICOM and a PNG of the same pixels preprocess identically.
TEST_F(DicomTest, PreprocessMatchesThePngOfTheSamePixels) {
  const int w = 37, h = 23;
  const auto stored = pattern12(w, h);
  std::vector<std::uint16_t> shown;  // MONOCHROME1: what the display shows
  for (auto v : stored) shown.push_back(static_cast<std::uint16_t>(4095 - v));
  Spec s;
  s.width = w;
  s.height = h;
  s.pi = PI::MONOCHROME1;
  s.ts = TS::JPEGLosslessProcess14_1;
  const std::string dcm = write("m1.dcm", s, le16(stored));
  write_png(path("m1.png"), w, h, 1, 16, shown.data());

  const auto rgb = pattern_rgb8(w, h);
  Spec c;
  c.width = w;
  c.height = h;
  c.samples = 3;
  c.allocated = c.stored = 8;
  c.pi = PI::RGB;
  c.planar = 1;
  const std::string dcm_rgb = write("rgb.dcm", c, bytes8(planes(rgb)));
  write_png(path("rgb.png"), w, h, 3, 8, rgb.data());

  PreprocessOptions o;
  o.image_size = 32;
  for (const bool clahe : {false, true})
    for (const bool keep_aspect : {false, true})
      for (const auto window : {PreprocessOptions::Window::minmax,
                                PreprocessOptions::Window::percentile}) {
        o.clahe = clahe;
        o.keep_aspect = keep_aspect;
        o.window = window;
        EXPECT_EQ(preprocess(decode_image(dcm), o), preprocess(decode_image(path("m1.png")), o));
        EXPECT_EQ(preprocess(decode_image(dcm_rgb), o),
                  preprocess(decode_image(path("rgb.png")), o));
      }
}

TEST_F(DicomTest, MultiFrameIsRejected) {
  Spec s;
  s.width = 2;
  s.height = 2;
  s.frames = 3;
  expect_decode_error(write("dbt.dcm", s, le16(std::vector<std::uint16_t>(12, 7))), "multi-frame");
}

TEST_F(DicomTest, UnsupportedAttributesAreNamed) {
  Spec s;
  s.width = 2;
  s.height = 1;
  s.allocated = s.stored = 32;
  expect_decode_error(write("b32.dcm", s, std::vector<std::uint8_t>(8, 1)),
               "unsupported bits allocated 32");

  Spec h;
  h.width = 2;
  h.height = 1;
  h.samples = 3;
  h.allocated = h.stored = 8;
  h.pi = PI::HSV;
  expect_decode_error(write("hsv.dcm", h, std::vector<std::uint8_t>(6, 1)),
               "unsupported photometric interpretation \"HSV\"");

  Spec short_data;  // 2 pixels of 16 bits need 4 bytes
  short_data.width = 2;
  short_data.height = 1;
  expect_decode_error(write("short.dcm", short_data, std::vector<std::uint8_t>(2, 1)),
               "pixel data holds 2 bytes");
}

TEST_F(DicomTest, MissingPixelDataIsNamed) {
  Spec s;
  s.width = 2;
  s.height = 1;
  const auto drop_pixels = [](gdcm::DataSet& ds) { ds.Remove(gdcm::Tag(0x7fe0, 0x0010)); };
  const std::string nopix = rewrite(write("img.dcm", s, le16({1, 2})), "nopix.dcm", drop_pixels);
  expect_decode_error(nopix, "no pixel data");
}

TEST_F(DicomTest, TruncatedAndGarbageFilesNameTheFile) {
  // The Debian GDCM asserts (aborts) on truncated input, so this runs every cut in-process:
  // each one must be an ImageError, for native and encapsulated pixel data.
  for (const TS::TSType ts : {TS::ExplicitVRLittleEndian, TS::ImplicitVRLittleEndian,
                              TS::ExplicitVRBigEndian, TS::JPEGLosslessProcess14_1,
                              TS::RLELossless, TS::JPEG2000Lossless, TS::JPEGLSLossless}) {
    SCOPED_TRACE(TS::GetTSString(ts));
    Spec s;
    s.width = 8;
    s.height = 8;
    s.ts = ts;
    const auto whole = bytes_of(write("whole.dcm", s, le16(pattern12(8, 8))));
    EXPECT_EQ(decode_image_memory(whole.data(), whole.size(), "whole.dcm").pixels,
              pattern12(8, 8));
    for (std::size_t keep = 0; keep < whole.size(); ++keep) {
      try {
        decode_image_memory(whole.data(), keep, "cut.dcm");
        ADD_FAILURE() << "no error for " << keep << " of " << whole.size() << " bytes";
      } catch (const ImageError& e) {
        EXPECT_EQ(std::string(e.what()).rfind("cut.dcm: ", 0), 0u) << e.what();
      }
    }
    const std::string cut = path("cut.dcm");
    write_bytes(cut, std::vector<std::uint8_t>(whole.begin(), whole.end() - 10));
    expect_decode_error(cut, "truncated DICOM file");
  }

  std::vector<std::uint8_t> garbage(128, 0);
  for (char ch : std::string("DICM")) garbage.push_back(static_cast<std::uint8_t>(ch));
  for (int i = 0; i < 500; ++i) garbage.push_back(static_cast<std::uint8_t>(i * 131 + 7));
  write_bytes(path("garbage.dcm"), garbage);
  expect_decode_error(path("garbage.dcm"), "corrupt DICOM file");

  std::vector<std::uint8_t> just_marker(128, 0);
  for (char ch : std::string("DICM")) just_marker.push_back(static_cast<std::uint8_t>(ch));
  write_bytes(path("marker.dcm"), just_marker);
  expect_decode_error(path("marker.dcm"), "truncated DICOM file");

  // Called directly, the DICOM decoder refuses other formats.
  const std::uint8_t png_px[1] = {9};
  write_png(path("x.png"), 1, 1, 1, 8, png_px);
  const auto png = bytes_of(path("x.png"));
  try {
    decode_dicom_memory(png.data(), png.size(), "x.png");
    FAIL() << "no error";
  } catch (const ImageError& e) {
    EXPECT_NE(std::string(e.what()).find("x.png: not a DICOM file"), std::string::npos)
        << e.what();
  }
}

// Data sets that GDCM reads differently from the pre-check, or asserts on, are refused before
// GDCM sees them: each is a valid file with a few header bytes changed (the fuzzing findings
// 14-16 in docs/reliability.md are of these kinds).
TEST_F(DicomTest, MalformedElementsAreRefusedBeforeGdcmReadsThem) {
  Spec s;
  s.width = 4;
  s.height = 2;
  const auto valid = bytes_of(write("valid.dcm", s, le16(pattern12(4, 2))));
  // Offset of the explicit-VR element (group, element): its tag, then its two VR bytes.
  auto find = [&](std::uint16_t group, std::uint16_t element) {
    for (std::size_t i = 132; i + 6 <= valid.size(); ++i) {
      if (valid[i] == (group & 0xFF) && valid[i + 1] == (group >> 8) &&
          valid[i + 2] == (element & 0xFF) && valid[i + 3] == (element >> 8) &&
          valid[i + 4] >= 'A' && valid[i + 4] <= 'Z')
        return i;
    }
    ADD_FAILURE() << "no element " << group << "," << element;
    return std::size_t{0};
  };
  struct Case {
    const char* what;
    std::function<void(std::vector<std::uint8_t>&)> change;
    const char* error;
  };
  const std::vector<Case> cases = {
      {"a VR that is two letters but none of the standard's",
       [&](auto& b) { b[find(0x0002, 0x0002) + 4] = 'E'; }, "invalid value representation"},
      {"a meta group length that is not UL",
       [&](auto& b) { b[find(0x0002, 0x0000) + 5] = 'I'; }, "is not a 4-byte UL"},
      {"a repeated tag (Columns written as a second Rows)",
       [&](auto& b) { b[find(0x0028, 0x0011) + 2] = 0x10; }, "(0028,0010) appears twice"},
      {"tags out of order (Columns renumbered below Rows)",
       [&](auto& b) { b[find(0x0028, 0x0011) + 2] = 0x09; },
       "(0028,0009) comes after (0028,0010)"},
      {"pixel data as a sequence",
       [&](auto& b) { std::size_t at = find(0x7FE0, 0x0010); b[at + 4] = 'S'; b[at + 5] = 'Q'; },
       "pixel data (7FE0,0010) with VR SQ"},
  };
  EXPECT_EQ(decode_dicom_memory(valid.data(), valid.size(), "valid.dcm").pixels,
            pattern12(4, 2));
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    std::vector<std::uint8_t> b = valid;
    c.change(b);
    write_bytes(path("bad.dcm"), b);
    expect_decode_error(path("bad.dcm"), c.error);
  }
}

// GDCM's codecs may crash on corrupt bytes inside a compressed stream (an assertion abort in
// Debian's build, or an out-of-bounds read; nothing to catch in process). The product decodes
// in a helper process (worker/dicom_helper.h), so every flipped byte must give an Image or an
// ImageError naming the file, and exactly the bytes that crash the in-process decoder (run in
// a forked child: the independent check) must give the helper's crash message. Bytes around
// the start of a JPEG-lossless file's pixel fragment are flipped in turn (Debian's GDCM 3.0.21
// crashes for 2 of them).
TEST_F(DicomTest, ACrashInsideGdcmIsAnImageErrorForThatFile) {
  Spec s;
  s.width = 16;
  s.height = 16;
  s.ts = TS::JPEGLosslessProcess14_1;
  const auto whole = bytes_of(write("jpeg.dcm", s, le16(pattern12(16, 16))));
  int aborts = 0, errors = 0;
  const std::size_t first = whole.size() - 480, last = whole.size() - 400;
  for (std::size_t pos = first; pos < last; ++pos) {
    std::vector<std::uint8_t> bytes = whole;
    bytes[pos] ^= 0xFF;
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      std::freopen("/dev/null", "w", stderr);
      try {
        decode_dicom_memory(bytes.data(), bytes.size(), "mutated.dcm");
      } catch (const ImageError&) {
      }
      ::_exit(0);
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    const bool crashes = WIFSIGNALED(status);
    try {
      decode_image_memory(bytes.data(), bytes.size(), "mutated.dcm");
      EXPECT_FALSE(crashes) << "byte " << pos;
    } catch (const ImageError& e) {
      const std::string msg = e.what();
      EXPECT_EQ(msg.rfind("mutated.dcm: ", 0), 0u) << msg;
      EXPECT_EQ(msg.find("GDCM crashed the DICOM decoder process (signal " +
                         std::to_string(crashes ? WTERMSIG(status) : 0)) != std::string::npos,
                crashes)
          << "byte " << pos << ": " << msg;
      aborts += crashes;
      errors += !crashes;
    }
  }
  std::cout << aborts << " of " << last - first << " flipped bytes made GDCM crash (each an "
            << "ImageError from the helper), " << errors << " gave the decoder's ImageError\n";
  if (aborts == 0) GTEST_SKIP() << "no flipped byte made this GDCM crash (another GDCM version?)";
}

TEST_F(DicomTest, DecodesConcurrently) {
  const int w = 40, h = 30;
  const auto gray = pattern12(w, h);
  Spec s;
  s.width = w;
  s.height = h;
  s.ts = TS::JPEGLosslessProcess14_1;
  const auto bytes = bytes_of(write("c.dcm", s, le16(gray)));
  std::vector<int> ok(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i)
        ok[t] += decode_dicom_memory(bytes.data(), bytes.size(), "c.dcm").pixels == gray;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok, (std::vector<int>{25, 25, 25, 25}));
}

TEST_F(DicomTest, DatasetFoldersListDicomFiles) {
  Spec s;
  s.width = 2;
  s.height = 2;
  const auto px = le16({1, 2, 3, 4});
  for (const char* rel : {"ds/train/0/a.dcm", "ds/train/1/b.DCM", "ds/valid/0/c.dicom",
                          "ds/valid/1/d.dcm", "ds/test/0/e.Dicom", "ds/test/1/f.dcm"})
    write(rel, s, px);
  std::ofstream(path("ds/train/0/notes.txt")) << "not an image";
  SourceOptions o;
  o.root = path("ds");
  const auto records = list_images(o);
  std::vector<std::string> names;
  for (const auto& r : records) {
    names.push_back(r.path.substr(r.path.rfind('/') + 1));
    EXPECT_EQ(decode_image(r.path).pixels, (std::vector<std::uint16_t>{1, 2, 3, 4}));
  }
  EXPECT_EQ(names, (std::vector<std::string>{"a.dcm", "b.DCM", "c.dicom", "d.dcm", "e.Dicom",
                                             "f.dcm"}));
}

}  // namespace
}  // namespace mammosweep::worker

