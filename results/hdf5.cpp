#include "results/hdf5.h"

#include <algorithm>
#include <cstring>
#include <utility>

namespace mammosweep::results::hdf5 {
namespace {

herr_t collect_frame(unsigned n, const H5E_error2_t* err, void* data) {
  auto* out = static_cast<std::string*>(data);
  if (!out->empty()) out->append("; ");
  out->append("#" + std::to_string(n) + " " + (err->func_name ? err->func_name : "?") + " (" +
              (err->file_name ? err->file_name : "?") + ":" + std::to_string(err->line) +
              "): " + (err->desc ? err->desc : ""));
  return 0;
}

void close_id(hid_t id) {
  if (id < 0) return;
  switch (H5Iget_type(id)) {
    case H5I_FILE:
      H5Fclose(id);
      break;
    case H5I_GROUP:
      H5Gclose(id);
      break;
    case H5I_DATASET:
      H5Dclose(id);
      break;
    case H5I_ATTR:
      H5Aclose(id);
      break;
    case H5I_DATATYPE:
      H5Tclose(id);
      break;
    case H5I_DATASPACE:
      H5Sclose(id);
      break;
    case H5I_GENPROP_LST:
      H5Pclose(id);
      break;
    default:
      H5Idec_ref(id);
      break;
  }
}

Handle open_attr(hid_t obj, const std::string& name) {
  silence_error_printing();
  return Handle(H5Aopen(obj, name.c_str(), H5P_DEFAULT), "opening attribute '" + name + "'");
}

template <typename T>
void write_scalar_attr(hid_t obj, const std::string& name, hid_t file_type, hid_t mem_type,
                       const T& value) {
  silence_error_printing();
  if (attr_exists(obj, name)) check(H5Adelete(obj, name.c_str()), "replacing attribute " + name);
  Handle space(H5Screate(H5S_SCALAR), "creating scalar dataspace");
  Handle attr(H5Acreate2(obj, name.c_str(), file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT),
              "creating attribute '" + name + "'");
  check(H5Awrite(attr.get(), mem_type, &value), "writing attribute '" + name + "'");
}

template <typename T>
T read_scalar_attr(hid_t obj, const std::string& name, hid_t mem_type) {
  Handle attr = open_attr(obj, name);
  Handle space(H5Aget_space(attr.get()), "getting dataspace of attribute '" + name + "'");
  const hssize_t n = H5Sget_simple_extent_npoints(space.get());
  if (n != 1) {  // H5Aread writes every element: more than one would overrun `v`
    throw Hdf5Error("attribute '" + name + "': expected one value, found " + std::to_string(n));
  }
  T v{};
  check(H5Aread(attr.get(), mem_type, &v), "reading attribute '" + name + "'");
  return v;
}

herr_t collect_name(hid_t, const char* name, const H5L_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->emplace_back(name);
  return 0;
}

herr_t collect_attr_name(hid_t, const char* name, const H5A_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->emplace_back(name);
  return 0;
}

}  // namespace

void silence_error_printing() {
  // Per-thread default error stack; cheap and idempotent.
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

std::string error_stack_text() {
  std::string text;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collect_frame, &text);
  H5Eclear2(H5E_DEFAULT);
  return text;
}

herr_t check(herr_t status, const std::string& where) {
  if (status < 0) {
    std::string stack = error_stack_text();
    throw Hdf5Error(where + ": HDF5 error" + (stack.empty() ? "" : ": " + stack));
  }
  return status;
}

hid_t check_id(hid_t id, const std::string& where) {
  if (id < 0) {
    std::string stack = error_stack_text();
    throw Hdf5Error(where + ": HDF5 error" + (stack.empty() ? "" : ": " + stack));
  }
  return id;
}

Handle::Handle(hid_t id, const std::string& where) : id_(check_id(id, where)) {}
Handle::~Handle() { close_id(id_); }
Handle::Handle(Handle&& o) noexcept : id_(std::exchange(o.id_, H5I_INVALID_HID)) {}
Handle& Handle::operator=(Handle&& o) noexcept {
  if (this != &o) {
    close_id(id_);
    id_ = std::exchange(o.id_, H5I_INVALID_HID);
  }
  return *this;
}

void Handle::close() {
  hid_t id = std::exchange(id_, H5I_INVALID_HID);
  if (id < 0) return;
  herr_t rc = 0;
  switch (H5Iget_type(id)) {
    case H5I_FILE:
      rc = H5Fclose(id);
      break;
    default:
      close_id(id);
      break;
  }
  check(rc, "closing HDF5 file");
}

namespace {
// Only for reading format-1 files' string attributes (VarLen::allow); nothing writes it.
Handle vlen_string_type() {
  Handle t(H5Tcopy(H5T_C_S1), "copying string type");
  check(H5Tset_size(t.get(), H5T_VARIABLE), "making string type variable-length");
  check(H5Tset_cset(t.get(), H5T_CSET_UTF8), "setting UTF-8 character set");
  return t;
}
}  // namespace

Handle fixed_string_type(std::size_t size) {
  Handle t(H5Tcopy(H5T_C_S1), "copying string type");
  check(H5Tset_size(t.get(), size), "sizing fixed string type");
  check(H5Tset_strpad(t.get(), H5T_STR_NULLPAD), "setting string padding");
  check(H5Tset_cset(t.get(), H5T_CSET_UTF8), "setting UTF-8 character set");
  return t;
}

void copy_fixed(const std::string& s, char* field, std::size_t size) {
  std::memset(field, 0, size);
  std::size_t n = s.size();
  if (n > size) {
    n = size;
    // Do not cut a UTF-8 sequence: back up over continuation bytes (10xxxxxx).
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  }
  std::memcpy(field, s.data(), n);
}

std::string from_fixed(const char* field, std::size_t size) {
  std::size_t n = 0;
  while (n < size && field[n] != '\0') ++n;
  return std::string(field, n);
}

bool link_exists(hid_t loc, const std::string& name) {
  silence_error_printing();
  return check(H5Lexists(loc, name.c_str(), H5P_DEFAULT), "checking link '" + name + "'") > 0;
}

bool attr_exists(hid_t loc, const std::string& name) {
  silence_error_printing();
  return check(H5Aexists(loc, name.c_str()), "checking attribute '" + name + "'") > 0;
}

std::vector<std::string> child_names(hid_t group) {
  std::vector<std::string> names;
  check(H5Literate(group, H5_INDEX_CRT_ORDER, H5_ITER_INC, nullptr, collect_name, &names),
        "listing group members in creation order");
  return names;
}

std::vector<std::string> attr_names(hid_t obj) {
  std::vector<std::string> names;
  check(H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_INC, nullptr, collect_attr_name, &names),
        "listing attributes");
  return names;
}

namespace {
// Strings are written fixed-length, as long as the longest value (HDF5 has no zero-length
// strings), never variable-length (see VarLen in hdf5.h).
void write_fixed_strings(hid_t obj, const std::string& name,
                         const std::vector<std::string>& values, Handle space) {
  silence_error_printing();
  if (attr_exists(obj, name)) check(H5Adelete(obj, name.c_str()), "replacing attribute " + name);
  std::size_t size = 1;
  for (const auto& v : values) size = std::max(size, v.size());
  Handle type = fixed_string_type(size);
  Handle attr(H5Acreate2(obj, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
              "creating attribute '" + name + "'");
  if (values.empty()) return;
  std::vector<char> buf(size * values.size());
  for (std::size_t i = 0; i < values.size(); ++i) copy_fixed(values[i], &buf[i * size], size);
  check(H5Awrite(attr.get(), type.get(), buf.data()), "writing attribute '" + name + "'");
}
}  // namespace

void write_attr(hid_t obj, const std::string& name, const std::string& value) {
  write_fixed_strings(obj, name, {value},
                      Handle(H5Screate(H5S_SCALAR), "creating dataspace for " + name));
}

void write_attr(hid_t obj, const std::string& name, const std::vector<std::string>& values) {
  hsize_t n = values.size();
  write_fixed_strings(obj, name, values,
                      Handle(values.empty() ? H5Screate(H5S_NULL) : H5Screate_simple(1, &n, nullptr),
                             "creating dataspace for " + name));
}

void write_attr(hid_t obj, const std::string& name, std::int64_t value) {
  write_scalar_attr(obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, value);
}
void write_attr(hid_t obj, const std::string& name, std::uint64_t value) {
  write_scalar_attr(obj, name, H5T_STD_U64LE, H5T_NATIVE_UINT64, value);
}
void write_attr(hid_t obj, const std::string& name, double value) {
  write_scalar_attr(obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, value);
}

void write_attr_bool(hid_t obj, const std::string& name, bool value) {
  Handle type(H5Tenum_create(H5T_NATIVE_INT8), "creating bool enum type");
  std::int8_t f = 0, t = 1;
  check(H5Tenum_insert(type.get(), "FALSE", &f), "inserting FALSE");
  check(H5Tenum_insert(type.get(), "TRUE", &t), "inserting TRUE");
  std::int8_t v = value ? 1 : 0;
  write_scalar_attr(obj, name, type.get(), type.get(), v);
}

std::vector<std::string> read_attr_strings(hid_t obj, const std::string& name, VarLen varlen) {
  Handle attr = open_attr(obj, name);
  Handle ftype(H5Aget_type(attr.get()), "getting type of attribute '" + name + "'");
  if (H5Tget_class(ftype.get()) != H5T_STRING) {
    throw Hdf5Error("attribute '" + name + "': expected a string, found another type");
  }
  Handle space(H5Aget_space(attr.get()), "getting dataspace of attribute '" + name + "'");
  hssize_t n = H5Sget_simple_extent_npoints(space.get());
  if (n <= 0) return {};
  std::vector<std::string> out;
  if (H5Tis_variable_str(ftype.get()) > 0) {
    if (varlen == VarLen::refuse) {
      throw Hdf5Error("attribute '" + name +
                      "' is a variable-length string, which this results format never writes");
    }
    Handle mtype = vlen_string_type();
    std::vector<char*> ptrs(static_cast<std::size_t>(n), nullptr);
    check(H5Aread(attr.get(), mtype.get(), ptrs.data()), "reading attribute '" + name + "'");
    for (char* p : ptrs) out.emplace_back(p ? p : "");
    H5Dvlen_reclaim(mtype.get(), space.get(), H5P_DEFAULT, ptrs.data());
  } else {
    std::size_t size = H5Tget_size(ftype.get());
    Handle mtype = fixed_string_type(size);
    std::vector<char> buf(size * static_cast<std::size_t>(n));
    check(H5Aread(attr.get(), mtype.get(), buf.data()), "reading attribute '" + name + "'");
    for (hssize_t i = 0; i < n; ++i) out.push_back(from_fixed(buf.data() + i * size, size));
  }
  return out;
}

std::string read_attr_string(hid_t obj, const std::string& name, VarLen varlen) {
  auto v = read_attr_strings(obj, name, varlen);
  return v.empty() ? std::string() : v.front();
}

std::int64_t read_attr_int64(hid_t obj, const std::string& name) {
  return read_scalar_attr<std::int64_t>(obj, name, H5T_NATIVE_INT64);
}
std::uint64_t read_attr_uint64(hid_t obj, const std::string& name) {
  return read_scalar_attr<std::uint64_t>(obj, name, H5T_NATIVE_UINT64);
}
double read_attr_double(hid_t obj, const std::string& name) {
  return read_scalar_attr<double>(obj, name, H5T_NATIVE_DOUBLE);
}

}  // namespace mammosweep::results::hdf5
