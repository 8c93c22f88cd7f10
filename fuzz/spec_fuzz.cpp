// Spec YAML (sweeps::parse_spec). Any outcome but a SweepSpec or a SpecError naming the
// file is a finding.
#include <cstdint>
#include <string>

#include "fuzz/fuzz_input.h"
#include "sweeps/parse.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mammosweep;
  try {
    sweeps::parse_spec(std::string(reinterpret_cast<const char*>(data), size), "fuzz.yaml");
  } catch (const sweeps::SpecError& e) {
    fuzz::expect_names(e, "fuzz.yaml");
  }
  return 0;
}
