// DICOM decoding: a structural check of our own, then GDCM parses the file and decompresses the
// pixel data (gdcm::Image::GetBuffer); this file maps the result onto an Image (rules in
// dicom.h).
//
// Why check before GDCM: the GDCM that Debian ships is built with assertions, and its parser
// and pixel-format setters assert (aborting the process) on truncated files and on
// out-of-range image attributes. The product runs this code in a helper process
// (dicom_helper.h), so such an abort costs one file, not the training run; the check is still
// worth its lines: it names the problem precisely, and a helper that survives needs no
// restart. Precheck walks the file first: the file meta information, then every element, item
// and fragment of the data set must lie inside the file, and the Image Pixel attributes GDCM
// trusts (rows, columns, samples, bits) must be present, 2 bytes long and in the ranges decoded
// here. Corrupt data *inside* a compressed stream is left to GDCM's codecs, and so to the
// helper's isolation.
#include "worker/dicom.h"

#include <gdcmImageReader.h>
#include <gdcmTrace.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <istream>
#include <map>
#include <streambuf>
#include <utility>
#include <vector>

namespace mammosweep::worker {
namespace {

[[noreturn]] void fail(const std::string& name, const std::string& problem) {
  throw ImageError(name + ": " + problem);
}

std::string tag_text(std::uint32_t tag) {
  char text[16];
  std::snprintf(text, sizeof(text), "(%04X,%04X)", tag >> 16, tag & 0xFFFF);
  return text;
}

constexpr std::uint32_t kPixelData = 0x7FE00010;

// Image Pixel module attributes (all US) that Precheck reads and checks.
enum Attribute : std::uint32_t {
  kSamples = 0x00280002, kRows = 0x00280010, kColumns = 0x00280011,
  kBitsAllocated = 0x00280100, kBitsStored = 0x00280101, kHighBit = 0x00280102,
  kPixelRepresentation = 0x00280103,
};

bool is_pixel_attribute(std::uint32_t tag) {
  return tag == kSamples || tag == kRows || tag == kColumns ||
         (tag >= kBitsAllocated && tag <= kPixelRepresentation);
}

class Precheck {
 public:
  Precheck(const std::uint8_t* data, std::size_t size, const std::string& name)
      : d_(data), n_(size), name_(name) {}

  void run() {
    // File meta information: group 0002, always explicit VR little endian.
    const Syntax meta{true, false};
    std::size_t pos = 132, meta_end = 0;
    std::string ts;
    if (pos >= n_) truncated(pos, "file meta information");
    std::int64_t previous = -1;
    while (pos < n_ && (meta_end == 0 || pos < meta_end)) {
      need(pos, 2, "element header");
      if (u16(pos, false) != 0x0002) break;
      const Header h = header(pos, meta);
      in_order(pos, h.tag, previous);
      // No meta element is a sequence (PS3.10 7.1); GDCM asserts reading one here.
      if (h.vr[0] == 'S' && h.vr[1] == 'Q')
        corrupt(pos, "a sequence (VR SQ) in the file meta information, element " + tag_text(h.tag));
      if (h.tag == 0x00020000 && (std::string(h.vr) != "UL" || h.length != 4))
        corrupt(pos, "the file meta information group length (0002,0000) is not a 4-byte UL");
      const std::size_t next = skip(pos, h);
      if (h.tag == 0x00020000 && h.length == 4) meta_end = next + u32(h.value, false);
      if (h.tag == 0x00020010) ts.assign(reinterpret_cast<const char*>(d_ + h.value), h.length);
      pos = next;
    }
    if (meta_end > n_) truncated(132, "file meta information");
    // GDCM reads the meta information by its group length; where that disagrees with the
    // elements, GDCM and this check would read the data set from different bytes.
    if (meta_end != 0 && pos != meta_end)
      corrupt(132, "the file meta information group length says it ends at byte " +
                       std::to_string(meta_end) + ", its elements end at byte " +
                       std::to_string(pos));
    while (!ts.empty() && (ts.back() == '\0' || ts.back() == ' ')) ts.pop_back();
    if (ts.empty()) corrupt(132, "no Transfer Syntax UID (0002,0010) in the file meta information");
    if (ts == "1.2.840.10008.1.2.1.99")
      fail(name_, "deflated DICOM data sets (transfer syntax " + ts + ") are not supported");
    ts_ = ts;
    native_ = ts == "1.2.840.10008.1.2" || ts == "1.2.840.10008.1.2.1" || ts == "1.2.840.10008.1.2.2";
    if (pos >= n_) truncated(pos, "data set");
    elements(pos, n_, Syntax{ts != "1.2.840.10008.1.2", ts == "1.2.840.10008.1.2.2"}, 0);

    if (!has_pixel_data_)
      fail(name_, "DICOM file has no pixel data (7FE0,0010): not an image");
    for (const Attribute a : {kRows, kColumns, kBitsAllocated, kBitsStored, kHighBit,
                              kPixelRepresentation})
      if (!us_.count(a)) corrupt(0, "missing " + tag_text(a) + " in the image attributes");
    const unsigned samples = us_.count(kSamples) ? us_[kSamples] : 1;
    const unsigned allocated = us_[kBitsAllocated], stored = us_[kBitsStored];
    if (us_[kRows] == 0 || us_[kColumns] == 0)
      fail(name_, "DICOM image size " + std::to_string(us_[kColumns]) + "x" +
                      std::to_string(us_[kRows]) + " is empty");
    if (samples != 1 && samples != 3)
      fail(name_, "unsupported samples per pixel " + std::to_string(samples) +
                      " (expected 1 or 3)");
    if (allocated != 8 && allocated != 16)
      fail(name_, "unsupported bits allocated " + std::to_string(allocated) +
                      " (expected 8 or 16)");
    // GDCM asserts on 8 bits allocated with fewer stored.
    if (stored < 1 || stored > allocated || (allocated == 8 && stored != 8) ||
        us_[kHighBit] != stored - 1)
      fail(name_, "unsupported bits stored " + std::to_string(stored) + " / high bit " +
                      std::to_string(us_[kHighBit]) + " with bits allocated " +
                      std::to_string(allocated) +
                      " (expected 8 bits stored of 8, or 1..16 of 16, high bit = stored - 1)");
    if (us_[kPixelRepresentation] > 1)
      corrupt(0, "pixel representation " + std::to_string(us_[kPixelRepresentation]) +
                     " (expected 0 or 1)");
    if (ts == "1.2.840.10008.1.2.5") check_rle(samples, allocated);
  }

 private:
  struct Syntax {
    bool explicit_vr, big_endian;
  };
  struct Header {
    std::uint32_t tag = 0, length = 0;
    std::size_t value = 0;         // offset of the value
    char vr[3] = {0, 0, 0};        // empty in implicit VR and for items/delimiters
    bool undefined = false;        // length 0xFFFFFFFF: items follow, up to a delimiter
  };
  static constexpr std::uint32_t kItem = 0xFFFEE000, kItemEnd = 0xFFFEE00D,
                                 kSequenceEnd = 0xFFFEE0DD;
  static constexpr std::size_t kToDelimiter = static_cast<std::size_t>(-1);

  [[noreturn]] void truncated(std::size_t pos, const std::string& what) const {
    fail(name_, "truncated DICOM file: the " + what + " at byte " + std::to_string(pos) +
                    " runs past the end of the file (" + std::to_string(n_) + " bytes)");
  }
  [[noreturn]] void corrupt(std::size_t pos, const std::string& what) const {
    fail(name_, "corrupt DICOM file: " + what + (pos ? " at byte " + std::to_string(pos) : ""));
  }
  void need(std::size_t pos, std::size_t bytes, const char* what) const {
    if (bytes > n_ - pos) truncated(pos, what);
  }
  std::uint32_t u16(std::size_t p, bool big) const {
    return big ? (d_[p] << 8) | d_[p + 1] : d_[p] | (d_[p + 1] << 8);
  }
  std::uint32_t u32(std::size_t p, bool big) const {
    return big ? (u16(p, true) << 16) | u16(p + 2, true)
               : u16(p, false) | (u16(p + 2, false) << 16);
  }

  Header header(std::size_t pos, Syntax s) const {
    need(pos, 8, "element header");
    Header h;
    h.tag = (u16(pos, s.big_endian) << 16) | u16(pos + 2, s.big_endian);
    if (!s.explicit_vr || (h.tag >> 16) == 0xFFFE) {  // items and delimiters have no VR
      h.length = u32(pos + 4, s.big_endian);
      h.value = pos + 8;
    } else {
      h.vr[0] = static_cast<char>(d_[pos + 4]);
      h.vr[1] = static_cast<char>(d_[pos + 5]);
      // The value representations of PS3.5 table 6.2-1, all of which GDCM knows; it asserts
      // reading the file meta information when a VR is none of them.
      static const std::string kVrs =
          "AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI "
          "UL UN UR US UT UV";
      const std::size_t at = kVrs.find(std::string(h.vr, 2));  // two bytes, NUL included
      if (at == std::string::npos || at % 3 != 0)
        corrupt(pos, "invalid value representation in element " + tag_text(h.tag));
      static const std::string kLongVrs = "OB OD OF OL OV OW SQ SV UC UN UR UT UV";
      if (kLongVrs.find(h.vr) != std::string::npos) {
        need(pos, 12, "element header");
        h.length = u32(pos + 8, s.big_endian);
        h.value = pos + 12;
      } else {
        h.length = u16(pos + 6, s.big_endian);
        h.value = pos + 8;
      }
    }
    h.undefined = h.length == 0xFFFFFFFF;
    return h;
  }

  // A data set's elements come in increasing tag order, each at most once (PS3.5 7.1). GDCM
  // keeps the first of two equal tags and sorts the rest, while this check reads them in
  // file order: where they differ, GDCM would decode an image this check never saw (a
  // duplicated Bits Allocated of 2049 made its RLE decoder assert).
  // `previous`: the tag before, -1 for none.
  void in_order(std::size_t pos, std::uint32_t tag, std::int64_t& previous) const {
    if (static_cast<std::int64_t>(tag) <= previous) {
      const auto before = static_cast<std::uint32_t>(previous);
      corrupt(pos, "element " + tag_text(tag) +
                       (tag == before ? " appears twice" : " comes after " + tag_text(before)) +
                       " (a data set's elements are in increasing tag order, each once)");
    }
    previous = tag;
  }

  std::size_t skip(std::size_t pos, const Header& h) const {
    if (h.undefined) corrupt(pos, "undefined length for element " + tag_text(h.tag));
    if (h.length > n_ - h.value)
      truncated(pos, "element " + tag_text(h.tag) + " of " + std::to_string(h.length) + " bytes");
    return h.value + h.length;
  }

  // Data elements from `pos` to `end`, or through an item delimiter when end is kToDelimiter.
  std::size_t elements(std::size_t pos, std::size_t end, Syntax s, int depth) {
    std::int64_t previous = -1;
    while (end == kToDelimiter || pos < end) {
      const Header h = header(pos, s);
      if (h.tag == kItemEnd && end == kToDelimiter) return delimiter_end(pos, h);
      if ((h.tag >> 16) == 0xFFFE) corrupt(pos, "item or delimiter outside a sequence");
      in_order(pos, h.tag, previous);
      // GDCM asserts reading Pixel Data of any other VR (a sequence, say).
      if (h.tag == kPixelData && s.explicit_vr && std::string(h.vr) != "OB" &&
          std::string(h.vr) != "OW")
        corrupt(pos, std::string("pixel data (7FE0,0010) with VR ") + h.vr + ", not OB or OW");
      if (depth == 0 && h.tag == kPixelData) has_pixel_data_ = true;
      if (!h.undefined) {
        if (depth == 0 && is_pixel_attribute(h.tag)) {
          if (h.length != 2) corrupt(pos, tag_text(h.tag) + " is not a 2-byte US value");
          need(h.value, 2, "value");
          us_[h.tag] = u16(h.value, s.big_endian);
        }
        pos = skip(pos, h);
        continue;
      }
      // Undefined length: a sequence, an UN element (implicit VR inside, CP-246), or
      // encapsulated pixel data (fragments). Anything else would trip GDCM's assertions.
      const std::string vr = h.vr;
      const bool fragments = h.tag == kPixelData && (vr == "OB" || vr == "OW");
      // Fragments belong to compressed transfer syntaxes only (PS3.5 A.4). In a native one,
      // GDCM read such fragments and allocated 4 GB for a 1 kB file (finding 19).
      if (fragments && depth == 0 && native_)
        corrupt(pos, "pixel data (7FE0,0010) in fragments (undefined length) in the "
                     "uncompressed transfer syntax " + ts_);
      if (s.explicit_vr && vr != "SQ" && vr != "UN" && !fragments)
        corrupt(pos, "undefined length for " + vr + " element " + tag_text(h.tag));
      pos = items(h.value, vr == "UN" ? Syntax{false, false} : s, depth + 1, fragments,
                  fragments && depth == 0 ? &fragments_ : nullptr);
    }
    return pos;
  }

  // A delimitation item's length is 0 (PS3.5 7.5). GDCM reads one with another length as a
  // pixel data fragment of that size: 3.7 GB allocated for a 1 kB file (finding 19).
  std::size_t delimiter_end(std::size_t pos, const Header& h) const {
    if (h.length != 0)
      corrupt(pos, "a delimitation item " + tag_text(h.tag) + " of length " +
                       std::to_string(h.length) + " (must be 0)");
    return h.value;
  }

  // Items of a sequence of undefined length (or, when `fragments`, the fragments of
  // encapsulated pixel data), through the sequence delimiter.
  // `offsets` (top-level pixel data) receives each fragment's value offset and length.
  std::size_t items(std::size_t pos, Syntax s, int depth, bool fragments,
                    std::vector<std::pair<std::size_t, std::size_t>>* offsets) {
    if (depth > 32) corrupt(pos, "sequences nested more than 32 deep");
    for (;;) {
      const Header h = header(pos, s);
      if (h.tag == kSequenceEnd) return delimiter_end(pos, h);
      if (h.tag != kItem) corrupt(pos, "expected an item or a sequence delimiter");
      if (offsets) offsets->emplace_back(h.value, h.length);
      pos = h.undefined ? elements(h.value, kToDelimiter, s, depth + 1) : skip(pos, h);
    }
  }

  // RLE Lossless (PS3.5 G.3): each frame's fragment starts with a 64-byte header, the number
  // of segments (one per byte of each sample) and their offsets. GDCM's RLE decoder trusts
  // that header (a count of 0 divides by zero; offsets or a frame too large for its segments
  // read past the fragment), so it is checked here. A PackBits segment of L bytes decodes to
  // at most 64 * L bytes (a 2-byte run repeats one byte up to 128 times).
  void check_rle(unsigned samples, unsigned allocated) const {
    const std::uint64_t plane = std::uint64_t(us_.at(kRows)) * us_.at(kColumns);
    const unsigned expected = samples * (allocated / 8);
    for (std::size_t f = 1; f < fragments_.size(); ++f) {  // fragment 0: the offset table
      const auto [at, length] = fragments_[f];
      if (length < 64) corrupt(at, "RLE fragment shorter than its 64-byte header");
      const std::uint32_t count = u32(at, false);
      if (count != expected)
        corrupt(at, "RLE header lists " + std::to_string(count) + " segments, " +
                        std::to_string(samples) + " samples of " + std::to_string(allocated) +
                        " bits need " + std::to_string(expected));
      for (std::uint32_t i = 0; i < count; ++i) {
        const std::uint64_t begin = u32(at + 4 + 4 * i, false);
        const std::uint64_t end = i + 1 < count ? u32(at + 8 + 4 * i, false) : length;
        if (begin < 64 || begin >= end || end > length)
          corrupt(at, "RLE segment " + std::to_string(i + 1) + " has offsets " +
                          std::to_string(begin) + ".." + std::to_string(end) +
                          " outside its fragment of " + std::to_string(length) + " bytes");
        if (plane > 64 * (end - begin))
          corrupt(at, "RLE segment " + std::to_string(i + 1) + " of " +
                          std::to_string(end - begin) + " bytes cannot hold " +
                          std::to_string(plane) + " pixels");
      }
    }
  }

  const std::uint8_t* d_;
  std::size_t n_;
  const std::string& name_;
  bool has_pixel_data_ = false;
  std::string ts_;       // the transfer syntax UID
  bool native_ = false;  // an uncompressed transfer syntax
  std::map<std::uint32_t, unsigned> us_;  // top-level Image Pixel attributes
  std::vector<std::pair<std::size_t, std::size_t>> fragments_;  // encapsulated pixel data
};

// A read-only, seekable std::streambuf over bytes in memory (GDCM reads from a std::istream).
class MemoryBuffer : public std::streambuf {
 public:
  MemoryBuffer(const std::uint8_t* data, std::size_t size) {
    char* begin = reinterpret_cast<char*>(const_cast<std::uint8_t*>(data));  // never written
    setg(begin, begin, begin + size);
  }

 protected:
  pos_type seekoff(off_type off, std::ios_base::seekdir dir, std::ios_base::openmode) override {
    const off_type base = dir == std::ios_base::beg   ? 0
                          : dir == std::ios_base::cur ? gptr() - eback()
                                                      : egptr() - eback();
    const off_type pos = base + off;
    if (pos < 0 || pos > egptr() - eback()) return pos_type(off_type(-1));
    setg(eback(), eback() + pos, egptr());
    return pos_type(pos);
  }
  pos_type seekpos(pos_type pos, std::ios_base::openmode which) override {
    return seekoff(off_type(pos), std::ios_base::beg, which);
  }
};

// GDCM prints warnings and errors to std::cerr; our ImageError says what went wrong instead.
void silence_gdcm() {
  static const bool done = [] {
    gdcm::Trace::DebugOff();
    gdcm::Trace::WarningOff();
    gdcm::Trace::ErrorOff();
    return true;
  }();
  (void)done;
}

// A text element's value without its padding; empty when absent.
std::string text_value(const gdcm::DataSet& ds, const gdcm::Tag& tag) {
  if (!ds.FindDataElement(tag)) return "";
  const gdcm::ByteValue* bv = ds.GetDataElement(tag).GetByteValue();
  std::string text = bv ? std::string(bv->GetPointer(), bv->GetLength()) : "";
  while (!text.empty() && (text.back() == ' ' || text.back() == '\0')) text.pop_back();
  return text;
}

std::uint16_t round_u8(double v) {
  return static_cast<std::uint16_t>(v <= 0 ? 0 : v >= 255 ? 255 : v + 0.5);
}

}  // namespace

bool is_dicom(const std::uint8_t* data, std::size_t size) {
  return size >= 132 && std::memcmp(data + 128, "DICM", 4) == 0;
}

Image decode_dicom_memory(const std::uint8_t* data, std::size_t size, const std::string& name) {
  if (!is_dicom(data, size))
    fail(name, "not a DICOM file (no \"DICM\" marker at byte 128; only DICOM Part 10 files "
               "are read)");
  Precheck(data, size, name).run();
  silence_gdcm();
  MemoryBuffer buffer(data, size);
  std::istream in(&buffer);
  gdcm::ImageReader reader;
  reader.SetStream(in);
  bool read_ok = false;
  try {
    read_ok = reader.Read();
  } catch (const std::exception& e) {
    fail(name, std::string("corrupt DICOM file (") + e.what() + ")");
  }
  if (!read_ok)
    fail(name, "corrupt DICOM file (GDCM cannot read its data set or image attributes)");
  const gdcm::DataSet& ds = reader.GetFile().GetDataSet();
  const gdcm::Image& im = reader.GetImage();

  const unsigned* dims = im.GetDimensions();
  const unsigned frames = im.GetNumberOfDimensions() > 2 ? dims[2] : 1;
  if (frames != 1)
    fail(name, "multi-frame DICOM (" + std::to_string(frames) + " frames, e.g. tomosynthesis) "
               "is not supported: export one 2D image per file");
  using PI = gdcm::PhotometricInterpretation;
  const PI::PIType pi = im.GetPhotometricInterpretation().GetType();
  const bool mono = pi == PI::MONOCHROME1 || pi == PI::MONOCHROME2;
  const bool ybr = pi == PI::YBR_FULL || pi == PI::YBR_FULL_422;
  const bool rgb = pi == PI::RGB || pi == PI::YBR_RCT || pi == PI::YBR_ICT;
  const std::string pi_name = text_value(ds, gdcm::Tag(0x0028, 0x0004));
  if (!mono && !ybr && !rgb)
    fail(name, "unsupported photometric interpretation \"" + pi_name +
                   "\" (expected MONOCHROME1, MONOCHROME2, RGB, YBR_FULL, YBR_FULL_422, "
                   "YBR_RCT or YBR_ICT)");
  const gdcm::PixelFormat& pf = im.GetPixelFormat();
  const int allocated = pf.GetBitsAllocated(), stored = pf.GetBitsStored();
  const int samples = pf.GetSamplesPerPixel();
  const bool is_signed = pf.GetPixelRepresentation() == 1;
  if (samples != (mono ? 1 : 3))
    fail(name, "photometric interpretation \"" + pi_name + "\" with " +
                   std::to_string(samples) + " samples per pixel");
  if (!mono && (is_signed || (ybr && allocated != 8)))
    fail(name, std::string("unsupported ") + (is_signed ? "signed " : "") +
                   std::to_string(allocated) + "-bit \"" + pi_name +
                   "\" pixels (colour must be unsigned, and YBR 8-bit)");

  const std::size_t width = dims[0], height = dims[1];
  if (std::uint64_t(width) * height > kMaxImagePixels)
    fail(name, "DICOM image size " + std::to_string(width) + "x" + std::to_string(height) +
                   " exceeds the limit of " + std::to_string(kMaxImagePixels) + " pixels");
  const std::size_t pixels = width * height, n = pixels * samples;
  const std::size_t bytes = n * (allocated / 8);
  if (im.GetBufferLength() != bytes)
    fail(name, "DICOM pixel buffer of " + std::to_string(im.GetBufferLength()) +
                   " bytes does not match " + std::to_string(width) + "x" +
                   std::to_string(height) + "x" + std::to_string(samples) + " samples of " +
                   std::to_string(allocated) + " bits");
  if (!im.GetTransferSyntax().IsEncapsulated()) {  // GDCM would zero-fill missing bytes
    const gdcm::ByteValue* bv = ds.GetDataElement(gdcm::Tag(0x7fe0, 0x0010)).GetByteValue();
    const std::size_t have = bv ? std::size_t(bv->GetLength()) : 0;
    const std::size_t want = pi == PI::YBR_FULL_422 ? bytes / 3 * 2 : bytes;  // 2 Y, 1 Cb, 1 Cr
    if (have < want)
      fail(name, "DICOM pixel data holds " + std::to_string(have) + " bytes, " +
                     std::to_string(width) + "x" + std::to_string(height) + " " + pi_name +
                     " pixels of " + std::to_string(allocated) + " bits need " +
                     std::to_string(want));
  }
  std::vector<char> raw(bytes);
  bool decoded = false;
  try {
    decoded = im.GetBuffer(raw.data());
  } catch (const std::exception& e) {
    fail(name, std::string("cannot decode DICOM pixel data (") + e.what() + ")");
  }
  if (!decoded)
    fail(name, std::string("cannot decode DICOM pixel data (transfer syntax ") +
                   im.GetTransferSyntax().GetString() +
                   "): corrupt, truncated or an unsupported compression");

  // Stored value -> unsigned value in 0..max (GetBuffer gives native byte order).
  const std::uint32_t max = (1u << stored) - 1, sign_bit = 1u << (stored - 1);
  const std::string slope_text = text_value(ds, gdcm::Tag(0x0028, 0x1053));
  const bool negative_slope = std::strtod(slope_text.c_str(), nullptr) < 0;
  const bool invert = (pi == PI::MONOCHROME1) != negative_slope;
  const bool planar = samples == 3 && im.GetPlanarConfiguration() == 1;
  Image img;
  img.width = static_cast<int>(width);
  img.height = static_cast<int>(height);
  img.channels = samples;
  img.bit_depth = stored > 8 ? 16 : 8;
  img.pixels.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    std::uint32_t v;
    if (allocated == 8) {
      v = static_cast<unsigned char>(raw[i]);
    } else {
      std::uint16_t s;
      std::memcpy(&s, raw.data() + 2 * i, 2);
      v = s;
    }
    v &= max;
    if (is_signed) v ^= sign_bit;  // two's complement + 2^(stored-1), within stored bits
    if (invert) v = max - v;
    if (stored < 8) v = (v * 255 + max / 2) / max;
    // Planar input holds all R, then all G, then all B; the output is interleaved.
    const std::size_t out = planar ? (i % pixels) * 3 + i / pixels : i;
    img.pixels[out] = static_cast<std::uint16_t>(v);
  }
  if (ybr) {
    for (std::size_t i = 0; i < pixels; ++i) {
      std::uint16_t* p = &img.pixels[3 * i];
      const double y = p[0], cb = p[1] - 128.0, cr = p[2] - 128.0;
      p[0] = round_u8(y + 1.402 * cr);
      p[1] = round_u8(y - 0.344136 * cb - 0.714136 * cr);
      p[2] = round_u8(y + 1.772 * cb);
    }
  }
  return img;
}

}  // namespace mammosweep::worker
