// DICOM decoding with GDCM. This header and dicom.cpp are the only product files that see GDCM.
//
// decode_dicom_memory() reads a DICOM Part 10 file ("DICM" at byte offset 128) with any
// transfer syntax GDCM decodes (uncompressed implicit/explicit VR, little/big endian, JPEG
// baseline/extended/lossless, JPEG-LS, JPEG 2000, RLE) into an `Image`:
//   - BitsAllocated 8 or 16. Values are the stored values, masked to BitsStored bits.
//     BitsStored > 8 gives bit_depth 16 with raw values (12 bits stored: 0..4095, like a
//     16-bit PGM); BitsStored <= 8 gives bit_depth 8 (fewer than 8 bits, possible only with
//     16 allocated, are stretched to 0..255 like a PGM with maxval < 255). HighBit must be
//     BitsStored - 1.
//   - Signed pixels (PixelRepresentation 1) are shifted to unsigned by adding
//     2^(BitsStored-1): -2048..2047 becomes 0..4095. Order and distances are kept, and the
//     same stored value always maps to the same output value (no per-image offset).
//   - MONOCHROME1 (minimum = white) is inverted, value' = (2^BitsStored - 1) - value after the
//     signed shift, so dense tissue is bright as in MONOCHROME2. A negative Rescale Slope
//     also reverses brightness, so the inversion is applied when exactly one of the two holds.
//     Rescale slope/intercept are otherwise not applied: a positive linear rescale does not
//     change the min-max or percentile window of preprocess(). VOI LUTs and the file's
//     Window Center/Width are ignored too; the window comes from PreprocessOptions.
//   - RGB (planar configuration 0 or 1; output interleaved), YBR_RCT/YBR_ICT (the JPEG 2000
//     decoder undoes the colour transform) and 8-bit YBR_FULL/YBR_FULL_422 (converted to RGB
//     with the DICOM PS3.3 C.7.6.3.1.2 equations) give 3 channels.
//   - Multi-frame images (NumberOfFrames > 1, e.g. tomosynthesis) are rejected: picking one
//     frame of a volume would silently train on an arbitrary slice.
// Everything else throws ImageError naming the file and the problem: not DICOM, truncated or
// corrupt structure, no pixel data, PALETTE COLOR or another photometric interpretation,
// BitsAllocated other than 8/16, a deflated data set. The file's structure is checked before
// GDCM parses it, because Debian's GDCM is built with assertions that abort the process on
// truncated input (and, as fuzzing found, on a bad RLE header, a meta group length that
// disagrees with its elements, and more). Assertions deeper in GDCM's codecs remain, so the
// product calls this function only inside a helper process (worker/dicom_helper.h), where a
// crash becomes an ImageError for that file; tests and the fuzz target call it directly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "worker/image.h"

namespace mammosweep::worker {

/// True when `data` looks like a DICOM Part 10 file: the 4 bytes "DICM" at offset 128.
bool is_dicom(const std::uint8_t* data, std::size_t size);

/// Decodes a DICOM Part 10 file held in memory as described above; `name` is used in error
/// messages. Safe to call from several threads at once (each call has its own GDCM reader).
Image decode_dicom_memory(const std::uint8_t* data, std::size_t size, const std::string& name);

}  // namespace mammosweep::worker
