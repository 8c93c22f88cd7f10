// The CSV manifest (worker::list_images, csv layout). The manifest sits in a folder holding
// a few empty image files, so rows can name existing files. Any outcome but records or a
// DatasetError naming the manifest is a finding.
#include <cstdint>
#include <string>

#include "fuzz/fuzz_input.h"
#include "worker/dataset.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mammosweep;
  static const bool images = [] {
    for (const char* name : {"a.png", "b.png", "c.jpg", "d.dcm", "e.pgm", "f.png"})
      fuzz::write_scratch(name, "", 0);
    return true;
  }();
  (void)images;
  worker::SourceOptions options;
  options.layout = worker::SourceOptions::Layout::csv;
  options.manifest = fuzz::write_scratch("manifest.csv", data, size);
  options.class_map = {{"0", 0}, {"1", 1}, {"benign", 0}, {"malignant", 1}};
  try {
    worker::describe(worker::list_images(options));
  } catch (const worker::DatasetError& e) {
    fuzz::expect_names(e, options.manifest);
  }
  return 0;
}
