// Phase times (io/phases.h): totals per name in first-use order, a timer bounded by clocks
// read around it, concurrent adds, and the table's shares and "other" row.
#include "io/phases.h"

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace mammosweep::io {
namespace {

TEST(Phases, AddsPerNameInFirstUseOrder) {
  reset_phases();
  add_phase_time("b", 1.5);
  add_phase_time("a", 2.0);
  add_phase_time("b", 0.25);
  add_phase_time("w", 4.0, /*background=*/true);
  const std::vector<PhaseTotal> t = phase_totals();
  ASSERT_EQ(t.size(), 3u);
  EXPECT_EQ(t[0].name, "b");
  EXPECT_DOUBLE_EQ(t[0].seconds, 1.75);
  EXPECT_EQ(t[0].count, 2);
  EXPECT_FALSE(t[0].background);
  EXPECT_EQ(t[1].name, "a");
  EXPECT_EQ(t[1].count, 1);
  EXPECT_TRUE(t[2].background);
  reset_phases();
  EXPECT_TRUE(phase_totals().empty());
}

TEST(Phases, TimerAddsItsLifetimeBoundedByClocksReadAroundIt) {
  reset_phases();
  const double before = monotonic_seconds();
  {
    PhaseTimer timer("sleep");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const double after = monotonic_seconds();
  const std::vector<PhaseTotal> t = phase_totals();
  ASSERT_EQ(t.size(), 1u);
  EXPECT_GE(t[0].seconds, 0.020);  // sleep_for sleeps at least that long
  EXPECT_LE(t[0].seconds, after - before);
  reset_phases();
}

TEST(Phases, ConcurrentAddsLoseNothing) {
  reset_phases();
  std::vector<std::thread> threads;
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([k] {
      for (int i = 0; i < 1000; ++i) add_phase_time(k % 2 ? "odd" : "even", 0.5);
    });
  }
  for (auto& t : threads) t.join();
  const std::vector<PhaseTotal> t = phase_totals();
  ASSERT_EQ(t.size(), 2u);
  for (const auto& p : t) {
    EXPECT_EQ(p.count, 2000) << p.name;
    EXPECT_DOUBLE_EQ(p.seconds, 1000.0) << p.name;  // sums of halves are exact
  }
  reset_phases();
}

TEST(Phases, TableGivesSharesOfTheWallTimeAndTheRestAsOther) {
  const std::vector<PhaseTotal> phases = {
      {"setup", 2.0, 1, false}, {"write", 10.0, 4, true}, {"train", 5.0, 3, false}};
  const std::string t = render_phases(phases, 10.0, "profile");
  EXPECT_EQ(t.rfind("profile (wall 10.00 s)\n", 0), 0u) << t;
  EXPECT_NE(t.find("| setup | 2.00 | 20.0 % | 1 |\n"), std::string::npos) << t;
  EXPECT_NE(t.find("| train | 5.00 | 50.0 % | 3 |\n"), std::string::npos) << t;
  // other = 10 - (2 + 5): the background phase overlaps and is not subtracted.
  EXPECT_NE(t.find("| other | 3.00 | 30.0 % |  |\n"), std::string::npos) << t;
  // Background phases come last, after "other".
  EXPECT_GT(t.find("| write (background, overlaps) | 10.00 | 100.0 % | 4 |"), t.find("| other"));
}

TEST(Phases, OtherIsNeverNegative) {
  const std::string t = render_phases({{"a", 3.0, 1, false}}, 2.0, "p");
  EXPECT_NE(t.find("| other | 0.00 | 0.0 % |  |"), std::string::npos) << t;
}

}  // namespace
}  // namespace mammosweep::io
