// model.json (worker::model_info_from_json). Any outcome but a ModelInfo that survives a
// write/read round trip or a ModelDirError naming the file is a finding.
#include <cstdint>
#include <string>

#include "fuzz/fuzz_input.h"
#include "worker/model_dir.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mammosweep;
  const std::string source = "M/model.json";
  worker::ModelInfo info;
  try {
    info = worker::model_info_from_json(std::string(reinterpret_cast<const char*>(data), size),
                                        source);
  } catch (const worker::ModelDirError& e) {
    fuzz::expect_names(e, source);
    return 0;
  }
  worker::model_info_from_json(worker::model_info_to_json(info), source);  // must not throw
  return 0;
}
