#include "sweeps/trial.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <type_traits>

#include "sweeps/distributions.h"
#include "sweeps/splitmix.h"

namespace mammosweep::sweeps {

namespace {

using nlohmann::json;

std::uint64_t fnv1a(const std::string& s) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

json to_json(const Value& v) {
  return std::visit([](const auto& x) { return json(x); }, v);
}

Value from_json(const json& j) {
  if (j.is_boolean()) return j.get<bool>();
  if (j.is_number_integer()) return j.get<std::int64_t>();
  if (j.is_number_float()) return j.get<double>();
  if (j.is_string()) return j.get<std::string>();
  throw std::invalid_argument("unsupported JSON value " + j.dump());
}

json params_json(const TrainingParams& p) {
  json obj = json::object();
  for (const auto& [name, value] : flatten(p)) obj[name] = to_json(value);
  return obj;
}

TrainingParams params_from(const json& obj) {
  if (!obj.is_object()) throw std::invalid_argument("trial parameters must be a JSON object");
  TrainingParams p;
  for (const auto& [name, j] : obj.items()) {
    const ParamDef* def = find_param(name);
    if (!def) throw std::invalid_argument("unknown parameter '" + name + "' in trial text");
    Value v = from_json(j);
    if (def->type == ParamType::real && std::holds_alternative<std::int64_t>(v)) {
      v = static_cast<double>(std::get<std::int64_t>(v));
    }
    if (std::string expected = def->check(v); !expected.empty()) {
      throw std::invalid_argument(fmt::format("parameter '{}' expects {}, got {}", name,
                                              expected, j.dump()));
    }
    def->set(p, v);
  }
  return p;
}

std::string short_text(const Value& v) {
  if (std::holds_alternative<double>(v)) return fmt::format("{:.3g}", std::get<double>(v));
  return to_text(v);
}

}  // namespace

std::string params_to_json(const TrainingParams& params) { return params_json(params).dump(); }

TrainingParams params_from_json(const std::string& text) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    throw std::invalid_argument(std::string("trial parameters are not valid JSON: ") + e.what());
  }
  return params_from(j);
}

std::string trial_id(const TrainingParams& params) {
  std::uint64_t h = splitmix64(fnv1a(params_to_json(params)));
  return fmt::format("t{:012x}", h >> 16);
}

std::string to_text(const Trial& t) {
  json j = {{"id", t.id}, {"name", t.name}, {"index", t.index}, {"seed", t.seed},
            {"params", params_json(t.params)}};
  return j.dump();
}

namespace {

// get<int>() and get<std::uint64_t>() cast any JSON number: a fraction, a negative or a
// too large value would change silently (or be undefined behaviour for a huge float).
template <typename Int>
Int exact_integer(const json& j, const char* key) {
  const json& v = j.at(key);
  if (v.is_number_unsigned() &&
      v.get<std::uint64_t>() <= static_cast<std::uint64_t>(std::numeric_limits<Int>::max()))
    return static_cast<Int>(v.get<std::uint64_t>());
  if constexpr (std::is_signed_v<Int>) {
    if (v.is_number_integer() && !v.is_number_unsigned() &&
        v.get<std::int64_t>() >= std::numeric_limits<Int>::min())
      return static_cast<Int>(v.get<std::int64_t>());
  }
  throw std::invalid_argument(fmt::format("malformed trial text: '{}' must be an integer in "
                                          "{}..{}, got {}", key, std::numeric_limits<Int>::min(),
                                          std::numeric_limits<Int>::max(), v.dump()));
}

}  // namespace

Trial trial_from_text(const std::string& text) {
  try {
    json j = json::parse(text);
    Trial t;
    t.id = j.at("id").get<std::string>();
    t.name = j.at("name").get<std::string>();
    t.index = exact_integer<int>(j, "index");
    t.seed = exact_integer<std::uint64_t>(j, "seed");
    t.params = params_from(j.at("params"));
    return t;
  } catch (const json::exception& e) {
    throw std::invalid_argument(std::string("malformed trial text: ") + e.what());
  }
}

bool operator==(const Trial& a, const Trial& b) {
  return a.id == b.id && a.name == b.name && a.index == b.index && a.seed == b.seed &&
         flatten(a.params) == flatten(b.params);
}

std::vector<Trial> expand(const SweepSpec& spec) {
  std::vector<std::pair<std::string, TrainingParams>> named;  // name, params
  switch (spec.method) {
    case Method::variants:
      for (const auto& v : spec.variants) {
        TrainingParams p = spec.training;
        for (const auto& [name, value] : v.overrides) find_param(name)->set(p, value);
        named.emplace_back(v.name, p);
      }
      break;
    case Method::grid: {
      std::vector<std::size_t> counter(spec.parameters.size(), 0);
      while (true) {
        TrainingParams p = spec.training;
        std::string name;
        for (std::size_t i = 0; i < spec.parameters.size(); ++i) {
          const auto& [pname, dom] = spec.parameters[i];
          const Value& v = dom.values[counter[i]];
          find_param(pname)->set(p, v);
          if (dom.values.size() > 1) {
            name += fmt::format("{}{}={}", name.empty() ? "" : " ", pname, short_text(v));
          }
        }
        named.emplace_back(name.empty() ? "default" : name, p);
        if (spec.run_cap && named.size() >= static_cast<std::size_t>(*spec.run_cap)) break;
        // Odometer increment, last parameter fastest.
        std::size_t i = spec.parameters.size();
        while (i > 0) {
          --i;
          if (++counter[i] < spec.parameters[i].second.values.size()) break;
          counter[i] = 0;
          if (i == 0) i = static_cast<std::size_t>(-1);
          if (i == static_cast<std::size_t>(-1)) break;
        }
        if (i == static_cast<std::size_t>(-1) || spec.parameters.empty()) break;
      }
      break;
    }
    case Method::random: {
      std::uint64_t state = splitmix64(spec.seed ^ 0x5eedULL);
      for (int k = 0; k < spec.max_trials.value_or(spec.run_cap.value_or(1)); ++k) {
        TrainingParams p = spec.training;
        std::string name;
        for (const auto& [pname, dom] : spec.parameters) {
          const ParamDef& def = *find_param(pname);
          Value v = draw(def, dom, state);
          def.set(p, v);
          if (dom.kind != Domain::Kind::value) {
            name += fmt::format("{}{}={}", name.empty() ? "" : " ", pname, short_text(v));
          }
        }
        named.emplace_back(name.empty() ? "default" : name, p);
      }
      break;
    }
    case Method::bayes:
      break;  // proposed one at a time while the sweep runs (orchestrator/proposer.h)
  }

  std::vector<Trial> trials;
  std::set<std::string> seen;
  for (auto& [name, params] : named) {
    if (spec.run_cap && trials.size() >= static_cast<std::size_t>(*spec.run_cap)) break;
    Trial t = make_trial(spec, name, params, static_cast<int>(trials.size()));
    if (!seen.insert(t.id).second) continue;
    trials.push_back(std::move(t));
  }
  return trials;
}

Trial make_trial(const SweepSpec& spec, const std::string& name, const TrainingParams& params,
                 int index) {
  Trial t;
  t.id = trial_id(params);
  t.name = name;
  t.index = index;
  t.seed = splitmix64(spec.seed ^ fnv1a(t.id));
  t.params = params;
  return t;
}

std::string searched_name(const SweepSpec& spec, const TrainingParams& params) {
  std::string name;
  for (const auto& [pname, dom] : spec.parameters) {
    if (dom.kind == Domain::Kind::value) continue;
    name += fmt::format("{}{}={}", name.empty() ? "" : " ", pname,
                        short_text(find_param(pname)->get(params)));
  }
  return name.empty() ? "default" : name;
}

std::vector<std::string> differing_params(const std::vector<Trial>& trials) {
  std::vector<std::string> out;
  if (trials.empty()) return out;
  for (const auto& def : param_defs()) {
    Value first = def.get(trials.front().params);
    for (const auto& t : trials) {
      if (def.get(t.params) != first) {
        out.push_back(def.name);
        break;
      }
    }
  }
  return out;
}

}  // namespace mammosweep::sweeps
