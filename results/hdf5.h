#pragma once
// The one thin adapter over the HDF5 C API (Debian 12: HDF5 1.10.8). Everything else in
// mammosweep that touches HDF5 goes through this header:
//   - `Handle` owns one hid_t and closes it with the matching H5*close on destruction;
//   - `check()` / `check_id()` turn HDF5 return codes into `Hdf5Error`, whose message holds
//     what we tried ("where") and the HDF5 error stack (function, file:line, description);
//   - a few helpers for string and scalar attributes and for fixed-length string types.
// HDF5's automatic printing of error stacks to stderr is switched off by `Library::init()`
// (called by every factory here) because we report the stack in the exception instead.
#include <hdf5.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace mammosweep::results::hdf5 {

/// An HDF5 call failed. what(): "<where>: <HDF5 error stack, innermost last>".
class Hdf5Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Turns off HDF5's automatic error printing for this thread (idempotent).
void silence_error_printing();

/// Throws Hdf5Error(where + error stack) when `status` < 0; returns it otherwise.
herr_t check(herr_t status, const std::string& where);
/// Throws Hdf5Error when `id` < 0 (an invalid hid_t); returns it otherwise.
hid_t check_id(hid_t id, const std::string& where);
/// The current thread's HDF5 error stack as text (and clears it). Empty when none.
std::string error_stack_text();

/// Move-only owner of one HDF5 identifier (file, group, dataset, attribute, datatype,
/// dataspace or property list). Closes it with the matching function when destroyed.
/// Handles of library-predefined types (H5T_NATIVE_INT...) must not be wrapped.
class Handle {
 public:
  Handle() = default;
  /// Takes ownership of `id`; throws Hdf5Error with `where` when id < 0.
  Handle(hid_t id, const std::string& where);
  ~Handle();
  Handle(Handle&& o) noexcept;
  Handle& operator=(Handle&& o) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;

  hid_t get() const { return id_; }
  explicit operator bool() const { return id_ >= 0; }
  /// Closes now; throws Hdf5Error when the close fails (files report flush errors here).
  void close();

 private:
  hid_t id_ = H5I_INVALID_HID;
};

// ---- datatypes -------------------------------------------------------------------------

/// Fixed-length UTF-8 string type of `size` bytes, null-padded (safe to overwrite in SWMR).
Handle fixed_string_type(std::size_t size);

/// Copies `s` into a fixed-size byte field of `size` bytes, zero-padded. Longer text is cut
/// at a UTF-8 character boundary.
void copy_fixed(const std::string& s, char* field, std::size_t size);
/// The text of a fixed-size, zero-padded field.
std::string from_fixed(const char* field, std::size_t size);

// ---- links and attributes ----------------------------------------------------------------

bool link_exists(hid_t loc, const std::string& name);
bool attr_exists(hid_t loc, const std::string& name);
/// Names of the links of group `group` in creation order (the group must track it).
std::vector<std::string> child_names(hid_t group);
/// Names of all attributes on `obj`, in creation order when tracked, else by name.
std::vector<std::string> attr_names(hid_t obj);

void write_attr(hid_t obj, const std::string& name, const std::string& value);
void write_attr(hid_t obj, const std::string& name, const std::vector<std::string>& values);
void write_attr(hid_t obj, const std::string& name, std::int64_t value);
void write_attr(hid_t obj, const std::string& name, std::uint64_t value);
void write_attr(hid_t obj, const std::string& name, double value);
/// Booleans use the h5py convention: an int8 enum {FALSE = 0, TRUE = 1}.
void write_attr_bool(hid_t obj, const std::string& name, bool value);

/// Variable-length strings live in the file's global heap, which libhdf5 1.10 reads with no
/// bounds or cycle checks: a corrupt heap hangs it or makes it read out of bounds
/// (docs/reliability.md, "Fuzzing"). write_attr writes fixed-length strings only; readers
/// refuse variable-length ones unless the file predates that (results format 1).
enum class VarLen { refuse, allow };
/// Reads a scalar string attribute. Throws when absent, or variable-length and refused.
std::string read_attr_string(hid_t obj, const std::string& name, VarLen varlen = VarLen::refuse);
/// Reads a 1-D (or null-dataspace) string attribute.
std::vector<std::string> read_attr_strings(hid_t obj, const std::string& name,
                                           VarLen varlen = VarLen::refuse);
std::int64_t read_attr_int64(hid_t obj, const std::string& name);
std::uint64_t read_attr_uint64(hid_t obj, const std::string& name);
double read_attr_double(hid_t obj, const std::string& name);

}  // namespace mammosweep::results::hdf5
