// LibTorch's include folder ships fmt 12 headers that shadow the system fmt 9 whose compiled
// library is linked; header-only mode keeps this TU self-contained whichever headers win.
#ifndef FMT_HEADER_ONLY
#define FMT_HEADER_ONLY
#endif
#include "worker/safetensors.h"

#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstring>
#include <set>

#include "deploy/safetensors_index.h"
#include "io/files.h"

namespace mammosweep::worker {
namespace {

// The LibTorch type of each dtype of deploy::safetensors_dtypes() (the container's own
// validation lives in deploy/safetensors_index.cpp).
struct DtypeInfo {
  const char* name;
  c10::ScalarType type;
};

constexpr DtypeInfo kDtypes[] = {
    {"BOOL", c10::ScalarType::Bool}, {"U8", c10::ScalarType::Byte},
    {"I8", c10::ScalarType::Char},   {"I16", c10::ScalarType::Short},
    {"I32", c10::ScalarType::Int},   {"I64", c10::ScalarType::Long},
    {"F16", c10::ScalarType::Half},  {"BF16", c10::ScalarType::BFloat16},
    {"F32", c10::ScalarType::Float}, {"F64", c10::ScalarType::Double},
};

c10::ScalarType torch_type(const std::string& path, const std::string& dtype) {
  for (const auto& d : kDtypes) {
    if (dtype == d.name) return d.type;
  }
  // deploy::safetensors_dtypes() accepted it: this table lags behind that one.
  throw WeightsError(fmt::format("{}: dtype {} has no LibTorch type here", path, dtype));
}

[[noreturn]] void fail_file(const std::string& path, const std::string& problem) {
  throw WeightsError(fmt::format("{}: {}", path, problem));
}

[[noreturn]] void fail_tensor(const std::string& path, const std::string& name,
                              const std::string& problem) {
  throw WeightsError(fmt::format("{}: tensor '{}': {}", path, name, problem));
}

}  // namespace

std::string safetensors_dtype_name(c10::ScalarType type) {
  for (const auto& d : kDtypes) {
    if (d.type == type) return d.name;
  }
  throw WeightsError(fmt::format("torch dtype {} cannot be stored in safetensors (supported: {})",
                                 c10::toString(type), deploy::safetensors_dtype_list()));
}

NamedTensors read_safetensors(const std::string& path, SafetensorsMetadata* metadata) {
  NamedTensors out;
  try {
    deploy::SafetensorsIndex index = deploy::read_safetensors_index(path);
    out.reserve(index.entries.size());
    for (const auto& e : index.entries) {
      out.emplace_back(e.name, at::empty(e.shape, at::TensorOptions().dtype(torch_type(path, e.dtype))));
    }
    deploy::read_safetensors_data(path, index, [&](std::size_t i) {
      return static_cast<char*>(out[i].second.data_ptr());
    });
    if (metadata != nullptr) *metadata = std::move(index.metadata);
  } catch (const deploy::SafetensorsError& e) {
    throw WeightsError(e.what());
  }
  return out;
}

void encode_safetensors(const NamedTensors& tensors, const SafetensorsMetadata& metadata,
                        io::AlignedBytes& out, const std::string& name, std::size_t at) {
  if (!deploy::host_is_little_endian()) fail_file(name, "writing safetensors needs a little-endian host");
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    auto& m = header["__metadata__"];
    m = nlohmann::ordered_json::object();
    for (const auto& [k, v] : metadata) m[k] = v;
  }
  std::set<std::string> names;
  std::vector<std::uint64_t> offsets;
  offsets.reserve(tensors.size());
  std::uint64_t offset = 0;
  for (const auto& [tensor_name, tensor] : tensors) {
    if (tensor_name.empty()) fail_file(name, "cannot write a tensor with an empty name");
    if (tensor_name == "__metadata__") fail_tensor(name, tensor_name, "the name is reserved for metadata");
    if (!names.insert(tensor_name).second) fail_tensor(name, tensor_name, "name given more than once");
    if (!tensor.defined()) fail_tensor(name, tensor_name, "tensor is undefined");
    std::string dtype;
    try {
      dtype = safetensors_dtype_name(tensor.scalar_type());
    } catch (const WeightsError& e) {
      fail_tensor(name, tensor_name, e.what());
    }
    const auto nbytes = static_cast<std::uint64_t>(tensor.numel() * tensor.element_size());
    auto& entry = header[tensor_name];
    entry["dtype"] = dtype;
    entry["shape"] = tensor.sizes().vec();
    entry["data_offsets"] = {offset, offset + nbytes};
    offsets.push_back(offset);
    offset += nbytes;
  }
  std::string text = header.dump();
  // Pad with spaces so the data buffer starts 8-byte aligned (as the reference writer does).
  text.append((8 - text.size() % 8) % 8, ' ');
  const std::uint64_t n = text.size(), data_start = 8 + n;
  // resize() keeps the capacity: a buffer reused for the same tensors allocates nothing.
  out.resize(at + data_start + offset);
  char* file = out.data() + at;
  for (int i = 0; i < 8; ++i) file[i] = static_cast<char>((n >> (8 * i)) & 0xffu);
  std::memcpy(file + 8, text.data(), n);
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const at::Tensor& t = tensors[i].second;
    if (t.numel() == 0) continue;
    // One copy from any device and memory format (channels_last included) into the buffer.
    at::from_blob(file + data_start + offsets[i], t.sizes(), at::TensorOptions().dtype(t.scalar_type()))
        .copy_(t.detach());
  }
}

NamedTensors decode_safetensors(const std::string& bytes, const std::string& name,
                                SafetensorsMetadata* metadata) {
  NamedTensors out;
  try {
    deploy::SafetensorsIndex index = deploy::parse_safetensors_index(name, bytes.data(), bytes.size());
    out.reserve(index.entries.size());
    for (const auto& e : index.entries) {
      // A view needs aligned elements; the reference writer aligns them, a crafted file may not.
      const auto type = torch_type(name, e.dtype);
      const std::size_t at = index.data_start + e.begin;
      const auto element = static_cast<std::size_t>(c10::elementSize(type));
      const char* data = bytes.data() + at;
      if (reinterpret_cast<std::uintptr_t>(data) % element != 0) {
        at::Tensor copy = at::empty(e.shape, at::TensorOptions().dtype(type));
        std::memcpy(copy.data_ptr(), data, e.end - e.begin);
        out.emplace_back(e.name, std::move(copy));
      } else {
        out.emplace_back(e.name, at::from_blob(const_cast<char*>(data), e.shape,
                                               at::TensorOptions().dtype(type)));
      }
    }
    if (metadata != nullptr) *metadata = std::move(index.metadata);
  } catch (const deploy::SafetensorsError& e) {
    throw WeightsError(e.what());
  }
  return out;
}

void write_safetensors(const std::string& path, const NamedTensors& tensors,
                       const SafetensorsMetadata& metadata) {
  io::AlignedBytes bytes;
  encode_safetensors(tensors, metadata, bytes, path);
  try {
    io::write_file_atomic(path, bytes.view());
  } catch (const io::IoError& e) {
    fail_file(path, e.what());
  }
}

}  // namespace mammosweep::worker
