#pragma once
// The safetensors container without LibTorch: the validated header (every tensor's dtype,
// shape and byte range) and raw reads of tensor data. worker/safetensors.h builds LibTorch
// tensors on it; the ONNX writer (onnx_writer.h), which must not link LibTorch, reads the
// weights with it directly.
//
// Format (https://github.com/huggingface/safetensors, the "exact" rules we enforce):
//   bytes [0, 8)       N, the header length, unsigned 64-bit little-endian;
//   bytes [8, 8+N)     UTF-8 JSON object, starting with '{', possibly padded with spaces;
//                      one entry per tensor:
//                        "name": {"dtype": "F32", "shape": [d0, d1, ...],
//                                 "data_offsets": [BEGIN, END]}
//                      plus an optional "__metadata__": {"key": "value", ...} (strings only);
//   bytes [8+N, EOF)   the data buffer. Offsets count from its start, END is exclusive and
//                      END - BEGIN == numel * element size. Names are unique; the byte ranges
//                      must not overlap and must together cover the whole buffer.
// Every violation throws SafetensorsError whose message starts with the file path and, where
// a tensor is involved, names it.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace mammosweep::deploy {

class SafetensorsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Hard limit on the JSON header size (the reference implementation's limit).
constexpr std::uint64_t kMaxSafetensorsHeaderBytes = 100u * 1000u * 1000u;

/// safetensors is little-endian; reading and writing refuse other hosts.
bool host_is_little_endian();

/// The dtypes this implementation reads and writes, with their element sizes.
struct SafetensorsDtype {
  const char* name;
  std::int64_t size;
};
const std::vector<SafetensorsDtype>& safetensors_dtypes();
/// "BOOL, U8, ..., F64", for error messages.
std::string safetensors_dtype_list();

struct SafetensorsEntry {
  std::string name;
  std::string dtype;  // one of safetensors_dtypes()
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0, end = 0;  // in the data buffer
};

struct SafetensorsIndex {
  std::vector<SafetensorsEntry> entries;  // sorted by data offset
  std::map<std::string, std::string> metadata;
  std::uint64_t data_start = 0;  // file offset of the data buffer
};

/// Opens `path` and validates its whole header. Throws SafetensorsError on a missing or
/// unreadable file or any format violation.
SafetensorsIndex read_safetensors_index(const std::string& path);

/// The same for a whole file in memory (`size` bytes at `bytes`); `name` starts the messages.
SafetensorsIndex parse_safetensors_index(const std::string& name, const char* bytes,
                                         std::size_t size);
/// Reads the bytes of every entry of `index` from `path`, in index order, into
/// `destination(i)` (END - BEGIN bytes for entry i, little-endian as stored; not called for
/// empty tensors). Throws SafetensorsError when the file ends early.
void read_safetensors_data(const std::string& path, const SafetensorsIndex& index,
                           const std::function<char*(std::size_t)>& destination);

/// A float32 tensor read from a safetensors file.
struct FloatTensor {
  std::vector<std::int64_t> shape;
  std::vector<float> values;  // row-major
};

/// Every tensor of `path` by name, as float32 (F32 as stored; F64 and I64, such as
/// num_batches_tracked, converted). Other dtypes, and the errors above, throw SafetensorsError.
std::map<std::string, FloatTensor> read_safetensors_float(const std::string& path);

}  // namespace mammosweep::deploy
