#pragma once
// Shared by the spec parser's tests: parse text that must be refused and check its
// file:line:col diagnostics.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sweeps/parse.h"

namespace mammosweep::sweeps::test {

/// Parses `text` as the file `file`, expects failure, returns the diagnostics.
inline std::vector<Diagnostic> errors_of(const std::string& text,
                                         const std::string& file = "spec.yaml") {
  try {
    parse_spec(text, file);
  } catch (const SpecError& e) {
    return e.diagnostics();
  }
  ADD_FAILURE() << "spec was accepted:\n" << text;
  return {};
}

/// Exactly one diagnostic, at file:line:col, containing `fragment`.
inline void expect_one_error(const std::string& text, int line, int col,
                             const std::string& fragment, const std::string& file = "spec.yaml") {
  auto ds = errors_of(text, file);
  ASSERT_EQ(ds.size(), 1u) << (ds.empty() ? "" : SpecError(ds).what());
  EXPECT_EQ(ds[0].file, file);
  EXPECT_EQ(ds[0].line, line) << ds[0].to_string();
  EXPECT_EQ(ds[0].column, col) << ds[0].to_string();
  EXPECT_THAT(ds[0].message, ::testing::HasSubstr(fragment));
  EXPECT_THAT(ds[0].to_string(), ::testing::HasSubstr(file + ":" + std::to_string(line) + ":" +
                                                       std::to_string(col) + ": error: "));
}

}  // namespace mammosweep::sweeps::test
