// DICOM Part 10 files (worker::decode_dicom_memory, GDCM underneath). Any outcome but an
// Image that keeps its invariant or an ImageError naming the file is a finding.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fuzz/fuzz_input.h"
#include "worker/dicom.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mammosweep;
  try {
    const worker::Image im = worker::decode_dicom_memory(data, size, "fuzz.dcm");
    if (im.pixels.size() != std::size_t(im.width) * im.height * im.channels ||
        (im.channels != 1 && im.channels != 3) || (im.bit_depth != 8 && im.bit_depth != 16)) {
      std::fprintf(stderr, "decoded image breaks the Image invariant\n");
      std::abort();
    }
  } catch (const worker::ImageError& e) {
    fuzz::expect_names(e, "fuzz.dcm");
  }
  return 0;
}
