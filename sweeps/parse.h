#pragma once
// YAML -> SweepSpec, with validation. Every problem in a file is collected and reported at
// once; each message names file:line:column and what was expected. A spec that fails here
// never starts anything.
#include <stdexcept>
#include <string>
#include <vector>

#include "sweeps/spec.h"

namespace mammosweep::sweeps {

struct Diagnostic {
  std::string file;
  int line = 0, column = 0;  // 1-based; 0 when unknown
  std::string message;
  std::string to_string() const;  // "file:line:col: error: message"
};

/// Thrown when a spec is invalid; what() lists every diagnostic, one per line.
class SpecError : public std::runtime_error {
 public:
  explicit SpecError(std::vector<Diagnostic> diagnostics);
  const std::vector<Diagnostic>& diagnostics() const { return diagnostics_; }

 private:
  std::vector<Diagnostic> diagnostics_;
};

/// Parses and validates YAML text. `file` names the source in messages.
SweepSpec parse_spec(const std::string& text, const std::string& file = "<string>");
/// Reads and parses a file; a missing or unreadable file is a SpecError too.
SweepSpec load_spec(const std::string& path);

/// load_spec, then applies command-line overrides "dotted.key=value" (for example
/// "data.image_size=64", "training.epochs=2"; the value is YAML, so lists work) to the
/// file's mapping and validates the result again. The returned source_text is the file's
/// text followed by one "# --set KEY=VALUE" comment line per override, so a resumed sweep
/// can tell that it runs with the same overrides. A malformed override is a SpecError.
SweepSpec load_spec(const std::string& path, const std::vector<std::string>& overrides);

/// Closest candidate by edit distance, or "" when none is close enough.
std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates);

/// True when `name` is safe to use inside a path under --out: not empty, no '/', '\\',
/// no "..", no leading '.', no control characters.
bool is_safe_name(const std::string& name);

}  // namespace mammosweep::sweeps
