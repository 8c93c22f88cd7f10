// results.h5 read back (results::read_store): the input is written to a file and opened
// like a sweep store. Any outcome but a snapshot or a std::runtime_error (Hdf5Error is one)
// naming the file is a finding.
#include <cstdint>
#include <stdexcept>
#include <string>

#include "fuzz/fuzz_input.h"
#include "results/store.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mammosweep;
  const std::string path = fuzz::write_scratch("results.h5", data, size);
  results::ReadOptions options;
  options.retry_for = std::chrono::milliseconds(0);
  try {
    results::read_store(path, options);
  } catch (const std::runtime_error& e) {
    fuzz::expect_names(e, path);
  }
  return 0;
}
