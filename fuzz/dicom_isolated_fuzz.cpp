// DICOM as the product decodes it: in a helper process (worker::decode_image_memory ->
// decode_dicom_isolated). The `dicom` target fuzzes the decoder in process, where GDCM's
// assertions still end the process; each such input replayed here must give an ImageError
// naming the file (a crash of the helper included) and never end this process.
// tests/fuzz/dicom_isolated/ holds one input per GDCM crash site found so far; ctest's
// fuzz.dicom_isolated replays them, and bench/fuzz.sh replays every new `dicom` finding.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "fuzz/fuzz_input.h"
#include "worker/dicom.h"
#include "worker/image.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mammosweep;
  // Every input is made a DICOM file, so that none takes another decoder's path.
  std::vector<std::uint8_t> bytes(data, data + size);
  if (!worker::is_dicom(bytes.data(), bytes.size())) {
    if (bytes.size() < 132) bytes.resize(132);
    bytes[128] = 'D', bytes[129] = 'I', bytes[130] = 'C', bytes[131] = 'M';
  }
  try {
    const worker::Image im = worker::decode_image_memory(bytes.data(), bytes.size(), "fuzz.dcm");
    worker::check_image(im, "fuzz.dcm");
  } catch (const worker::ImageError& e) {
    fuzz::expect_names(e, "fuzz.dcm");
  }
  return 0;
}
