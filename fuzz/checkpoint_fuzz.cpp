// Checkpoint files (worker::load_checkpoint_weights into a ResNet50). Each input is tried
// three times: as a whole file (magic, size, checksum, payload), and as a payload behind a
// valid header of each format version (1: torch archive, FNV-1a; 2: safetensors, XXH3), so
// the fuzzer reaches both payload readers past the checksum. Any outcome but a load or a
// std::runtime_error naming the file is a finding.
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

#include "fuzz/fuzz_input.h"
#include "io/hash.h"
#include "worker/checkpoint.h"
#include "worker/resnet50.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mammosweep;
  static worker::ResNet50Impl model;
  const std::string whole = fuzz::write_scratch("whole.ckpt", data, size);
  auto framed = [&](const char* name, const char* magic, std::uint64_t sum) {
    std::string bytes(magic, 8);
    const std::uint64_t n = size;
    bytes.append(reinterpret_cast<const char*>(&n), 8);
    bytes.append(reinterpret_cast<const char*>(&sum), 8);
    bytes.append(reinterpret_cast<const char*>(data), size);
    return fuzz::write_scratch(name, bytes.data(), bytes.size());
  };
  const std::string v1 = framed("v1.ckpt", "MSCKPT01", io::fnv1a64(data, size));
  const std::string v2 = framed("v2.ckpt", "MSCKPT02", io::xxh3_64(data, size));
  for (const std::string& path : {whole, v1, v2}) {
    try {
      worker::load_checkpoint_weights(path, model);
    } catch (const std::runtime_error& e) {
      fuzz::expect_names(e, path);
    }
  }
  return 0;
}
