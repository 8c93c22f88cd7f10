// Spec YAML (sweeps::parse_spec). Any outcome but a SweepSpec or a SpecError naming the
// file is a finding; so is a valid `method: bayes` spec whose search space the TPE sampler
// refuses, or whose first proposal does not map back to the same trial.
#include <cstdint>
#include <optional>
#include <string>

#include "fuzz/fuzz_input.h"
#include "sweeps/parse.h"
#include "sweeps/search_space.h"
#include "sweeps/tpe.h"
#include "sweeps/trial.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mammosweep;
  sweeps::SweepSpec spec;
  try {
    spec = sweeps::parse_spec(std::string(reinterpret_cast<const char*>(data), size), "fuzz.yaml");
  } catch (const sweeps::SpecError& e) {
    fuzz::expect_names(e, "fuzz.yaml");
    return 0;
  }
  if (spec.method == sweeps::Method::bayes) {
    // A valid bayes spec gives a usable search space: the sampler takes it (no throw) and
    // its first proposal becomes valid training parameters.
    const sweeps::TpeSampler tpe(sweeps::search_space(spec), spec.seed);
    const sweeps::Point x = tpe.ask(0, {}, {});
    const sweeps::TrainingParams p = sweeps::params_at(spec, x);
    const std::optional<sweeps::Point> back = sweeps::point_of(spec, p);
    if (!back || sweeps::trial_id(sweeps::params_at(spec, *back)) != sweeps::trial_id(p)) {
      __builtin_trap();
    }
  }
  return 0;
}
