// `--set KEY=VALUE` overrides (sweeps::load_spec with overrides) on a valid spec: each line
// of the input is one override. Any outcome but a SweepSpec or a SpecError is a finding.
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz/fuzz_input.h"
#include "sweeps/parse.h"

namespace {
constexpr char kSpec[] = R"(name: fuzz
seed: 1
method: grid
metric: {name: val_auc, goal: maximize}
data:
  root: data
  image_size: 64
training:
  epochs: 2
  batch_size: 4
  optimizer: adam
parameters:
  lr: {values: [1.0e-4, 5.0e-5]}
  dropout: {value: 0.3}
early_stopping:
  policy: median
  grace_epochs: 1
)";
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mammosweep;
  static const std::string path = fuzz::write_scratch("spec.yaml", kSpec, sizeof kSpec - 1);
  std::vector<std::string> overrides;
  const std::string text(reinterpret_cast<const char*>(data), size);
  for (std::size_t start = 0; start <= text.size() && overrides.size() < 16;) {
    std::size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    overrides.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  try {
    sweeps::load_spec(path, overrides);
  } catch (const sweeps::SpecError&) {
  }
  return 0;
}
