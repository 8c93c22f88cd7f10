#include "results/store_schema.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstddef>
#include <stdexcept>

namespace mammosweep::results::schema {

hdf5::VarLen string_policy(hid_t file, const std::string& path) {
  const std::int64_t version = hdf5::attr_exists(file, "format_version")
                                   ? hdf5::read_attr_int64(file, "format_version")
                                   : 0;
  if (version < 1 || version > kFormatVersion) {
    throw std::runtime_error(fmt::format(
        "{}: results format version {} is not one this mammosweep reads (1 to {})", path,
        version, kFormatVersion));
  }
  return version == 1 ? hdf5::VarLen::allow : hdf5::VarLen::refuse;
}
namespace {

enum class Kind { i32, i64, f64 };
struct Field {
  std::string name;
  std::size_t offset;
  Kind kind;
};

std::vector<Field> epoch_fields() {
  std::vector<Field> f;
  f.push_back({"epoch", offsetof(EpochRow, epoch), Kind::i32});
  for (int i = 0; i < 7; ++i)
    f.push_back({std::string("train_") + kMetricNames[i],
                 offsetof(EpochRow, train) + i * sizeof(double), Kind::f64});
  for (int i = 0; i < 7; ++i)
    f.push_back({std::string("val_") + kMetricNames[i],
                 offsetof(EpochRow, val) + i * sizeof(double), Kind::f64});
  for (int i = 0; i < 4; ++i)
    f.push_back({std::string("train_") + kCountNames[i],
                 offsetof(EpochRow, train_cm) + i * sizeof(std::int64_t), Kind::i64});
  for (int i = 0; i < 4; ++i)
    f.push_back({std::string("val_") + kCountNames[i],
                 offsetof(EpochRow, val_cm) + i * sizeof(std::int64_t), Kind::i64});
  f.push_back({"lr", offsetof(EpochRow, lr), Kind::f64});
  f.push_back({"seconds", offsetof(EpochRow, seconds), Kind::f64});
  f.push_back({"images_per_second", offsetof(EpochRow, images_per_second), Kind::f64});
  return f;
}

hid_t native_type(Kind k) {
  switch (k) {
    case Kind::i32:
      return H5T_NATIVE_INT32;
    case Kind::i64:
      return H5T_NATIVE_INT64;
    case Kind::f64:
      return H5T_NATIVE_DOUBLE;
  }
  return H5T_NATIVE_DOUBLE;
}
hid_t file_type(Kind k) {
  switch (k) {
    case Kind::i32:
      return H5T_STD_I32LE;
    case Kind::i64:
      return H5T_STD_I64LE;
    case Kind::f64:
      return H5T_IEEE_F64LE;
  }
  return H5T_IEEE_F64LE;
}

Handle status_type(bool packed) {
  Handle t(H5Tenum_create(packed ? H5T_STD_I8LE : H5T_NATIVE_INT8), "creating status enum type");
  for (auto s : {TrialStatus::pending, TrialStatus::running, TrialStatus::done, TrialStatus::failed,
                 TrialStatus::stopped_early}) {
    std::int8_t v = static_cast<std::int8_t>(s);
    check(H5Tenum_insert(t.get(), to_string(s), &v), "adding status " + std::string(to_string(s)));
  }
  return t;
}

}  // namespace

/// Compound type of the epoch row: in memory (`packed` false) or on disk (packed, little
/// endian, in the documented column order).
Handle epoch_type(bool packed) {
  auto fields = epoch_fields();
  std::size_t size = 0;
  for (const auto& f : fields) size += H5Tget_size(file_type(f.kind));
  Handle t(H5Tcreate(H5T_COMPOUND, packed ? size : sizeof(EpochRow)), "creating epoch row type");
  std::size_t offset = 0;
  for (const auto& f : fields) {
    hid_t member = packed ? file_type(f.kind) : native_type(f.kind);
    check(H5Tinsert(t.get(), f.name.c_str(), packed ? offset : f.offset, member),
          "adding column " + f.name + " to the epoch row type");
    offset += H5Tget_size(member);
  }
  return t;
}

Handle state_type(bool packed) {
  Handle status = status_type(packed);
  hsize_t n = TrialState::kMaxRanks;
  Handle ranks(H5Tarray_create2(packed ? H5T_STD_I32LE : H5T_NATIVE_INT32, 1, &n),
               "creating ranks array type");
  Handle time = hdf5::fixed_string_type(TrialState::kMaxTimeBytes);
  Handle reason = hdf5::fixed_string_type(TrialState::kMaxReasonBytes);
  struct Member {
    const char* name;
    hid_t type;
    std::size_t offset;
  };
  const Member members[] = {
      {"status", status.get(), offsetof(StateRow, status)},
      {"attempts", packed ? H5T_STD_I32LE : H5T_NATIVE_INT32, offsetof(StateRow, attempts)},
      {"n_ranks", packed ? H5T_STD_I32LE : H5T_NATIVE_INT32, offsetof(StateRow, n_ranks)},
      {"ranks", ranks.get(), offsetof(StateRow, ranks)},
      {"start_time", time.get(), offsetof(StateRow, start_time)},
      {"end_time", time.get(), offsetof(StateRow, end_time)},
      {"failure_reason", reason.get(), offsetof(StateRow, failure_reason)},
  };
  std::size_t size = 0;
  for (const auto& m : members) size += H5Tget_size(m.type);
  Handle t(H5Tcreate(H5T_COMPOUND, packed ? size : sizeof(StateRow)), "creating state type");
  std::size_t offset = 0;
  for (const auto& m : members) {
    check(H5Tinsert(t.get(), m.name, packed ? offset : m.offset, m.type),
          std::string("adding field ") + m.name + " to the state type");
    offset += H5Tget_size(m.type);
  }
  return t;
}

EpochRow to_row(const EpochRecord& r) {
  EpochRow row{};
  row.epoch = r.epoch;
  auto put = [](const SplitMetrics& m, double* out, std::int64_t* cm) {
    const double v[7] = {m.loss, m.accuracy, m.precision, m.recall, m.specificity, m.f1, m.auc};
    std::copy(v, v + 7, out);
    cm[0] = m.cm.tp;
    cm[1] = m.cm.fp;
    cm[2] = m.cm.tn;
    cm[3] = m.cm.fn;
  };
  put(r.train, row.train, row.train_cm);
  put(r.val, row.val, row.val_cm);
  row.lr = r.lr;
  row.seconds = r.seconds;
  row.images_per_second = r.images_per_second;
  return row;
}

EpochRecord from_row(const EpochRow& row) {
  EpochRecord r;
  r.epoch = row.epoch;
  auto get = [](const double* v, const std::int64_t* cm, SplitMetrics& m) {
    m.loss = v[0];
    m.accuracy = v[1];
    m.precision = v[2];
    m.recall = v[3];
    m.specificity = v[4];
    m.f1 = v[5];
    m.auc = v[6];
    m.cm = ConfusionMatrix{cm[0], cm[1], cm[2], cm[3]};
  };
  get(row.train, row.train_cm, r.train);
  get(row.val, row.val_cm, r.val);
  r.lr = row.lr;
  r.seconds = row.seconds;
  r.images_per_second = row.images_per_second;
  return r;
}

StateRow to_row(const std::string& id, const TrialState& s) {
  if (s.ranks.size() > TrialState::kMaxRanks) {
    throw std::invalid_argument(fmt::format("trial '{}': {} ranks, the store holds at most {}", id,
                                            s.ranks.size(), TrialState::kMaxRanks));
  }
  StateRow row{};
  row.status = static_cast<std::int8_t>(s.status);
  row.attempts = s.attempts;
  row.n_ranks = static_cast<std::int32_t>(s.ranks.size());
  std::copy(s.ranks.begin(), s.ranks.end(), row.ranks);
  hdf5::copy_fixed(s.start_time, row.start_time, sizeof row.start_time);
  hdf5::copy_fixed(s.end_time, row.end_time, sizeof row.end_time);
  hdf5::copy_fixed(s.failure_reason, row.failure_reason, sizeof row.failure_reason);
  return row;
}

TrialState from_row(const StateRow& row) {
  TrialState s;
  s.status = static_cast<TrialStatus>(row.status);
  s.attempts = row.attempts;
  int n = std::max(0, std::min<int>(row.n_ranks, TrialState::kMaxRanks));
  s.ranks.assign(row.ranks, row.ranks + n);
  s.start_time = hdf5::from_fixed(row.start_time, sizeof row.start_time);
  s.end_time = hdf5::from_fixed(row.end_time, sizeof row.end_time);
  s.failure_reason = hdf5::from_fixed(row.failure_reason, sizeof row.failure_reason);
  return s;
}

hsize_t extent(hid_t ds, const std::string& what) {
  Handle space(H5Dget_space(ds), "getting the extent of " + what);
  hsize_t dims[H5S_MAX_RANK] = {0};
  int rank = check(H5Sget_simple_extent_dims(space.get(), dims, nullptr),
                   "reading the extent of " + what);
  if (rank > 1) {
    throw hdf5::Hdf5Error(
        fmt::format("{}: expected a 1-D dataset, found {} dimensions", what, rank));
  }
  return rank == 0 ? 1 : dims[0];
}

void read_one(hid_t ds, hid_t mem_type, void* out, const std::string& what) {
  const hsize_t n = extent(ds, what);
  if (n != 1) throw hdf5::Hdf5Error(fmt::format("{}: expected one element, found {}", what, n));
  read_rows(ds, mem_type, 1, out, what);
}

void read_rows(hid_t ds, hid_t mem_type, hsize_t rows, void* out, const std::string& what) {
  Handle file_type(H5Dget_type(ds), "getting the type of " + what);
  const std::size_t row_bytes =
      std::max(H5Tget_size(file_type.get()), H5Tget_size(mem_type));
  Handle dxpl(H5Pcreate(H5P_DATASET_XFER), "creating a transfer property list");
  // The data's size, at most the 1 MiB default (a bigger read converts in strips), at least
  // one row.
  const std::size_t buffer = std::max(row_bytes, std::min<std::size_t>(rows * row_bytes, 1 << 20));
  check(H5Pset_buffer(dxpl.get(), buffer, nullptr, nullptr),
        "sizing the conversion buffer for " + what);
  check(H5Dread(ds, mem_type, H5S_ALL, H5S_ALL, dxpl.get(), out), "reading " + what);
}

// Every row of a 1-D dataset of fixed-size strings of `bytes` bytes.
std::vector<std::string> read_string_rows(hid_t file, const char* name, std::size_t bytes) {
  Handle ds(H5Dopen2(file, name, H5P_DEFAULT), std::string("opening ") + name);
  Handle type = hdf5::fixed_string_type(bytes);
  const hsize_t n = extent(ds.get(), name);
  std::vector<char> buf(n * bytes);
  if (n > 0) {
    read_rows(ds.get(), type.get(), n, buf.data(), name);
  }
  std::vector<std::string> rows;
  for (hsize_t i = 0; i < n; ++i) rows.push_back(hdf5::from_fixed(buf.data() + i * bytes, bytes));
  return rows;
}

}  // namespace mammosweep::results::schema
