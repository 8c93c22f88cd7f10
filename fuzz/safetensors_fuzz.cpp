// safetensors files, header and data (worker::read_safetensors). Any outcome but tensors or
// a WeightsError naming the file is a finding.
#include <cstdint>
#include <string>

#include "fuzz/fuzz_input.h"
#include "worker/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mammosweep;
  const std::string path = fuzz::write_scratch("w.safetensors", data, size);
  try {
    worker::SafetensorsMetadata metadata;
    worker::read_safetensors(path, &metadata);
  } catch (const worker::WeightsError& e) {
    fuzz::expect_names(e, path);
  }
  return 0;
}
