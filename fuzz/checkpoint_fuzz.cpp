// Checkpoint files (worker::load_checkpoint_weights into a ResNet50). Each input is tried
// twice: as a whole file (magic, size, checksum, payload), and as a payload behind a valid
// header, so the fuzzer reaches the archive reader past the checksum. Any outcome but a
// load or a std::runtime_error naming the file is a finding.
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

#include "fuzz/fuzz_input.h"
#include "worker/cache.h"
#include "worker/checkpoint.h"
#include "worker/resnet50.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mammosweep;
  static worker::ResNet50Impl model;
  const std::string whole = fuzz::write_scratch("whole.ckpt", data, size);
  std::string framed("MSCKPT01", 8);
  const std::uint64_t n = size, sum = worker::fnv1a64(data, size);
  framed.append(reinterpret_cast<const char*>(&n), 8);
  framed.append(reinterpret_cast<const char*>(&sum), 8);
  framed.append(reinterpret_cast<const char*>(data), size);
  const std::string payload = fuzz::write_scratch("payload.ckpt", framed.data(), framed.size());
  for (const std::string& path : {whole, payload}) {
    try {
      worker::load_checkpoint_weights(path, model);
    } catch (const std::runtime_error& e) {
      fuzz::expect_names(e, path);
    }
  }
  return 0;
}
