// `--set KEY=VALUE` overrides: applied to the spec's YAML document, which is then parsed
// again, so an override is checked exactly like the same value written in the file.
#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <string>
#include <vector>

#include "sweeps/params.h"
#include "sweeps/parse.h"
#include "sweeps/yaml_text.h"

namespace mammosweep::sweeps {

SweepSpec load_spec(const std::string& path, const std::vector<std::string>& overrides) {
  SweepSpec spec = load_spec(path);
  if (overrides.empty()) return spec;
  YAML::Node root = YAML::Load(spec.source_text);
  std::vector<Diagnostic> bad;
  for (const auto& o : overrides) {
    std::size_t eq = o.find('=');
    if (eq == std::string::npos || eq == 0) {
      bad.push_back({"--set " + o, 0, 0, "expected KEY=VALUE, for example data.image_size=64"});
      continue;
    }
    std::string key = o.substr(0, eq);
    YAML::Node value;
    try {
      value = YAML::Load(o.substr(eq + 1));
    } catch (const YAML::Exception& e) {
      bad.push_back({"--set " + o, 0, 0, "the value is not valid YAML: " + e.msg});
      continue;
    }
    // Walk (creating mappings) to the parent of the last key part.
    std::vector<std::string> parts;
    for (std::size_t start = 0;;) {
      std::size_t dot = key.find('.', start);
      parts.push_back(key.substr(start, dot - start));
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    // Parameter names themselves contain a dot (augmentation.hflip): under training:, keep
    // the rest of the key whole when it names a parameter.
    if (parts.size() > 2 && parts[0] == "training" && find_param(key.substr(9))) {
      parts = {"training", key.substr(9)};
    }
    // A part that holds a scalar or a list cannot take a key (yaml-cpp would throw).
    std::vector<YAML::Node> chain{root};
    std::string walked, not_a_map;
    for (std::size_t i = 0; i + 1 < parts.size() && not_a_map.empty(); ++i) {
      walked += (i ? "." : "") + parts[i];
      YAML::Node next = chain.back()[parts[i]];
      if (!next.IsDefined() || next.IsNull()) {
        chain.back()[parts[i]] = YAML::Node(YAML::NodeType::Map);
        next = chain.back()[parts[i]];
      } else if (!next.IsMap()) {
        not_a_map = walked;
      }
      chain.push_back(next);
    }
    if (!not_a_map.empty()) {
      bad.push_back({"--set " + o, 0, 0,
                     fmt::format("'{}' is {}, not a mapping, so '{}' cannot be set", not_a_map,
                                 describe(chain.back()), key)});
      continue;
    }
    chain.back()[parts.back()] = value;
  }
  if (!bad.empty()) throw SpecError(bad);
  YAML::Emitter out;
  out << root;
  // Positions in errors refer to the merged document, which the file name says.
  SweepSpec merged = parse_spec(out.c_str(), path + " with --set overrides");
  merged.source_path = path;
  merged.source_text = spec.source_text;
  for (const auto& o : overrides) merged.source_text += "\n# --set " + o;
  merged.overrides = overrides;
  // The file's notes keep their positions in the file; a note only the overrides caused
  // (--set method=bayes) is added, positioned in the merged document, which its name says.
  std::vector<std::string> notes = spec.notes;
  for (const auto& n : merged.notes) {
    const std::size_t at = n.find(": note: ");
    const std::string said = at == std::string::npos ? n : n.substr(at);
    auto same = [&](const std::string& m) {
      return m.size() >= said.size() && m.compare(m.size() - said.size(), said.size(), said) == 0;
    };
    if (std::none_of(notes.begin(), notes.end(), same)) notes.push_back(n);
  }
  merged.notes = std::move(notes);
  merged.effective_text = std::string(out.c_str()) + "\n";
  return merged;
}

}  // namespace mammosweep::sweeps
