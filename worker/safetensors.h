// Reading and writing the safetensors format in C++ (no Python needed).
//
// Format (https://github.com/huggingface/safetensors, the "exact" rules we enforce):
//   bytes [0, 8)       N, the header length, unsigned 64-bit little-endian;
//   bytes [8, 8+N)     UTF-8 JSON object, starting with '{', possibly padded with spaces;
//                      one entry per tensor:
//                        "name": {"dtype": "F32", "shape": [d0, d1, ...],
//                                 "data_offsets": [BEGIN, END]}
//                      plus an optional "__metadata__": {"key": "value", ...} (strings only);
//   bytes [8+N, EOF)   the data buffer. Offsets count from its start, END is exclusive and
//                      END - BEGIN == numel * element size. Tensors are little-endian,
//                      row-major, contiguous. Names are unique; empty and 0-dim tensors are
//                      allowed. The tensors' byte ranges must not overlap and must together
//                      cover the whole data buffer (no gaps, no trailing bytes).
//
// Supported dtypes: BOOL, U8, I8, I16, I32, I64, F16, BF16, F32, F64. Others (U16, U32, U64,
// F8_*) are rejected with an error that lists the supported names.
//
// The container's validation is deploy/safetensors_index.h (no LibTorch; the ONNX writer
// shares it); this file turns its entries into LibTorch tensors and writes files.
// Every violation throws WeightsError whose message starts with the file path and, where a
// tensor is involved, names it:
//   "w.safetensors: tensor 'conv1.weight': data_offsets [0, 100] hold 100 bytes but
//    F32 [64, 3, 7, 7] needs 37632"
#pragma once

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "deploy/safetensors_index.h"
#include "io/aligned_bytes.h"

namespace mammosweep::worker {

/// Any problem with a weights file or with matching it to a model.
class WeightsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Tensors with their names, in a stable order (file order when read).
using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;
/// The "__metadata__" map of a safetensors file.
using SafetensorsMetadata = std::map<std::string, std::string>;

/// Hard limit on the JSON header size (the reference implementation's limit).
constexpr std::uint64_t kMaxSafetensorsHeaderBytes = deploy::kMaxSafetensorsHeaderBytes;

/// Reads every tensor of `path` into CPU tensors of the file's dtype, ordered by their
/// position in the data buffer. If `metadata` is not null it receives "__metadata__" (empty
/// when the file has none). Validates the whole header before reading any data.
/// Throws WeightsError on a missing/unreadable file or any format violation.
NamedTensors read_safetensors(const std::string& path, SafetensorsMetadata* metadata = nullptr);

/// Writes `tensors` (any device, any layout; copied to contiguous CPU) in the given order,
/// with `metadata` as "__metadata__" (omitted when empty). The header is space-padded to a
/// multiple of 8 bytes. Atomic: writes a temporary file in the same folder, fsyncs it and
/// renames it over `path`, so readers never see a partial file.
/// Throws WeightsError for duplicate or empty names, the reserved name "__metadata__",
/// undefined tensors, unsupported dtypes, or an I/O failure.
void write_safetensors(const std::string& path, const NamedTensors& tensors,
                       const SafetensorsMetadata& metadata = {});

/// The same file in memory, from byte `at` of `out` on (bytes before it are the caller's: a
/// checkpoint's header): `out` is resized to `at` + the file's size (keeping its capacity, so a
/// buffer reused for the same tensors allocates nothing) and each tensor is copied once into
/// place from its device and memory format. `name` starts the messages.
void encode_safetensors(const NamedTensors& tensors, const SafetensorsMetadata& metadata,
                        io::AlignedBytes& out, const std::string& name = "safetensors",
                        std::size_t at = 0);
/// Parses a whole file in memory, validated as read_safetensors does. The tensors are views
/// into `bytes` (copies where an element would be misaligned): valid while `bytes` lives
/// unchanged. Throws WeightsError starting with `name`.
NamedTensors decode_safetensors(const std::string& bytes, const std::string& name,
                                SafetensorsMetadata* metadata = nullptr);

/// The safetensors dtype name ("F32", "BF16", ...) of a torch scalar type; throws
/// WeightsError for a type the format (or this implementation) does not support.
std::string safetensors_dtype_name(c10::ScalarType type);

}  // namespace mammosweep::worker
