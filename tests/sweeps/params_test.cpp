// The parameter table's numeric ranges: each real parameter accepts exactly the interval
// docs/sweep-spec.md documents for it, ends included or excluded as written there.
#include "sweeps/params.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

namespace mammosweep::sweeps {
namespace {

/// A range as docs/sweep-spec.md writes it: "> 0", ">= 0", "[0, 1)", "(0, 1]", ...
struct Documented {
  std::string name;
  std::string range;
};

const std::vector<Documented> kRealRanges = {
    {"lr", "> 0"},
    {"weight_decay", ">= 0"},
    {"momentum", "[0, 1)"},
    {"lr_gamma", "(0, 1]"},
    {"unfrozen_fraction", "[0, 1]"},
    {"dropout", "[0, 1)"},
    {"label_smoothing", "[0, 1)"},
    {"augmentation.brightness", "[0, 1]"},
    {"augmentation.contrast", "[0, 1]"},
    {"augmentation.saturation", "[0, 1]"},
};

bool accepts(const ParamDef& def, double v) { return def.check(Value{v}).empty(); }

TEST(Params, EveryRealParameterHasItsDocumentedRange) {
  std::size_t reals = 0;
  for (const auto& def : param_defs()) reals += def.type == ParamType::real ? 1 : 0;
  EXPECT_EQ(reals, kRealRanges.size());
  for (const auto& [name, range] : kRealRanges) {
    const ParamDef* def = find_param(name);
    ASSERT_NE(def, nullptr) << name;
    EXPECT_EQ(def->type, ParamType::real) << name;
    const std::string phrase = range[0] == '>' ? range : "in " + range;
    EXPECT_EQ(def->expected(), "a number " + phrase) << name;
  }
}

TEST(Params, RealRangesIncludeOrExcludeTheirEndsAsDocumented) {
  const double eps = 1e-9;
  for (const auto& [name, range] : kRealRanges) {
    const ParamDef& def = *find_param(name);
    if (range[0] == '>') {  // "> 0" or ">= 0": no upper end
      const bool inclusive = range[1] == '=';
      const double lo = std::stod(range.substr(inclusive ? 2 : 1));
      EXPECT_EQ(accepts(def, lo), inclusive) << name;
      EXPECT_FALSE(accepts(def, lo - eps)) << name;
      EXPECT_TRUE(accepts(def, lo + eps)) << name;
      EXPECT_TRUE(accepts(def, lo + 1e6)) << name;
      continue;
    }
    const std::size_t comma = range.find(',');
    const double lo = std::stod(range.substr(1, comma - 1));
    const double hi = std::stod(range.substr(comma + 1, range.size() - comma - 2));
    EXPECT_EQ(accepts(def, lo), range.front() == '[') << name;
    EXPECT_EQ(accepts(def, hi), range.back() == ']') << name;
    EXPECT_FALSE(accepts(def, lo - eps)) << name;
    EXPECT_FALSE(accepts(def, hi + eps)) << name;
    EXPECT_TRUE(accepts(def, (lo + hi) / 2)) << name;
  }
}

TEST(Params, IntervalHelpersReadAsTheNotation) {
  struct Case {
    Interval interval;
    std::string notation;
  };
  auto notation = [](const Interval& i) {
    auto end = [](const std::optional<double>& v) { return v ? std::to_string(*v) : "inf"; };
    return std::string(i.min_exclusive ? "(" : "[") + end(i.min) + ", " + end(i.max) +
           (i.max_exclusive || !i.max ? ")" : "]");
  };
  const std::vector<Case> cases = {
      {at_least(2), "[2.000000, inf)"},          {greater_than(2), "(2.000000, inf)"},
      {closed(0, 1), "[0.000000, 1.000000]"},    {open_open(0, 1), "(0.000000, 1.000000)"},
      {closed_open(0, 1), "[0.000000, 1.000000)"}, {open_closed(0, 1), "(0.000000, 1.000000]"},
  };
  for (const auto& c : cases) EXPECT_EQ(notation(c.interval), c.notation);
}

}  // namespace
}  // namespace mammosweep::sweeps
