#pragma once
// Resolved trials: what a spec expands into, and the unit the coordinator hands to workers.
#include <cstdint>
#include <string>
#include <vector>

#include "sweeps/params.h"
#include "sweeps/spec.h"

namespace mammosweep::sweeps {

struct Trial {
  std::string id;     // derived from the resolved parameters only (see trial_id)
  std::string name;   // variant name, or "key=value ..." of the swept parameters
  int index = 0;      // position in the expansion, for display
  std::uint64_t seed = 0;  // per-trial seed: mix of the sweep seed and the id
  TrainingParams params;
};

/// Stable id of a parameter set: a hash of the canonical (sorted, exact) text of every
/// resolved parameter. Key order and position in the spec file never change it.
std::string trial_id(const TrainingParams& params);

/// Canonical JSON object of every parameter (sorted keys, exact numbers).
std::string params_to_json(const TrainingParams& params);
/// Parses params_to_json's output; throws std::invalid_argument naming a bad key or value.
TrainingParams params_from_json(const std::string& json);

/// Trial <-> one-line JSON text; from_text(to_text(t)) == t exactly.
std::string to_text(const Trial& t);
Trial trial_from_text(const std::string& text);
bool operator==(const Trial& a, const Trial& b);

/// Expands a validated spec into trials, in a deterministic order:
///  - variants: one trial per variant (defaults + overrides), in file order;
///  - grid: the Cartesian product of value lists, first parameter varying slowest;
///  - random: max_trials (else run_cap) draws, seeded by the sweep seed;
///  - bayes: none (trials are proposed while the sweep runs: orchestrator/proposer.h).
/// Trials with identical resolved parameters are merged (the first name is kept); with a
/// run_cap, the first run_cap distinct trials are kept.
std::vector<Trial> expand(const SweepSpec& spec);

/// The trial of `params`: its id (trial_id), `name`, `index`, and its seed (a mix of the
/// sweep seed and the id, as every expanded trial gets).
Trial make_trial(const SweepSpec& spec, const std::string& name, const TrainingParams& params,
                 int index);
/// "key=value ..." of the spec's searched parameters (not value:) as `params` has them.
std::string searched_name(const SweepSpec& spec, const TrainingParams& params);

/// The parameter names whose values differ between trials, in registry order.
std::vector<std::string> differing_params(const std::vector<Trial>& trials);

}  // namespace mammosweep::sweeps
