#include "deploy/safetensors_index.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

namespace mammosweep::deploy {
namespace {

const SafetensorsDtype* find_dtype(const std::string& name) {
  for (const auto& d : safetensors_dtypes()) {
    if (name == d.name) return &d;
  }
  return nullptr;
}

[[noreturn]] void fail_file(const std::string& path, const std::string& problem) {
  throw SafetensorsError(fmt::format("{}: {}", path, problem));
}

[[noreturn]] void fail_tensor(const std::string& path, const std::string& name,
                              const std::string& problem) {
  throw SafetensorsError(fmt::format("{}: tensor '{}': {}", path, name, problem));
}

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

SafetensorsEntry parse_entry(const std::string& path, const std::string& name, const nlohmann::json& v,
                  std::uint64_t buffer_size) {
  SafetensorsEntry e;
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
  e.dtype = dtype.get<std::string>();
  const SafetensorsDtype* info = find_dtype(e.dtype);
  if (info == nullptr) {
    fail_tensor(path, name,
                fmt::format("unknown or unsupported dtype '{}' (supported: {})",
                            dtype.get<std::string>(), safetensors_dtype_list()));
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
    nbytes = info->size;
    for (const auto dim : e.shape) {
      if (__builtin_mul_overflow(nbytes, dim, &nbytes)) {
        fail_tensor(path, name,
                    fmt::format("shape {} of {} is too large (more than 2^63 bytes)",
                                shape_text(e.shape), e.dtype));
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
                            end - begin, e.dtype, shape_text(e.shape), nbytes));
  }
  return e;
}

// Parses and validates the JSON header. Entries come back sorted by data offset.
std::vector<SafetensorsEntry> parse_header(const std::string& path, const std::string& header,
                                std::uint64_t buffer_size, std::map<std::string, std::string>* metadata) {
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

  std::vector<SafetensorsEntry> entries;
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

  std::stable_sort(entries.begin(), entries.end(), [](const SafetensorsEntry& a, const SafetensorsEntry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  std::uint64_t expected = 0;
  const SafetensorsEntry* previous = nullptr;
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

// The header length of a file of `file_size` bytes whose first 8 bytes are `len_bytes`,
// checked against the format's limits and the file's size.
std::uint64_t checked_header_length(const std::string& path, const unsigned char* len_bytes,
                                    std::uint64_t file_size) {
  if (file_size < 8) {
    fail_file(path, fmt::format("file has {} bytes, too short for the 8-byte header length",
                                file_size));
  }
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
  return header_len;
}

std::ifstream open_file(const std::string& path) {
  if (!host_is_little_endian()) fail_file(path, "reading safetensors needs a little-endian host");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail_file(path, fmt::format("cannot open for reading: {}", std::strerror(errno)));
  return in;
}

}  // namespace

bool host_is_little_endian() {
  const std::uint16_t probe = 1;
  unsigned char first = 0;
  std::memcpy(&first, &probe, 1);
  return first == 1;
}

const std::vector<SafetensorsDtype>& safetensors_dtypes() {
  static const std::vector<SafetensorsDtype> dtypes{
      {"BOOL", 1}, {"U8", 1}, {"I8", 1},   {"I16", 2}, {"I32", 4},
      {"I64", 8},  {"F16", 2}, {"BF16", 2}, {"F32", 4}, {"F64", 8}};
  return dtypes;
}

std::string safetensors_dtype_list() {
  std::string out;
  for (const auto& d : safetensors_dtypes()) {
    if (!out.empty()) out += ", ";
    out += d.name;
  }
  return out;
}

SafetensorsIndex read_safetensors_index(const std::string& path) {
  std::ifstream in = open_file(path);
  in.seekg(0, std::ios::end);
  const auto file_size = static_cast<std::uint64_t>(in.tellg());
  in.seekg(0, std::ios::beg);
  unsigned char len_bytes[8] = {};
  if (file_size >= 8) in.read(reinterpret_cast<char*>(len_bytes), 8);
  const std::uint64_t header_len = checked_header_length(path, len_bytes, file_size);
  std::string header(header_len, '\0');
  in.read(header.data(), static_cast<std::streamsize>(header_len));
  if (!in) fail_file(path, "file ended while reading the header");
  SafetensorsIndex index;
  index.data_start = 8 + header_len;
  index.entries = parse_header(path, header, file_size - index.data_start, &index.metadata);
  return index;
}

SafetensorsIndex parse_safetensors_index(const std::string& name, const char* bytes,
                                         std::size_t size) {
  if (!host_is_little_endian()) fail_file(name, "reading safetensors needs a little-endian host");
  unsigned char len_bytes[8] = {};
  if (size >= 8) std::memcpy(len_bytes, bytes, 8);
  const std::uint64_t header_len = checked_header_length(name, len_bytes, size);
  SafetensorsIndex index;
  index.data_start = 8 + header_len;
  index.entries = parse_header(name, std::string(bytes + 8, header_len), size - index.data_start,
                               &index.metadata);
  return index;
}

void read_safetensors_data(const std::string& path, const SafetensorsIndex& index,
                           const std::function<char*(std::size_t)>& destination) {
  std::ifstream in = open_file(path);
  for (std::size_t i = 0; i < index.entries.size(); ++i) {
    const SafetensorsEntry& e = index.entries[i];
    if (e.end == e.begin) continue;
    in.seekg(static_cast<std::streamoff>(index.data_start + e.begin));
    in.read(destination(i), static_cast<std::streamsize>(e.end - e.begin));
    if (!in) fail_tensor(path, e.name, "file ended while reading the tensor's data");
  }
}

std::map<std::string, FloatTensor> read_safetensors_float(const std::string& path) {
  const SafetensorsIndex index = read_safetensors_index(path);
  std::vector<std::vector<char>> data(index.entries.size());
  read_safetensors_data(path, index, [&](std::size_t i) {
    data[i].resize(index.entries[i].end - index.entries[i].begin);
    return data[i].data();
  });
  std::map<std::string, FloatTensor> out;
  for (std::size_t i = 0; i < index.entries.size(); ++i) {
    const SafetensorsEntry& e = index.entries[i];
    const std::vector<char>& b = data[i];
    FloatTensor t;
    t.shape = e.shape;
    if (e.dtype == "F32") {
      t.values.resize(b.size() / 4);
      std::memcpy(t.values.data(), b.data(), b.size());
    } else if (e.dtype == "F64") {
      std::vector<double> d(b.size() / 8);
      std::memcpy(d.data(), b.data(), b.size());
      t.values.assign(d.begin(), d.end());
    } else if (e.dtype == "I64") {
      std::vector<std::int64_t> d(b.size() / 8);
      std::memcpy(d.data(), b.data(), b.size());
      t.values.assign(d.begin(), d.end());
    } else {
      fail_tensor(path, e.name, fmt::format("dtype {} is not read as float (F32, F64, I64 are)",
                                            e.dtype));
    }
    out.emplace(e.name, std::move(t));
  }
  return out;
}

}  // namespace mammosweep::deploy
