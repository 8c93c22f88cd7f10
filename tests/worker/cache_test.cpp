#include "worker/cache.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/temp_dir.h"

namespace mammosweep::worker {
namespace {

// POSIX only: libtorch.so exports broken copies of the std::filesystem free functions.
std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> names;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (const dirent* e = ::readdir(d)) {
      const std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(n);
    }
    ::closedir(d);
  }
  return names;
}

std::uintmax_t file_size(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw std::runtime_error("stat failed: " + path);
  return static_cast<std::uintmax_t>(st.st_size);
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

constexpr int kSize = 8;
constexpr int kChannels = 3;
constexpr std::size_t kBytes = kSize * kSize * kChannels;

/// Expected pixel of record `r` at byte `b`: a function of the record index parsed from the
/// file name, so the test can check stored bytes without trusting the cache.
std::uint8_t expected_byte(int record, std::size_t b) {
  return static_cast<std::uint8_t>((record * 31 + static_cast<int>(b) * 7) % 251);
}

int record_number(const ImageRecord& r) {
  const std::string name = r.path.substr(r.path.rfind('/') + 1);  // "img12.png"
  return std::stoi(name.substr(3));
}

std::vector<std::uint8_t> synth_image(const ImageRecord& r) {
  std::vector<std::uint8_t> v(kBytes);
  const int n = record_number(r);
  for (std::size_t b = 0; b < kBytes; ++b) v[b] = expected_byte(n, b);
  return v;
}

class CacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::mkdir(root_.file("img").c_str(), 0755), 0);
    for (int i = 0; i < 20; ++i) {
      const std::string p = root_.file("img/img" + std::to_string(i) + ".png");
      std::ofstream(p) << "placeholder " << i;
      records_.push_back({p, i % 3 == 0 ? 1 : 0, i < 14 ? "train" : "val",
                          "patient" + std::to_string(i / 2)});
    }
    options_.cache_dir = root_.file("cache");
    options_.name = "test";
    options_.image_size = kSize;
    options_.channels = kChannels;
    options_.preprocess_signature = "size=8;clahe=0";
    options_.threads = 3;
  }

  /// Checks every stored byte and label against the independent generator.
  void expect_content(const ImageCache& c, const std::set<int>& missing = {}) {
    ASSERT_EQ(c.size(), records_.size() - missing.size());
    std::size_t k = 0;
    for (std::size_t i = 0; i < records_.size(); ++i) {
      if (missing.count(static_cast<int>(i))) continue;
      ASSERT_EQ(c.source_index(k), static_cast<std::int64_t>(i));
      EXPECT_EQ(c.label(k), records_[i].label);
      const std::uint8_t* px = c.pixels(k);
      for (std::size_t b = 0; b < kBytes; ++b)
        ASSERT_EQ(px[b], expected_byte(static_cast<int>(i), b)) << "record " << i << " byte " << b;
      ++k;
    }
  }

  test::TempDir root_{"mswcache"};
  std::vector<ImageRecord> records_;
  CacheOptions options_;
};

TEST_F(CacheTest, SecondOpenIsAHitAndDecodesNothing) {
  std::atomic<int> calls{0};
  DecodeFn counting = [&](const ImageRecord& r) {
    ++calls;
    return synth_image(r);
  };
  {
    ImageCache c = ImageCache::open_or_build(records_, options_, counting);
    EXPECT_FALSE(c.stats().hit);
    EXPECT_EQ(calls.load(), 20);
    EXPECT_EQ(c.stats().decoded, 20u);
    expect_content(c);
  }
  calls = 0;
  ImageCache c2 = ImageCache::open_or_build(records_, options_, counting);
  EXPECT_TRUE(c2.stats().hit);
  EXPECT_EQ(calls.load(), 0);
  EXPECT_EQ(c2.stats().decoded, 0u);
  EXPECT_EQ(c2.stats().build_seconds, 0.0);
  expect_content(c2);
  EXPECT_EQ(c2.image_bytes(), kBytes);
}

TEST_F(CacheTest, KeyChangesWithMtimePreprocessingAndLabels) {
  const std::uint64_t k0 = cache_key(records_, options_);
  EXPECT_EQ(cache_key(records_, options_), k0);

  CacheOptions other = options_;
  other.preprocess_signature = "size=8;clahe=1";
  EXPECT_NE(cache_key(records_, other), k0);
  other = options_;
  other.image_size = 16;
  EXPECT_NE(cache_key(records_, other), k0);

  auto relabeled = records_;
  relabeled[5].label = 1 - relabeled[5].label;
  EXPECT_NE(cache_key(relabeled, options_), k0);

  // Split / patient are not part of the key.
  auto resplit = records_;
  resplit[0].split = "test";
  EXPECT_EQ(cache_key(resplit, options_), k0);

  struct timespec times[2];
  times[0].tv_sec = 1000000000;
  times[0].tv_nsec = 0;
  times[1] = times[0];
  ASSERT_EQ(::utimensat(AT_FDCWD, records_[3].path.c_str(), times, 0), 0);
  const std::uint64_t k1 = cache_key(records_, options_);
  EXPECT_NE(k1, k0);
  times[1].tv_nsec = 5;  // nanosecond change only
  ASSERT_EQ(::utimensat(AT_FDCWD, records_[3].path.c_str(), times, 0), 0);
  EXPECT_NE(cache_key(records_, options_), k1);

  // A new key means a new file: opening rebuilds.
  int calls = 0;
  ImageCache c = ImageCache::open_or_build(records_, options_, [&](const ImageRecord& r) {
    ++calls;
    return synth_image(r);
  });
  EXPECT_FALSE(c.stats().hit);
  EXPECT_EQ(calls, 20);
}

TEST_F(CacheTest, TruncatedCacheIsDetectedAndRebuilt) {
  std::string path;
  {
    ImageCache c = ImageCache::open_or_build(records_, options_, synth_image);
    path = c.stats().path;
  }
  const auto full = file_size(path);
  for (std::uintmax_t cut : {full - 1, full - 16, full / 2, std::uintmax_t{10}}) {
    ASSERT_EQ(::truncate(path.c_str(), static_cast<off_t>(cut)), 0);
    std::atomic<int> calls{0};
    ImageCache c = ImageCache::open_or_build(records_, options_, [&](const ImageRecord& r) {
      ++calls;
      return synth_image(r);
    });
    EXPECT_FALSE(c.stats().hit) << "cut at " << cut;
    EXPECT_EQ(calls.load(), 20);
    EXPECT_EQ(file_size(path), full);
    expect_content(c);
  }
}

TEST_F(CacheTest, CorruptedMetadataIsRebuilt) {
  std::string path;
  {
    ImageCache c = ImageCache::open_or_build(records_, options_, synth_image);
    path = c.stats().path;
  }
  // Flip one label byte (the labels follow the pixels): the trailer checksum must catch it.
  const std::size_t labels_at = (64 + 20 * kBytes + 7) / 8 * 8;
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(labels_at));
    f.put(static_cast<char>(7));
  }
  ImageCache c = ImageCache::open_or_build(records_, options_, synth_image);
  EXPECT_FALSE(c.stats().hit);
  expect_content(c);
}

TEST_F(CacheTest, BadImageErrorNamesTheFileAndLeavesNoCache) {
  DecodeFn bad = [&](const ImageRecord& r) -> std::vector<std::uint8_t> {
    if (record_number(r) == 7) throw std::runtime_error("corrupt JPEG marker");
    return synth_image(r);
  };
  try {
    ImageCache::open_or_build(records_, options_, bad);
    FAIL() << "expected CacheError";
  } catch (const CacheError& e) {
    EXPECT_NE(std::string(e.what()).find("img7.png"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("corrupt JPEG marker"), std::string::npos) << e.what();
  }
  // Neither the final file nor a temp file remains.
  for (const auto& name : list_dir(options_.cache_dir))
    EXPECT_EQ(name.substr(name.size() - 5), ".lock") << name;
}

TEST_F(CacheTest, BadImageSkipIsCountedAndReportedOnBuildAndHit) {
  options_.on_bad_image = OnBadImage::skip;
  DecodeFn bad = [&](const ImageRecord& r) -> std::vector<std::uint8_t> {
    const int n = record_number(r);
    if (n == 4) throw std::runtime_error("truncated file");
    if (n == 11) return std::vector<std::uint8_t>(5);  // wrong size
    return synth_image(r);
  };
  {
    ImageCache c = ImageCache::open_or_build(records_, options_, bad);
    ASSERT_EQ(c.stats().skipped.size(), 2u);
    EXPECT_EQ(c.stats().skipped[0].path, records_[4].path);
    EXPECT_EQ(c.stats().skipped[0].reason, "truncated file");
    EXPECT_EQ(c.stats().skipped[1].path, records_[11].path);
    EXPECT_NE(c.stats().skipped[1].reason.find("expected 192 bytes"), std::string::npos)
        << c.stats().skipped[1].reason;
    expect_content(c, {4, 11});
  }
  ImageCache c = ImageCache::open_or_build(records_, options_, bad);
  EXPECT_TRUE(c.stats().hit);
  ASSERT_EQ(c.stats().skipped.size(), 2u);
  EXPECT_EQ(c.stats().skipped[1].path, records_[11].path);
  expect_content(c, {4, 11});

  // split_indices maps through source_index: train is records 0..13 minus 4 and 11.
  const auto train = split_indices(c, records_, "train");
  ASSERT_EQ(train.size(), 12u);
  for (auto k : train) EXPECT_LT(c.source_index(static_cast<std::size_t>(k)), 14);
  EXPECT_EQ(split_indices(c, records_, "val").size(), 6u);
}

TEST_F(CacheTest, ConcurrentProcessesBuildOneValidCache) {
  // Two forked processes race to build the same cache with a slow decoder. Exit code
  // 10 = built, 11 = hit (after waiting for the lock or not), other = failure.
  pid_t pids[2];
  for (pid_t& pid : pids) {
    pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int code = 3;
      try {
        ImageCache c = ImageCache::open_or_build(records_, options_, [](const ImageRecord& r) {
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
          return synth_image(r);
        });
        bool ok = c.size() == 20;
        for (std::size_t i = 0; ok && i < c.size(); ++i)
          for (std::size_t b = 0; b < kBytes; ++b)
            ok = ok && c.pixels(i)[b] == expected_byte(static_cast<int>(i), b);
        code = ok ? (c.stats().hit ? 11 : 10) : 4;
      } catch (...) {
        code = 5;
      }
      ::_exit(code);
    }
  }
  std::multiset<int> codes;
  for (pid_t pid : pids) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    codes.insert(WEXITSTATUS(status));
  }
  EXPECT_EQ(codes, (std::multiset<int>{10, 11})) << "exactly one process must build";
  ImageCache c = ImageCache::open_or_build(records_, options_, [](const ImageRecord&) {
    ADD_FAILURE() << "the cache should already be built";
    return std::vector<std::uint8_t>(kBytes);
  });
  EXPECT_TRUE(c.stats().hit);
  expect_content(c);
  EXPECT_EQ(list_dir(options_.cache_dir).size(), 2u)
      << "one cache file and its lock file, no temp files";
}

TEST_F(CacheTest, StaleTempFileFromACrashIsIgnoredAndRemoved) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx",
                static_cast<unsigned long long>(cache_key(records_, options_)));
  const std::string final_path = options_.cache_dir + "/test-" + hex + ".mswc";
  ASSERT_EQ(::mkdir(options_.cache_dir.c_str(), 0755), 0);
  std::ofstream(final_path + ".tmp.99999") << "half written";
  ImageCache c = ImageCache::open_or_build(records_, options_, synth_image);
  EXPECT_EQ(c.stats().path, final_path);
  EXPECT_FALSE(exists(final_path + ".tmp.99999"));
  expect_content(c);
}

TEST_F(CacheTest, MissingFileInKeyIsAnErrorNamingIt) {
  records_.push_back({root_.file("img/nope.png"), 0, "train", ""});
  try {
    cache_key(records_, options_);
    FAIL();
  } catch (const CacheError& e) {
    EXPECT_NE(std::string(e.what()).find("nope.png"), std::string::npos);
  }
}

TEST_F(CacheTest, DefaultDecodeUsesImagePreprocessing) {
  // Real PNGs: a 10x6 horizontal gradient per record, cached at 8x8 through preprocess().
  PreprocessOptions pre;
  pre.image_size = kSize;
  for (std::size_t i = 0; i < 3; ++i) {
    std::vector<std::uint8_t> px(10 * 6 * 3);
    for (std::size_t b = 0; b < px.size(); ++b)
      px[b] = static_cast<std::uint8_t>((b / 3 % 10) * 20 + i * 5);
    write_png(records_[i].path, 10, 6, 3, 8, px.data());
  }
  records_.resize(3);
  CacheOptions o = cache_options_for(pre, options_.cache_dir, "png");
  EXPECT_EQ(o.image_size, kSize);
  EXPECT_EQ(o.preprocess_signature, preprocess_signature(pre));
  ImageCache c = ImageCache::open_or_build(records_, o, make_decode_fn(pre));
  ASSERT_EQ(c.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    const auto want = preprocess(decode_image(records_[i].path), pre);
    ASSERT_EQ(want.size(), kBytes);
    EXPECT_TRUE(std::equal(want.begin(), want.end(), c.pixels(i))) << i;
  }
  PreprocessOptions clahe = pre;
  clahe.clahe = true;
  EXPECT_NE(preprocess_signature(clahe), preprocess_signature(pre));
  EXPECT_NE(cache_key(records_, cache_options_for(clahe, options_.cache_dir)),
            cache_key(records_, cache_options_for(pre, options_.cache_dir)));
  PreprocessOptions pct = pre;
  pct.window = PreprocessOptions::Window::percentile;
  EXPECT_NE(preprocess_signature(pct), preprocess_signature(pre));
  pct.window_high_pct = 99.0;
  EXPECT_NE(preprocess_signature(pct), preprocess_signature(pre));
}

TEST(Fnv1a, MatchesPublishedVectors) {
  // Reference values of 64-bit FNV-1a (Fowler/Noll/Vo test suite).
  EXPECT_EQ(fnv1a64("", 0), 0xcbf29ce484222325ULL);
  EXPECT_EQ(fnv1a64("a", 1), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(fnv1a64("foobar", 6), 0x85944171f73967e8ULL);
}

}  // namespace
}  // namespace mammosweep::worker
