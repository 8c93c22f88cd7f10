// What decoding DICOM in the helper process (worker/dicom_helper.h) costs against decoding in
// process: a synthetic 12-bit image of mammogram size, uncompressed and JPEG lossless (written
// with GDCM), decoded REPEATS times each way; medians in milliseconds. Also the cost of
// starting a helper (the first file after stop_idle_dicom_helpers()).
//   build/bench/dicom_decode [WIDTH HEIGHT REPEATS]       (default 2560 3328 7)
#include <gdcmImageChangeTransferSyntax.h>
#include <gdcmImageWriter.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "worker/dicom.h"
#include "worker/dicom_helper.h"

namespace {

using mammosweep::worker::Image;

std::string write_dicom(int width, int height, gdcm::TransferSyntax::TSType ts) {
  std::vector<std::uint16_t> px(static_cast<std::size_t>(width) * height);
  for (std::size_t i = 0; i < px.size(); ++i)  // a smooth ramp with texture: compresses like an image
    px[i] = static_cast<std::uint16_t>((i % width * 3 + i / width * 2 + (i * 2654435761u >> 28)) & 4095);
  gdcm::ImageWriter writer;
  gdcm::Image& im = writer.GetImage();
  im.SetNumberOfDimensions(2);
  im.SetDimension(0, static_cast<unsigned>(width));
  im.SetDimension(1, static_cast<unsigned>(height));
  im.SetPixelFormat(gdcm::PixelFormat(1, 16, 12, 11, 0));
  im.SetPhotometricInterpretation(gdcm::PhotometricInterpretation::MONOCHROME2);
  im.SetTransferSyntax(gdcm::TransferSyntax::ExplicitVRLittleEndian);
  gdcm::DataElement pixel_data(gdcm::Tag(0x7fe0, 0x0010));
  pixel_data.SetByteValue(reinterpret_cast<const char*>(px.data()),
                          static_cast<std::uint32_t>(px.size() * 2));
  im.SetDataElement(pixel_data);
  gdcm::ImageChangeTransferSyntax change;
  if (ts != gdcm::TransferSyntax::ExplicitVRLittleEndian) {
    change.SetTransferSyntax(ts);
    change.SetInput(im);
    if (!change.Change()) std::exit(1);
    writer.SetImage(change.GetOutput());
  }
  std::ostringstream out;
  writer.SetStream(out);
  if (!writer.Write()) std::exit(1);
  return out.str();
}

double median_ms(int repeats, const std::function<void()>& f) {
  std::vector<double> ms;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                     .count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  namespace w = mammosweep::worker;
  const int width = argc > 1 ? std::atoi(argv[1]) : 2560;
  const int height = argc > 2 ? std::atoi(argv[2]) : 3328;
  const int repeats = argc > 3 ? std::atoi(argv[3]) : 7;
  std::printf("| transfer syntax | file MB | in process ms | helper process ms | overhead |\n"
              "|---|---:|---:|---:|---:|\n");
  for (const auto& [label, ts] :
       {std::pair{"explicit VR little endian", gdcm::TransferSyntax::ExplicitVRLittleEndian},
        std::pair{"JPEG lossless", gdcm::TransferSyntax::JPEGLosslessProcess14_1}}) {
    const std::string file = write_dicom(width, height, ts);
    const auto* data = reinterpret_cast<const std::uint8_t*>(file.data());
    Image a, b;
    const double local = median_ms(repeats, [&] { a = w::decode_dicom_memory(data, file.size(), "x.dcm"); });
    w::decode_dicom_isolated(data, file.size(), "x.dcm");  // a started helper
    const double helper = median_ms(repeats, [&] { b = w::decode_dicom_isolated(data, file.size(), "x.dcm"); });
    if (a.pixels != b.pixels) {
      std::fprintf(stderr, "dicom_decode: the helper decoded other pixels\n");
      return 1;
    }
    std::printf("| %s | %.1f | %.1f | %.1f | %+.0f %% |\n", label, file.size() / 1e6, local,
                helper, 100.0 * (helper - local) / local);
  }
  const std::string small = write_dicom(64, 64, gdcm::TransferSyntax::ExplicitVRLittleEndian);
  const auto* data = reinterpret_cast<const std::uint8_t*>(small.data());
  const double start = median_ms(repeats, [&] {
    w::stop_idle_dicom_helpers();
    w::decode_dicom_isolated(data, small.size(), "small.dcm");
  });
  const double warm = median_ms(repeats, [&] { w::decode_dicom_isolated(data, small.size(), "small.dcm"); });
  std::printf("\n%dx%d image, median of %d. A 64x64 file: %.2f ms with a helper to start, %.2f ms "
              "with one running.\n", width, height, repeats, start, warm);
  return 0;
}
