// The one list of failure kinds: names are what the protocol sends and the store records.
#include "results/failure.h"

#include <stdexcept>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace mammosweep::results {
namespace {

TEST(FailureKind, NamesRoundTripAndAreTheDocumentedOnes) {
  const std::pair<FailureKind, std::string> expected[] = {
      {FailureKind::exception, "exception"}, {FailureKind::diverged, "diverged"},
      {FailureKind::oom, "oom"},             {FailureKind::bad_image, "bad_image"},
      {FailureKind::interrupted, "interrupted"}, {FailureKind::disk_full, "disk_full"}};
  for (const auto& [kind, name] : expected) {
    EXPECT_EQ(to_string(kind), name);
    EXPECT_EQ(failure_kind_from_string(name), kind);
  }
}

TEST(FailureKind, UnknownNameListsTheKnownOnes) {
  try {
    failure_kind_from_string("segfault");
    FAIL() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("'segfault'"));
    EXPECT_THAT(e.what(), ::testing::HasSubstr("exception, diverged, oom, bad_image, interrupted, disk_full"));
  }
}

}  // namespace
}  // namespace mammosweep::results
