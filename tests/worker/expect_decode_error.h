// Shared by the image and DICOM decoding tests.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "worker/image.h"

namespace mammosweep::worker {

/// Expects decode_image(p) to throw an ImageError whose message names p and contains `what`.
inline void expect_decode_error(const std::string& p, const std::string& what) {
  try {
    decode_image(p);
    FAIL() << "no error for " << p;
  } catch (const ImageError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(p), std::string::npos) << msg;
    EXPECT_NE(msg.find(what), std::string::npos) << msg;
  }
}

}  // namespace mammosweep::worker
