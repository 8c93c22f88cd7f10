// LibTorch's include folder ships fmt 12 headers that shadow the system fmt 9 whose compiled
// library is linked; header-only mode keeps this TU self-contained whichever headers win.
#ifndef FMT_HEADER_ONLY
#define FMT_HEADER_ONLY
#endif
#include "worker/safetensors.h"

#include <ATen/ops/empty.h>
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

void write_safetensors(const std::string& path, const NamedTensors& tensors,
                       const SafetensorsMetadata& metadata) {
  if (!deploy::host_is_little_endian()) fail_file(path, "writing safetensors needs a little-endian host");
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    auto& m = header["__metadata__"];
    m = nlohmann::ordered_json::object();
    for (const auto& [k, v] : metadata) m[k] = v;
  }
  std::vector<at::Tensor> data;
  data.reserve(tensors.size());
  std::set<std::string> names;
  std::uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    if (name.empty()) fail_file(path, "cannot write a tensor with an empty name");
    if (name == "__metadata__") fail_tensor(path, name, "the name is reserved for metadata");
    if (!names.insert(name).second) fail_tensor(path, name, "name given more than once");
    if (!tensor.defined()) fail_tensor(path, name, "tensor is undefined");
    std::string dtype;
    try {
      dtype = safetensors_dtype_name(tensor.scalar_type());
    } catch (const WeightsError& e) {
      fail_tensor(path, name, e.what());
    }
    at::Tensor cpu = tensor.detach().to(at::kCPU).contiguous();
    const auto nbytes = static_cast<std::uint64_t>(cpu.nbytes());
    auto& entry = header[name];
    entry["dtype"] = dtype;
    entry["shape"] = cpu.sizes().vec();
    entry["data_offsets"] = {offset, offset + nbytes};
    offset += nbytes;
    data.push_back(std::move(cpu));
  }
  std::string text = header.dump();
  // Pad with spaces so the data buffer starts 8-byte aligned (as the reference writer does).
  text.append((8 - text.size() % 8) % 8, ' ');
  unsigned char len_bytes[8];
  std::uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) len_bytes[i] = static_cast<unsigned char>((n >> (8 * i)) & 0xffu);

  try {
    io::AtomicFile file(path);
    file.write(len_bytes, 8);
    file.write(text.data(), text.size());
    for (const auto& t : data) {
      if (t.nbytes() > 0) file.write(t.data_ptr(), t.nbytes());
    }
    file.commit();
  } catch (const io::IoError& e) {
    fail_file(path, e.what());
  }
}

}  // namespace mammosweep::worker
