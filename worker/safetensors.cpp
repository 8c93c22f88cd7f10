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

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>

#include "io/files.h"

namespace mammosweep::worker {
namespace {

struct DtypeInfo {
  const char* name;
  c10::ScalarType type;
  std::int64_t size;
};

constexpr DtypeInfo kDtypes[] = {
    {"BOOL", c10::ScalarType::Bool, 1},      {"U8", c10::ScalarType::Byte, 1},
    {"I8", c10::ScalarType::Char, 1},        {"I16", c10::ScalarType::Short, 2},
    {"I32", c10::ScalarType::Int, 4},        {"I64", c10::ScalarType::Long, 8},
    {"F16", c10::ScalarType::Half, 2},       {"BF16", c10::ScalarType::BFloat16, 2},
    {"F32", c10::ScalarType::Float, 4},      {"F64", c10::ScalarType::Double, 8},
};

const DtypeInfo* find_dtype(const std::string& name) {
  for (const auto& d : kDtypes) {
    if (name == d.name) return &d;
  }
  return nullptr;
}

std::string supported_dtype_list() {
  std::string out;
  for (const auto& d : kDtypes) {
    if (!out.empty()) out += ", ";
    out += d.name;
  }
  return out;
}

bool host_is_little_endian() {
  const std::uint16_t probe = 1;
  unsigned char first = 0;
  std::memcpy(&first, &probe, 1);
  return first == 1;
}

[[noreturn]] void fail_file(const std::string& path, const std::string& problem) {
  throw WeightsError(fmt::format("{}: {}", path, problem));
}

[[noreturn]] void fail_tensor(const std::string& path, const std::string& name,
                              const std::string& problem) {
  throw WeightsError(fmt::format("{}: tensor '{}': {}", path, name, problem));
}

// One validated header entry.
struct Entry {
  std::string name;
  const DtypeInfo* dtype = nullptr;
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
};

std::string shape_text(const std::vector<std::int64_t>& shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

// Reads a JSON value that must be a non-negative integer fitting in int64.
bool json_to_nonnegative(const nlohmann::json& v, std::int64_t* out, std::string* why) {
  if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      *why = fmt::format("{} is larger than 2^63-1", u);
      return false;
    }
    *out = static_cast<std::int64_t>(u);
    return true;
  }
  if (v.is_number_integer()) {
    const auto s = v.get<std::int64_t>();
    if (s < 0) {
      *why = fmt::format("{} is negative", s);
      return false;
    }
    *out = s;
    return true;
  }
  *why = fmt::format("{} is not an integer", v.dump());
  return false;
}

Entry parse_entry(const std::string& path, const std::string& name, const nlohmann::json& v,
                  std::uint64_t buffer_size) {
  Entry e;
  e.name = name;
  if (!v.is_object()) {
    fail_tensor(path, name, fmt::format("entry must be a JSON object, got {}", v.dump()));
  }
  for (const auto& item : v.items()) {
    if (item.key() != "dtype" && item.key() != "shape" && item.key() != "data_offsets") {
      fail_tensor(path, name,
                  fmt::format("unknown field '{}' (expected dtype, shape, data_offsets)",
                              item.key()));
    }
  }
  for (const char* field : {"dtype", "shape", "data_offsets"}) {
    if (!v.contains(field)) fail_tensor(path, name, fmt::format("missing field '{}'", field));
  }

  const auto& dtype = v.at("dtype");
  if (!dtype.is_string()) {
    fail_tensor(path, name, fmt::format("dtype must be a string, got {}", dtype.dump()));
  }
  e.dtype = find_dtype(dtype.get<std::string>());
  if (e.dtype == nullptr) {
    fail_tensor(path, name,
                fmt::format("unknown or unsupported dtype '{}' (supported: {})",
                            dtype.get<std::string>(), supported_dtype_list()));
  }

  const auto& shape = v.at("shape");
  if (!shape.is_array()) {
    fail_tensor(path, name, fmt::format("shape must be a JSON array, got {}", shape.dump()));
  }
  for (std::size_t i = 0; i < shape.size(); ++i) {
    std::int64_t dim = 0;
    std::string why;
    if (!json_to_nonnegative(shape[i], &dim, &why)) {
      fail_tensor(path, name,
                  fmt::format("shape {} is invalid: dimension {} is {}", shape.dump(), i, why));
    }
    e.shape.push_back(dim);
  }
  // An empty dimension makes the tensor empty whatever the other dimensions are.
  std::int64_t nbytes = 0;
  if (std::find(e.shape.begin(), e.shape.end(), 0) == e.shape.end()) {
    nbytes = e.dtype->size;
    for (const auto dim : e.shape) {
      if (__builtin_mul_overflow(nbytes, dim, &nbytes)) {
        fail_tensor(path, name,
                    fmt::format("shape {} of {} is too large (more than 2^63 bytes)",
                                shape_text(e.shape), e.dtype->name));
      }
    }
  }

  const auto& offsets = v.at("data_offsets");
  if (!offsets.is_array() || offsets.size() != 2) {
    fail_tensor(path, name,
                fmt::format("data_offsets must be an array [BEGIN, END], got {}",
                            offsets.dump()));
  }
  std::int64_t begin = 0;
  std::int64_t end = 0;
  std::string why;
  if (!json_to_nonnegative(offsets[0], &begin, &why) ||
      !json_to_nonnegative(offsets[1], &end, &why)) {
    fail_tensor(path, name, fmt::format("data_offsets {} are invalid: {}", offsets.dump(), why));
  }
  if (begin > end) {
    fail_tensor(path, name, fmt::format("data_offsets [{}, {}] end before they begin", begin, end));
  }
  e.begin = static_cast<std::uint64_t>(begin);
  e.end = static_cast<std::uint64_t>(end);
  if (e.end > buffer_size) {
    fail_tensor(path, name,
                fmt::format("data_offsets [{}, {}] lie outside the data buffer of {} bytes",
                            begin, end, buffer_size));
  }
  if (e.end - e.begin != static_cast<std::uint64_t>(nbytes)) {
    fail_tensor(path, name,
                fmt::format("data_offsets [{}, {}] hold {} bytes but {} {} needs {}", begin, end,
                            end - begin, e.dtype->name, shape_text(e.shape), nbytes));
  }
  return e;
}

// Parses and validates the JSON header. Entries come back sorted by data offset.
std::vector<Entry> parse_header(const std::string& path, const std::string& header,
                                std::uint64_t buffer_size, SafetensorsMetadata* metadata) {
  if (header.empty() || header.front() != '{') {
    fail_file(path, "header does not start with '{' (not a safetensors file?)");
  }
  // nlohmann::json keeps the last of repeated keys silently: catch repeats while parsing.
  std::set<std::string> seen;
  std::string duplicate;
  const nlohmann::json::parser_callback_t on_event =
      [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
        if (event == nlohmann::json::parse_event_t::key && depth == 1 && duplicate.empty()) {
          const auto key = parsed.get<std::string>();
          if (!seen.insert(key).second) duplicate = key;
        }
        return true;
      };
  nlohmann::json root;
  try {
    root = nlohmann::json::parse(header.begin(), header.end(), on_event);
  } catch (const nlohmann::json::exception& e) {
    fail_file(path, fmt::format("header is not valid JSON: {}", e.what()));
  }
  if (!duplicate.empty()) fail_tensor(path, duplicate, "name appears more than once in the header");
  if (!root.is_object()) fail_file(path, "header must be a JSON object");

  std::vector<Entry> entries;
  for (const auto& item : root.items()) {
    if (item.key() == "__metadata__") {
      const auto& m = item.value();
      if (!m.is_object()) {
        fail_file(path, fmt::format("__metadata__ must be an object of strings, got {}", m.dump()));
      }
      for (const auto& kv : m.items()) {
        if (!kv.value().is_string()) {
          fail_file(path, fmt::format("__metadata__ entry '{}' must be a string, got {}",
                                      kv.key(), kv.value().dump()));
        }
        if (metadata != nullptr) (*metadata)[kv.key()] = kv.value().get<std::string>();
      }
      continue;
    }
    entries.push_back(parse_entry(path, item.key(), item.value(), buffer_size));
  }

  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  std::uint64_t expected = 0;
  const Entry* previous = nullptr;
  for (const auto& e : entries) {
    if (e.begin < expected) {
      fail_tensor(path, e.name,
                  fmt::format("data_offsets [{}, {}] overlap tensor '{}' at [{}, {}]", e.begin,
                              e.end, previous->name, previous->begin, previous->end));
    }
    if (e.begin > expected) {
      fail_tensor(path, e.name,
                  fmt::format("data_offsets [{}, {}] leave a gap: bytes [{}, {}) of the data "
                              "buffer belong to no tensor",
                              e.begin, e.end, expected, e.begin));
    }
    expected = e.end;
    previous = &e;
  }
  if (expected != buffer_size) {
    fail_file(path, fmt::format("data buffer has {} bytes but the tensors cover only {}",
                                buffer_size, expected));
  }
  return entries;
}

std::uint64_t decode_u64_le(const unsigned char* b) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | b[i];
  return v;
}

}  // namespace

std::string safetensors_dtype_name(c10::ScalarType type) {
  for (const auto& d : kDtypes) {
    if (d.type == type) return d.name;
  }
  throw WeightsError(fmt::format("torch dtype {} cannot be stored in safetensors (supported: {})",
                                 c10::toString(type), supported_dtype_list()));
}

NamedTensors read_safetensors(const std::string& path, SafetensorsMetadata* metadata) {
  if (!host_is_little_endian()) fail_file(path, "reading safetensors needs a little-endian host");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail_file(path, fmt::format("cannot open for reading: {}", std::strerror(errno)));
  in.seekg(0, std::ios::end);
  const auto file_size = static_cast<std::uint64_t>(in.tellg());
  in.seekg(0, std::ios::beg);
  if (file_size < 8) {
    fail_file(path, fmt::format("file has {} bytes, too short for the 8-byte header length",
                                file_size));
  }
  unsigned char len_bytes[8];
  in.read(reinterpret_cast<char*>(len_bytes), 8);
  const std::uint64_t header_len = decode_u64_le(len_bytes);
  if (header_len < 2) {
    fail_file(path, fmt::format("header length {} is below the minimum of 2 ('{{}}')", header_len));
  }
  if (header_len > kMaxSafetensorsHeaderBytes) {
    fail_file(path, fmt::format("header length {} exceeds the limit of {} bytes", header_len,
                                kMaxSafetensorsHeaderBytes));
  }
  if (header_len > file_size - 8) {
    fail_file(path, fmt::format("header length {} is larger than the {} bytes after the length "
                                "field (file truncated?)",
                                header_len, file_size - 8));
  }
  std::string header(header_len, '\0');
  in.read(header.data(), static_cast<std::streamsize>(header_len));
  if (!in) fail_file(path, "file ended while reading the header");

  const std::uint64_t data_start = 8 + header_len;
  SafetensorsMetadata parsed_metadata;
  const auto entries = parse_header(path, header, file_size - data_start, &parsed_metadata);

  NamedTensors out;
  out.reserve(entries.size());
  for (const auto& e : entries) {
    at::Tensor t = at::empty(e.shape, at::TensorOptions().dtype(e.dtype->type));
    const auto nbytes = e.end - e.begin;
    if (nbytes > 0) {
      in.seekg(static_cast<std::streamoff>(data_start + e.begin));
      in.read(static_cast<char*>(t.data_ptr()), static_cast<std::streamsize>(nbytes));
      if (!in) fail_tensor(path, e.name, "file ended while reading the tensor's data");
    }
    out.emplace_back(e.name, std::move(t));
  }
  if (metadata != nullptr) *metadata = std::move(parsed_metadata);
  return out;
}

void write_safetensors(const std::string& path, const NamedTensors& tensors,
                       const SafetensorsMetadata& metadata) {
  if (!host_is_little_endian()) fail_file(path, "writing safetensors needs a little-endian host");
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
