// DICOM decoding in helper processes (worker/dicom_helper.h): the same result as the
// in-process decoder, and a file that crashes GDCM costs that file only. The crashing inputs
// are tests/fuzz/dicom_isolated/, found by fuzzing (docs/reliability.md); each is first
// shown to crash the in-process decoder, in a forked child, so the test cannot pass on an
// input that no longer crashes GDCM.
#include "worker/dicom_helper.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "io/files.h"
#include "worker/cache.h"
#include "worker/dicom.h"
#include "worker/image.h"
#include "worker/preprocess.h"
#include "tests/temp_dir.h"

namespace mammosweep::worker {
namespace {

const std::string kSeeds = std::string(MAMMOSWEEP_SOURCE_DIR) + "/tests/fuzz/dicom";
const std::string kCrashes = std::string(MAMMOSWEEP_SOURCE_DIR) + "/tests/fuzz/dicom_isolated";
const std::string kGood = kSeeds + "/mono2_12_rle.dcm";

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Runs the in-process decoder on `path` in a child process; returns the signal that ended it,
// 0 when it returned or threw.
int in_process_signal(const std::string& path) {
  const pid_t child = ::fork();
  if (child == 0) {
    std::freopen("/dev/null", "w", stderr);
    try {
      const std::string bytes = read_file_bytes(path);
      decode_dicom_memory(byte_ptr(bytes), bytes.size(), path);
    } catch (const ImageError&) {
    }
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& name : io::list_dir(dir)) out.push_back(io::join_path(dir, name));
  return out;
}

TEST(DicomHelper, GivesWhatTheInProcessDecoderGives) {
  int images = 0, errors = 0;
  for (const auto& p : files_in(kSeeds)) {
    const std::string bytes = read_file_bytes(p);
    std::string in_process_error;
    Image expected;
    try {
      expected = decode_dicom_memory(byte_ptr(bytes), bytes.size(), p);
    } catch (const ImageError& e) {
      in_process_error = e.what();
    }
    try {
      const Image got = decode_image(p);
      EXPECT_EQ(in_process_error, "") << p;
      EXPECT_EQ(got.width, expected.width) << p;
      EXPECT_EQ(got.height, expected.height) << p;
      EXPECT_EQ(got.channels, expected.channels) << p;
      EXPECT_EQ(got.bit_depth, expected.bit_depth) << p;
      EXPECT_EQ(got.pixels, expected.pixels) << p;
      ++images;
    } catch (const ImageError& e) {
      EXPECT_EQ(std::string(e.what()), in_process_error) << p;
      ++errors;
    }
  }
  EXPECT_GE(images, 5);  // the seeds
  EXPECT_GE(errors, 5);  // the pre-check's regression inputs
}

TEST(DicomHelper, AGdcmCrashIsAnImageErrorForThatFileOnly) {
  const Image good = decode_image(kGood);
  const auto crashes = files_in(kCrashes);
  ASSERT_GE(crashes.size(), 3u);
  for (const auto& p : crashes) {
    const int sig = in_process_signal(p);
    EXPECT_TRUE(sig == SIGABRT || sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE)
        << p << " no longer crashes GDCM in process (signal " << sig << "): another GDCM?";
    try {
      decode_image(p);
      ADD_FAILURE() << "no error for " << p;
    } catch (const ImageError& e) {
      const std::string msg = e.what();
      EXPECT_TRUE(has(msg, p + ": GDCM crashed the DICOM decoder process (signal " +
                               std::to_string(sig)))
          << msg;
    }
    // The next file gets a new helper.
    EXPECT_EQ(decode_image(kGood).pixels, good.pixels) << "after " << p;
  }
}

TEST(DicomHelper, AnAssertionIsQuotedInTheError) {
  const std::string p = kCrashes + "/planar-configuration-2.dcm";
  try {
    decode_image(p);
    FAIL() << "no error for " << p;
  } catch (const ImageError& e) {
    std::cout << e.what() << "\n";
    EXPECT_TRUE(has(e.what(), "SIGABRT")) << e.what();
    EXPECT_TRUE(has(e.what(), "Assertion `pc == 0 || pc == 1' failed")) << e.what();
  }
}

TEST(DicomHelper, ConcurrentCallersEachGetAHelper) {
  const Image good = decode_image(kGood);
  const std::string crash = files_in(kCrashes).front();
  std::vector<int> ok(4, 0), crashed(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 12; ++i) {
        try {
          ok[t] += decode_image(i % 4 == t ? crash : kGood).pixels == good.pixels;
        } catch (const ImageError& e) {
          crashed[t] += has(e.what(), "GDCM crashed the DICOM decoder process");
        }
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok, (std::vector<int>{9, 9, 9, 9}));
  EXPECT_EQ(crashed, (std::vector<int>{3, 3, 3, 3}));
}

// This process's helpers: children whose name is mammosweep-dicom (comm: 15 characters).
std::vector<pid_t> helper_pids() {
  std::vector<pid_t> out;
  for (const auto& name : io::list_dir("/proc")) {
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string stat;
    try {
      stat = io::read_file("/proc/" + name + "/stat");
    } catch (const std::exception&) {
      continue;  // gone meanwhile
    }
    const std::size_t close = stat.rfind(')');
    if (stat.find("(mammosweep-dico)") == std::string::npos || close == std::string::npos) continue;
    char state = 0;
    int ppid = 0;
    if (std::sscanf(stat.c_str() + close + 1, " %c %d", &state, &ppid) == 2 && ppid == ::getpid() &&
        state != 'Z')
      out.push_back(std::stoi(name));
  }
  return out;
}

// The stop signals are for the program that started the helper (a terminal's Ctrl-C reaches
// the whole process group): a helper that died of one would turn a good image into a bad one.
TEST(DicomHelper, StopSignalsDoNotEndAHelper) {
  const Image good = decode_image(kGood);
  const std::vector<pid_t> before = helper_pids();
  ASSERT_FALSE(before.empty());
  for (const pid_t pid : before)
    for (const int sig : {SIGINT, SIGTERM, SIGUSR1, SIGHUP}) ASSERT_EQ(::kill(pid, sig), 0);
  EXPECT_EQ(decode_image(kGood).pixels, good.pixels);
  EXPECT_EQ(helper_pids(), before);  // the same processes: none died, none was restarted
}

// A helper killed while idle (the kernel's OOM killer may pick it) is replaced; the next
// file must not be reported as having crashed it.
TEST(DicomHelper, AHelperKilledWhileIdleIsNotChargedToTheNextFile) {
  const Image good = decode_image(kGood);
  const std::vector<pid_t> before = helper_pids();
  ASSERT_FALSE(before.empty());
  for (const pid_t pid : before) ASSERT_EQ(::kill(pid, SIGKILL), 0);
  for (int i = 0; i < 500 && !helper_pids().empty(); ++i) ::usleep(10000);  // zombies now
  ASSERT_TRUE(helper_pids().empty());
  EXPECT_EQ(decode_image(kGood).pixels, good.pixels);
}

class DicomCache : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const auto& p : {kGood, kSeeds + "/mono2_8.dcm", files_in(kCrashes).front(),
                          kSeeds + "/rgb_8.dcm"})
      records_.push_back({p, 0, "train", ""});
    options_.cache_dir = dir_.file("cache");
    options_.image_size = 16;
    options_.threads = 2;
    pre_.image_size = 16;
  }
  ImageCache build() { return ImageCache::open_or_build(records_, options_, make_decode_fn(pre_)); }

  test::TempDir dir_{"mswdicomhelper"};
  std::vector<ImageRecord> records_;
  CacheOptions options_;
  PreprocessOptions pre_;
};

TEST_F(DicomCache, SkipModeSkipsTheCrashingFileOnly) {
  options_.on_bad_image = OnBadImage::skip;
  const ImageCache c = build();
  EXPECT_TRUE(helper_pids().empty()) << "the build's helpers outlive it";
  ASSERT_EQ(c.stats().skipped.size(), 1u);
  EXPECT_EQ(c.stats().skipped[0].path, records_[2].path);
  EXPECT_TRUE(has(c.stats().skipped[0].reason, "GDCM crashed")) << c.stats().skipped[0].reason;
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c.source_index(2), 3);
  // The stored images are what preprocessing makes of the in-process decode.
  for (std::size_t k = 0; k < c.size(); ++k) {
    const std::string& p = records_[static_cast<std::size_t>(c.source_index(k))].path;
    const std::string bytes = read_file_bytes(p);
    const auto want = preprocess(decode_dicom_memory(byte_ptr(bytes), bytes.size(), p), pre_);
    EXPECT_EQ(std::vector<std::uint8_t>(c.pixels(k), c.pixels(k) + want.size()), want) << p;
  }
}

TEST_F(DicomCache, ErrorModeNamesTheCrashingFile) {
  try {
    build();
    FAIL() << "expected CacheError";
  } catch (const CacheError& e) {
    EXPECT_TRUE(has(e.what(), records_[2].path + ": GDCM crashed")) << e.what();
  }
}

// A missing helper program is an installation problem: even `skip` must not quietly drop
// every DICOM file of the data set.
TEST_F(DicomCache, NoHelperProgramStopsTheBuildEvenWhenSkipping) {
  options_.on_bad_image = OnBadImage::skip;
  stop_idle_dicom_helpers();
  ::setenv("MAMMOSWEEP_DICOM_HELPER", "/nonexistent/mammosweep-dicom", 1);
  try {
    build();
    ADD_FAILURE() << "expected DicomHelperError";
  } catch (const DicomHelperError& e) {
    EXPECT_TRUE(has(e.what(), "/nonexistent/mammosweep-dicom")) << e.what();
  }
  ::unsetenv("MAMMOSWEEP_DICOM_HELPER");
  EXPECT_EQ(build().size(), 3u);
}

}  // namespace
}  // namespace mammosweep::worker
