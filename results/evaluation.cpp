#include "results/evaluation.h"

#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace mammosweep::results {
namespace {

using ojson = nlohmann::ordered_json;

ojson number(double v) { return std::isfinite(v) ? ojson(v) : ojson(nullptr); }

ojson interval(const Interval& i) {
  return {{"point", number(i.point)}, {"lo", number(i.lo)}, {"hi", number(i.hi)}};
}

double number_of(const ojson& j) { return j.is_number() ? j.get<double>() : kNaN; }

Interval interval_of(const ojson& j) {
  return {number_of(j.at("point")), number_of(j.at("lo")), number_of(j.at("hi"))};
}

}  // namespace

std::string to_json(const TestEvaluation& e) {
  ojson j;
  j["time"] = e.time;
  j["split"] = e.split;
  j["trial"] = {{"id", e.trial_id}, {"name", e.trial_name}, {"epoch", e.epoch},
                {"rank", e.rank}, {"model_of_the_week", e.rank == 1}};
  j["threshold"] = {{"rule", e.threshold_rule}, {"value", e.threshold}, {"chosen_on", "val"}};
  j["images"] = {{"total", e.images}, {"malignant", e.malignant},
                 {"benign", e.images - e.malignant}};
  j["metrics"] = {{"auc", interval(e.ci.auc)},
                  {"sensitivity", interval(e.ci.sensitivity)},
                  {"specificity", interval(e.ci.specificity)},
                  {"accuracy", interval(e.ci.accuracy)},
                  {"f1", interval(e.ci.f1)}};
  j["confusion_matrix"] = {{"tp", e.cm.tp}, {"fp", e.cm.fp}, {"tn", e.cm.tn}, {"fn", e.cm.fn}};
  j["bootstrap"] = {{"resamples", e.ci.resamples}, {"confidence", e.ci.confidence}};
  j["earlier_test_evaluations"] = e.earlier;
  j["tool_version"] = e.tool_version;
  return j.dump();
}

TestEvaluation evaluation_from_json(const std::string& text, const std::string& where) {
  TestEvaluation e;
  try {
    const ojson j = ojson::parse(text);
    e.time = j.at("time").get<std::string>();
    e.split = j.at("split").get<std::string>();
    const ojson& t = j.at("trial");
    e.trial_id = t.at("id").get<std::string>();
    e.trial_name = t.at("name").get<std::string>();
    e.epoch = t.at("epoch").get<int>();
    e.rank = t.at("rank").get<int>();
    e.threshold_rule = j.at("threshold").at("rule").get<std::string>();
    e.threshold = j.at("threshold").at("value").get<double>();
    e.images = j.at("images").at("total").get<std::size_t>();
    e.malignant = j.at("images").at("malignant").get<std::size_t>();
    const ojson& m = j.at("metrics");
    e.ci.auc = interval_of(m.at("auc"));
    e.ci.sensitivity = interval_of(m.at("sensitivity"));
    e.ci.specificity = interval_of(m.at("specificity"));
    e.ci.accuracy = interval_of(m.at("accuracy"));
    e.ci.f1 = interval_of(m.at("f1"));
    const ojson& cm = j.at("confusion_matrix");
    e.cm = {cm.at("tp").get<std::int64_t>(), cm.at("fp").get<std::int64_t>(),
            cm.at("tn").get<std::int64_t>(), cm.at("fn").get<std::int64_t>()};
    e.ci.resamples = j.at("bootstrap").at("resamples").get<int>();
    e.ci.confidence = j.at("bootstrap").at("confidence").get<double>();
    e.earlier = j.at("earlier_test_evaluations").get<std::size_t>();
    e.tool_version = j.at("tool_version").get<std::string>();
  } catch (const nlohmann::json::exception& x) {
    throw std::runtime_error(fmt::format("{}: not a valid evaluation record: {}", where, x.what()));
  }
  return e;
}

std::vector<TestEvaluation> parse_evaluations(const std::vector<std::string>& rows,
                                              const std::string& where) {
  std::vector<TestEvaluation> out;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    out.push_back(evaluation_from_json(rows[i], fmt::format("{} /evaluations row {}", where, i)));
  }
  return out;
}

std::optional<TestEvaluation> latest_evaluation(const std::vector<TestEvaluation>& all,
                                                const std::string& trial_id, int epoch) {
  std::optional<TestEvaluation> found;
  for (const auto& e : all) {
    if (e.split == "test" && e.trial_id == trial_id && e.epoch == epoch) found = e;
  }
  return found;
}

}  // namespace mammosweep::results
