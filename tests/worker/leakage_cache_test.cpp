// The leakage guard's kept report (worker/leakage_cache.h): the same report as running the
// guard, read back only while the files, their splits and patients, and the options are
// unchanged.
#include "worker/leakage_cache.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <fcntl.h>
#include <sys/stat.h>

#include "io/files.h"
#include "tests/temp_dir.h"
#include "worker/image.h"
#include "worker/synth.h"

namespace mammosweep::worker {
namespace {

class LeakageCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SynthOptions so;
    so.count = 24;
    so.size = 64;
    so.seed = 3;
    for (const SynthSample& s : generate_synthetic(so)) {
      const std::string p = dir_.file(std::to_string(records_.size()) + ".png");
      write_png(p, s.image);
      records_.push_back({p, s.label, s.split, ""});
    }
    // One leak the guard must find: a train image copied into val.
    const std::string copy = dir_.file("copy.png");
    io::write_file_atomic(copy, io::read_file(records_.front().path));
    records_.push_back({copy, records_.front().label, "val", ""});
    options_.threads = 2;
  }

  LeakageReport cached(bool* hit) {
    return check_leakage_cached(records_, options_, dir_.file("cache"), hit);
  }

  /// The single file the cache folder holds.
  std::string kept_file() {
    const auto names = io::list_dir(dir_.file("cache"));
    EXPECT_EQ(names.size(), 1u);
    return names.empty() ? "" : dir_.file("cache/" + names.front());
  }

  test::TempDir dir_{"leakage_cache_test"};
  std::vector<ImageRecord> records_;
  LeakageOptions options_;
};

void expect_same(const LeakageReport& a, const LeakageReport& b) {
  EXPECT_EQ(a.to_json(), b.to_json());
  ASSERT_EQ(a.shapes.size(), b.shapes.size());
  for (std::size_t i = 0; i < a.shapes.size(); ++i) {
    EXPECT_EQ(a.shapes[i].width, b.shapes[i].width);
    EXPECT_EQ(a.shapes[i].height, b.shapes[i].height);
    EXPECT_EQ(a.shapes[i].channels, b.shapes[i].channels);
    EXPECT_EQ(a.shapes[i].bit_depth, b.shapes[i].bit_depth);
  }
}

TEST_F(LeakageCacheTest, TheKeptReportIsTheGuardsAndIsReadBackUnchanged) {
  const LeakageReport direct = check_leakage(records_, options_);
  ASSERT_EQ(direct.count("exact"), 1u) << direct.summary();
  bool hit = true;
  expect_same(cached(&hit), direct);
  EXPECT_FALSE(hit);
  expect_same(cached(&hit), direct);
  EXPECT_TRUE(hit);

  // Read back, not recomputed: a finding written into the kept file comes back.
  const std::string path = kept_file();
  nlohmann::json j = nlohmann::json::parse(io::read_file(path));
  j["findings"][0]["detail"] = "edited";
  io::write_file_atomic(path, j.dump());
  EXPECT_EQ(cached(&hit).findings.at(0).detail, "edited");
  EXPECT_TRUE(hit);
}

TEST_F(LeakageCacheTest, AnyChangeToFilesSplitsPatientsOrOptionsRunsTheGuardAgain) {
  bool hit = false;
  cached(&hit);
  ASSERT_FALSE(hit);
  auto expect_miss = [&](const char* what) {
    SCOPED_TRACE(what);
    const LeakageReport report = cached(&hit);
    EXPECT_FALSE(hit);
    expect_same(report, check_leakage(records_, options_));
    cached(&hit);
    EXPECT_TRUE(hit) << "kept again for the new key";
  };
  records_.back().split = "train";  // the copy moves next to its original: no finding
  expect_miss("a split");
  EXPECT_TRUE(cached(&hit).findings.empty());
  records_[1].patient_id = "P1";
  records_[records_.size() - 2].patient_id = "P1";
  expect_miss("a patient id");
  options_.near_threshold = 4;
  expect_miss("an option");
  // The same bytes with a new modification time (a file replaced in place).
  struct timespec times[2] = {{0, UTIME_OMIT}, {1'000'000'000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, records_[2].path.c_str(), times, 0), 0);
  expect_miss("a file's mtime");
}

TEST_F(LeakageCacheTest, AKeptFileThatDoesNotParseIsAMissAndIsRewritten) {
  bool hit = false;
  const LeakageReport first = cached(&hit);
  const std::string path = kept_file();
  for (const std::string& bad : {std::string("{\"key\": "), std::string("[]"),
                                 io::read_file(path).substr(0, 40)}) {
    io::write_file_atomic(path, bad);
    expect_same(cached(&hit), first);
    EXPECT_FALSE(hit) << bad;
    expect_same(cached(&hit), first);
    EXPECT_TRUE(hit);
  }
}

}  // namespace
}  // namespace mammosweep::worker
