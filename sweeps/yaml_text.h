#pragma once
// Internal to the sweeps library: how spec errors name a YAML node (parse.cpp, overrides.cpp).
#include <yaml-cpp/yaml.h>

#include <string>

namespace mammosweep::sweeps {

/// "a mapping", "a list", "nothing" or the quoted scalar ('1').
inline std::string describe(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Null: return "nothing";
    case YAML::NodeType::Scalar: return "'" + n.Scalar() + "'";
    default: return "an undefined node";
  }
}

}  // namespace mammosweep::sweeps
