// Tests for worker/safetensors: round trips, byte-level layout against hand-built files,
// a cross-check with an independent Python reader, and one test per corrupt-file case.
#include "worker/safetensors.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <dirent.h>
#include <ftw.h>
#include <unistd.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "tests/temp_dir.h"

namespace mw = mammosweep::worker;
using ::testing::HasSubstr;

namespace {

using mammosweep::test::TempDir;

class SafetensorsTest : public ::testing::Test {
 protected:
  void SetUp() override { torch::set_num_threads(2); }

  std::string path(const std::string& name) const { return dir_.path() + "/" + name; }

  // Writes 8-byte little-endian `length`, then `header`, then `data`.
  std::string write_raw(const std::string& name, const std::string& header,
                        const std::string& data, std::uint64_t length) const {
    std::string bytes;
    for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<char>((length >> (8 * i)) & 0xff));
    bytes += header;
    bytes += data;
    const auto p = path(name);
    std::ofstream(p, std::ios::binary) << bytes;
    return p;
  }
  std::string write_raw(const std::string& name, const std::string& header,
                        const std::string& data) const {
    return write_raw(name, header, data, header.size());
  }

  static std::string read_bytes(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  // The error message of read_safetensors(p), or "" if it did not throw.
  static std::string read_error(const std::string& p) {
    try {
      mw::read_safetensors(p);
    } catch (const mw::WeightsError& e) {
      return e.what();
    }
    return "";
  }

  TempDir dir_{"safetensors_test"};
};

const at::Tensor& find(const mw::NamedTensors& tensors, const std::string& name) {
  for (const auto& [n, t] : tensors) {
    if (n == name) return t;
  }
  throw std::runtime_error("no tensor " + name);
}

TEST_F(SafetensorsTest, RoundTripKeepsDtypesShapesValuesAndMetadata) {
  mw::NamedTensors in = {
      {"f32", torch::arange(6, torch::kFloat).reshape({2, 3}) * 0.25 - 1},
      {"f16", torch::tensor({1.5, -2.0, 65504.0, 0.0}).to(torch::kHalf)},
      {"bf16", torch::tensor({{3.0, -0.5}, {1e30, 7.0}}).to(torch::kBFloat16)},
      {"i64", torch::tensor({-(std::int64_t{1} << 40), std::int64_t{0}, std::int64_t{42}},
                            torch::kLong)},
      {"scalar", torch::tensor(3.5)},                // 0-dim
      {"empty", torch::zeros({0, 5}, torch::kFloat)},  // no bytes
      {"f64", torch::tensor({0.1, 0.2}, torch::kDouble)},
      {"i32", torch::tensor({-7, 7}, torch::kInt)},
      {"u8", torch::tensor({0, 255}, torch::kByte)},
      {"i8", torch::tensor({-128, 127}, torch::kChar)},
      {"flag", torch::tensor({true, false, true})},
      {"transposed", torch::arange(6, torch::kFloat).reshape({2, 3}).t()},  // non-contiguous
  };
  const mw::SafetensorsMetadata meta = {{"format", "pt"}, {"note", "héllo"}};
  const auto p = path("round.safetensors");
  mw::write_safetensors(p, in, meta);

  mw::SafetensorsMetadata meta_out;
  const auto out = mw::read_safetensors(p, &meta_out);
  EXPECT_EQ(meta_out, meta);
  ASSERT_EQ(out.size(), in.size());
  for (const auto& [name, t] : in) {
    const auto& r = find(out, name);
    EXPECT_EQ(r.scalar_type(), t.scalar_type()) << name;
    EXPECT_EQ(r.sizes(), t.sizes()) << name;
    EXPECT_TRUE(torch::equal(r, t)) << name;
    EXPECT_EQ(r.device(), torch::kCPU);
  }
  EXPECT_EQ(find(out, "scalar").dim(), 0);
  EXPECT_EQ(find(out, "empty").numel(), 0);
  // Written in the given order, so read back (sorted by offset) in the same order.
  for (std::size_t i = 0; i < in.size(); ++i) EXPECT_EQ(out[i].first, in[i].first);
}

TEST_F(SafetensorsTest, WriterProducesTheExactSpecifiedBytes) {
  const auto p = path("exact.safetensors");
  mw::write_safetensors(p, {{"x", torch::tensor({1.0f, 2.0f})}});
  std::string header = R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  while (header.size() % 8 != 0) header += ' ';
  std::string expected;
  for (int i = 0; i < 8; ++i) {
    expected.push_back(static_cast<char>((header.size() >> (8 * i)) & 0xff));
  }
  expected += header;
  // 1.0f = 0x3f800000, 2.0f = 0x40000000, little-endian.
  expected += std::string("\x00\x00\x80\x3f\x00\x00\x00\x40", 8);
  EXPECT_EQ(read_bytes(p), expected);
}

TEST_F(SafetensorsTest, ReadsAHandBuiltFile) {
  // Header padded with spaces, metadata last, entries out of offset order.
  const std::string header =
      R"({"b":{"dtype":"I64","shape":[],"data_offsets":[8,16]},)"
      R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
      R"("h":{"dtype":"BF16","shape":[1,1],"data_offsets":[16,18]},)"
      R"("e":{"dtype":"F16","shape":[0],"data_offsets":[18,18]},)"
      R"("__metadata__":{"k":"v"}}   )";
  const std::string data =
      std::string("\x00\x00\xc0\x3f", 4) +                  // 1.5f
      std::string("\x00\x00\x00\xc0", 4) +                  // -2.0f
      std::string("\xfd\xff\xff\xff\xff\xff\xff\xff", 8) +  // int64 -3
      std::string("\x40\xc0", 2);                           // bf16 0xc040 = -3.0
  const auto p = write_raw("hand.safetensors", header, data);
  mw::SafetensorsMetadata meta;
  const auto t = mw::read_safetensors(p, &meta);
  ASSERT_EQ(t.size(), 4u);
  EXPECT_EQ(t[0].first, "a");
  EXPECT_EQ(t[1].first, "b");
  EXPECT_EQ(t[2].first, "h");
  EXPECT_EQ(t[3].first, "e");
  EXPECT_FLOAT_EQ(find(t, "a")[0].item<float>(), 1.5f);
  EXPECT_FLOAT_EQ(find(t, "a")[1].item<float>(), -2.0f);
  EXPECT_EQ(find(t, "b").dim(), 0);
  EXPECT_EQ(find(t, "b").item<std::int64_t>(), -3);
  EXPECT_EQ(find(t, "h").scalar_type(), torch::kBFloat16);
  EXPECT_FLOAT_EQ(find(t, "h").to(torch::kFloat).item<float>(), -3.0f);
  EXPECT_EQ(find(t, "e").scalar_type(), torch::kHalf);
  EXPECT_EQ(find(t, "e").numel(), 0);
  EXPECT_EQ(meta.at("k"), "v");
}

TEST_F(SafetensorsTest, IndependentPythonReaderAgrees) {
  // A plain-Python (json + struct) reader parses what our writer wrote.
  if (std::system("python3 -c 'import json, struct' > /dev/null 2>&1") != 0) {
    GTEST_SKIP() << "python3 not available";
  }
  const auto p = path("py.safetensors");
  mw::write_safetensors(p,
                        {{"w", torch::tensor({{1.25f, -3.0f}, {0.5f, 8.0f}})},
                         {"n", torch::tensor(std::int64_t{123456789012})},
                         {"h", torch::tensor({0.5, -1.0}).to(torch::kHalf)}},
                        {{"who", "test"}});
  const auto script = path("check.py");
  std::ofstream(script) << R"(import json, struct, sys
b = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', b[:8])[0]
h = json.loads(b[8:8 + n])
d = b[8 + n:]
def get(name, fmt):
    e = h[name]; s, t = e['data_offsets']
    return e['shape'], list(struct.unpack('<' + fmt * ((t - s) // struct.calcsize(fmt)), d[s:t]))
assert h['__metadata__'] == {'who': 'test'}, h
assert h['w']['dtype'] == 'F32' and get('w', 'f') == ([2, 2], [1.25, -3.0, 0.5, 8.0])
assert h['n']['dtype'] == 'I64' and get('n', 'q') == ([], [123456789012])
assert h['h']['dtype'] == 'F16' and get('h', 'e') == ([2], [0.5, -1.0])
assert n % 8 == 0 and len(d) == 16 + 8 + 4
print('ok')
)";
  EXPECT_EQ(std::system(("python3 " + script + " " + p).c_str()), 0);
}

TEST_F(SafetensorsTest, AtomicWriteOverwritesAndLeavesNoTemporaryFiles) {
  const auto p = path("w.safetensors");
  mw::write_safetensors(p, {{"a", torch::ones({3})}});
  mw::write_safetensors(p, {{"b", torch::zeros({2})}});
  const auto t = mw::read_safetensors(p);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].first, "b");
  EXPECT_EQ(dir_.list(), std::vector<std::string>{"w.safetensors"});
}

TEST_F(SafetensorsTest, WriterRejectsBadInput) {
  const auto p = path("bad.safetensors");
  auto error = [&](const mw::NamedTensors& t) {
    try {
      mw::write_safetensors(p, t);
    } catch (const mw::WeightsError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_THAT(error({{"a", torch::ones(1)}, {"a", torch::ones(1)}}),
              HasSubstr("tensor 'a': name given more than once"));
  EXPECT_THAT(error({{"__metadata__", torch::ones(1)}}), HasSubstr("reserved"));
  EXPECT_THAT(error({{"", torch::ones(1)}}), HasSubstr("empty name"));
  EXPECT_THAT(error({{"u", at::Tensor()}}), HasSubstr("tensor 'u': tensor is undefined"));
  EXPECT_THAT(error({{"c", torch::ones(2, torch::kComplexFloat)}}),
              HasSubstr("tensor 'c': torch dtype"));
  EXPECT_TRUE(dir_.list().empty());
  EXPECT_THROW(mw::write_safetensors(path("no/such/dir/x.safetensors"), {{"a", torch::ones(1)}}),
               mw::WeightsError);
}

// ---- corrupt files: each case gives its own error naming the file (and the tensor) ----

TEST_F(SafetensorsTest, MissingFile) {
  const auto p = path("absent.safetensors");
  EXPECT_THAT(read_error(p), HasSubstr(p + ": cannot open"));
}

TEST_F(SafetensorsTest, FileShorterThanLengthField) {
  const auto p = path("short.safetensors");
  std::ofstream(p, std::ios::binary) << "abc";
  EXPECT_THAT(read_error(p), HasSubstr(p + ": file has 3 bytes, too short"));
}

TEST_F(SafetensorsTest, TruncatedHeader) {
  const auto p = write_raw("trunc.safetensors", "{\"a\":", "", 1000);
  EXPECT_THAT(read_error(p), HasSubstr(p + ": header length 1000 is larger than the 5 bytes"));
}

TEST_F(SafetensorsTest, HeaderTooLarge) {
  const auto p = write_raw("big.safetensors", "{}", "", 200'000'000);
  EXPECT_THAT(read_error(p), HasSubstr("header length 200000000 exceeds the limit of 100000000"));
}

TEST_F(SafetensorsTest, HeaderTooSmall) {
  const auto p = write_raw("tiny.safetensors", "{", "", 1);
  EXPECT_THAT(read_error(p), HasSubstr("header length 1 is below the minimum of 2"));
}

TEST_F(SafetensorsTest, BadJson) {
  const auto p = write_raw("json.safetensors", R"({"a": {"dtype": "F32",})", "");
  EXPECT_THAT(read_error(p), HasSubstr(p + ": header is not valid JSON"));
}

TEST_F(SafetensorsTest, HeaderNotAnObject) {
  const auto p = write_raw("arr.safetensors", "[1, 2]", "");
  EXPECT_THAT(read_error(p), HasSubstr("does not start with '{'"));
}

TEST_F(SafetensorsTest, UnknownDtype) {
  const auto p =
      write_raw("dtype.safetensors", R"({"w":{"dtype":"F7","shape":[1],"data_offsets":[0,1]}})",
                "x");
  EXPECT_THAT(read_error(p), HasSubstr(p + ": tensor 'w': unknown or unsupported dtype 'F7'"));
}

TEST_F(SafetensorsTest, NegativeShape) {
  const auto p =
      write_raw("neg.safetensors", R"({"w":{"dtype":"F32","shape":[2,-1],"data_offsets":[0,0]}})",
                "");
  EXPECT_THAT(read_error(p), HasSubstr(p + ": tensor 'w': shape [2,-1] is invalid: dimension 1 "
                                           "is -1 is negative"));
}

TEST_F(SafetensorsTest, NonIntegerShape) {
  const auto p = write_raw("flt.safetensors",
                           R"({"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", "abcd");
  EXPECT_THAT(read_error(p), HasSubstr("tensor 'w': shape [1.5] is invalid: dimension 0 is 1.5 "
                                       "is not an integer"));
}

TEST_F(SafetensorsTest, OversizedShape) {
  const auto p = write_raw(
      "huge.safetensors",
      R"({"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,0]}})", "");
  EXPECT_THAT(read_error(p), HasSubstr("tensor 'w': shape [4611686018427387904, 4] of F32 is too "
                                       "large"));
}

TEST_F(SafetensorsTest, OffsetsOutsideBuffer) {
  const auto p = write_raw("out.safetensors",
                           R"({"w":{"dtype":"U8","shape":[10],"data_offsets":[0,10]}})", "abcd");
  EXPECT_THAT(read_error(p), HasSubstr(p + ": tensor 'w': data_offsets [0, 10] lie outside the "
                                           "data buffer of 4 bytes"));
}

TEST_F(SafetensorsTest, OffsetsReversed) {
  const auto p = write_raw("rev.safetensors",
                           R"({"w":{"dtype":"U8","shape":[0],"data_offsets":[4,2]}})", "abcd");
  EXPECT_THAT(read_error(p), HasSubstr("tensor 'w': data_offsets [4, 2] end before they begin"));
}

TEST_F(SafetensorsTest, OverlappingOffsets) {
  const auto p = write_raw("overlap.safetensors",
                           R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                           R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                           std::string(12, 'x'));
  EXPECT_THAT(read_error(p), HasSubstr(p + ": tensor 'b': data_offsets [4, 12] overlap tensor "
                                           "'a' at [0, 8]"));
}

TEST_F(SafetensorsTest, GapBetweenTensors) {
  const auto p = write_raw("gap.safetensors",
                           R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                           R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                           std::string(12, 'x'));
  EXPECT_THAT(read_error(p), HasSubstr("tensor 'b': data_offsets [8, 12] leave a gap"));
}

TEST_F(SafetensorsTest, TrailingBytesNotCovered) {
  const auto p = write_raw("trail.safetensors",
                           R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                           std::string(6, 'x'));
  EXPECT_THAT(read_error(p), HasSubstr(p + ": data buffer has 6 bytes but the tensors cover only 4"));
}

TEST_F(SafetensorsTest, ByteCountMismatch) {
  const auto p = write_raw(
      "count.safetensors",
      R"({"conv1.weight":{"dtype":"F32","shape":[64,3,7,7],"data_offsets":[0,100]}})",
      std::string(100, 'x'));
  EXPECT_THAT(read_error(p),
              HasSubstr(p + ": tensor 'conv1.weight': data_offsets [0, 100] hold 100 bytes but "
                            "F32 [64, 3, 7, 7] needs 37632"));
}

TEST_F(SafetensorsTest, DuplicateNames) {
  const auto p = write_raw("dup.safetensors",
                           R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                           R"("a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})",
                           "xy");
  EXPECT_THAT(read_error(p), HasSubstr(p + ": tensor 'a': name appears more than once"));
}

TEST_F(SafetensorsTest, MissingAndUnknownFields) {
  const auto p1 = write_raw("nofield.safetensors", R"({"a":{"dtype":"U8","shape":[0]}})", "");
  EXPECT_THAT(read_error(p1), HasSubstr("tensor 'a': missing field 'data_offsets'"));
  const auto p2 = write_raw(
      "extra.safetensors",
      R"({"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0],"strides":[1]}})", "");
  EXPECT_THAT(read_error(p2), HasSubstr("tensor 'a': unknown field 'strides'"));
}

TEST_F(SafetensorsTest, MetadataMustBeStrings) {
  const auto p = write_raw("meta.safetensors", R"({"__metadata__":{"epochs":3}})", "");
  EXPECT_THAT(read_error(p), HasSubstr(p + ": __metadata__ entry 'epochs' must be a string"));
}

TEST_F(SafetensorsTest, EmptyFileWithOnlyBracesIsValid) {
  const auto p = write_raw("empty.safetensors", "{}", "");
  mw::SafetensorsMetadata meta = {{"stale", "x"}};
  EXPECT_TRUE(mw::read_safetensors(p, &meta).empty());
  EXPECT_TRUE(meta.empty());
}

}  // namespace
