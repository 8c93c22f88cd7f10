#include "results/store.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <thread>
#include <utility>

#include "results/hdf5.h"
#include "sweeps/params.h"

namespace mammosweep::results {
namespace {

using hdf5::check;
using hdf5::Handle;

constexpr std::int64_t kFormatVersion = 1;
constexpr const char* kFormatName = "mammosweep-results";
constexpr std::size_t kJobIdBytes = 64;
constexpr hsize_t kEpochChunk = 32;
constexpr hsize_t kPredictionChunk = 4096;
constexpr hsize_t kJobChunk = 16;
constexpr hsize_t kEvaluationChunk = 4;
constexpr const char* kEvaluations = "evaluations";
constexpr unsigned kSwmrReadAttempts = 5;  // see read_once

// ---- row layouts -------------------------------------------------------------------------

constexpr const char* kMetricNames[] = {"loss",        "accuracy", "precision", "recall",
                                        "specificity", "f1",       "auc"};
constexpr const char* kCountNames[] = {"tp", "fp", "tn", "fn"};

/// In-memory image of one `epochs` row.
struct EpochRow {
  std::int32_t epoch;
  double train[7];
  double val[7];
  std::int64_t train_cm[4];
  std::int64_t val_cm[4];
  double lr, seconds, images_per_second;
};

/// In-memory image of a trial's `state` value.
struct StateRow {
  std::int8_t status;
  std::int32_t attempts;
  std::int32_t n_ranks;
  std::int32_t ranks[TrialState::kMaxRanks];
  char start_time[TrialState::kMaxTimeBytes];
  char end_time[TrialState::kMaxTimeBytes];
  char failure_reason[TrialState::kMaxReasonBytes];
};

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

Handle status_type(bool packed) {
  Handle t(H5Tenum_create(packed ? H5T_STD_I8LE : H5T_NATIVE_INT8), "creating status enum type");
  for (auto s : {TrialStatus::pending, TrialStatus::running, TrialStatus::done, TrialStatus::failed,
                 TrialStatus::stopped_early}) {
    std::int8_t v = static_cast<std::int8_t>(s);
    check(H5Tenum_insert(t.get(), to_string(s), &v), "adding status " + std::string(to_string(s)));
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

// ---- small helpers -----------------------------------------------------------------------

std::string now_utc() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

std::string errno_text() { return std::strerror(errno); }

void fsync_path(const std::string& path, bool directory) {
  int fd = ::open(path.c_str(), directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) throw std::runtime_error("cannot open " + path + " to sync it: " + errno_text());
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0 && !directory)
    throw std::runtime_error("fsync of " + path + " failed: " + errno_text());
}

std::string parent_dir(const std::string& path) {
  auto pos = path.find_last_of('/');
  if (pos == std::string::npos) return ".";
  if (pos == 0) return "/";
  return path.substr(0, pos);
}

/// Makes `tmp` durable and atomically replaces `path` with it.
void publish(const std::string& tmp, const std::string& path) {
  fsync_path(tmp, false);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    throw std::runtime_error("cannot rename " + tmp + " to " + path + ": " + errno_text());
  }
  fsync_path(parent_dir(path), true);
}

void copy_file(const std::string& from, const std::string& to) {
  std::ifstream in(from, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + from + " to copy it");
  std::ofstream out(to, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error("cannot create " + to);
  out << in.rdbuf();
  out.flush();
  if (!out) throw std::runtime_error("copying " + from + " to " + to + " failed");
}

std::string tmp_path(const std::string& path) {
  return fmt::format("{}.tmp-{}", path, static_cast<long>(::getpid()));
}

/// Exclusive advisory lock on "<path>.lock" for the writer's lifetime. The kernel drops it
/// when the process dies, so a crashed writer never leaves a stale lock.
class WriterLock {
 public:
  WriterLock() = default;
  explicit WriterLock(const std::string& path) : lock_path_(path + ".lock") {
    fd_ = ::open(lock_path_.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
    if (fd_ < 0)
      throw std::runtime_error("cannot create writer lock " + lock_path_ + ": " + errno_text());
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd_);
      fd_ = -1;
      throw std::runtime_error("another process is writing " + path + " (lock " + lock_path_ +
                               " is held); a store has exactly one writer");
    }
  }
  ~WriterLock() { release(); }
  WriterLock(WriterLock&& o) noexcept
      : lock_path_(std::move(o.lock_path_)), fd_(std::exchange(o.fd_, -1)) {}
  WriterLock& operator=(WriterLock&& o) noexcept {
    if (this != &o) {
      release();
      lock_path_ = std::move(o.lock_path_);
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  void release() {
    if (fd_ >= 0) ::close(fd_);  // closing the only descriptor drops the flock
    fd_ = -1;
  }

 private:
  std::string lock_path_;
  int fd_ = -1;
};

Handle make_fapl(bool clear_status_flags) {
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), "creating file access property list");
  check(H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_LATEST, H5F_LIBVER_LATEST),
        "requesting the latest file format (needed for SWMR)");
  if (clear_status_flags) {
    // What `h5clear -s` does: a library-defined property of the file access class that
    // clears the superblock's "open for writing" marks a crashed writer leaves behind.
    hbool_t clear = 1;
    check(H5Pset(fapl.get(), "clear_status_flags", &clear), "asking HDF5 to clear status flags");
  }
  return fapl;
}

void flush(hid_t file, const std::string& path) {
  check(H5Fflush(file, H5F_SCOPE_GLOBAL), "flushing " + path);
}

void validate_trial_id(const std::string& id) {
  if (id.empty() || id == "." || id == ".." || id.find('/') != std::string::npos) {
    throw std::invalid_argument(
        "trial id '" + id +
        "' cannot name an HDF5 group (expected non-empty, no '/', not . or ..)");
  }
}

nlohmann::json parse_params(const TrialInit& t) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(t.params_json.empty() ? std::string("{}") : t.params_json);
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument("trial '" + t.id + "': params_json is not valid JSON: " + e.what());
  }
  if (!j.is_object()) {
    throw std::invalid_argument("trial '" + t.id + "': params_json must be a JSON object, got " +
                                std::string(j.type_name()));
  }
  return j;
}

/// Visits the leaves of a JSON object as dotted paths ("augmentation.hflip").
template <typename F>
void flatten(const nlohmann::json& j, const std::string& prefix, F&& visit) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    std::string key = prefix.empty() ? it.key() : prefix + "." + it.key();
    if (it->is_object() && !it->empty()) {
      flatten(*it, key, visit);
    } else {
      visit(key, *it);
    }
  }
}

std::string display_text(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return sweeps::to_text(sweeps::Value{v.get<bool>()});
  if (v.is_number_unsigned()) return std::to_string(v.get<std::uint64_t>());
  if (v.is_number_integer()) return sweeps::to_text(sweeps::Value{v.get<std::int64_t>()});
  if (v.is_number_float()) return sweeps::to_text(sweeps::Value{v.get<double>()});
  return v.dump();
}

Handle chunked_dcpl(hsize_t chunk) {
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), "creating dataset creation property list");
  check(H5Pset_chunk(dcpl.get(), 1, &chunk), "setting chunk size");
  return dcpl;
}

Handle create_extendible(hid_t loc, const std::string& name, hid_t type, hsize_t chunk) {
  hsize_t dims = 0, maxdims = H5S_UNLIMITED;
  Handle space(H5Screate_simple(1, &dims, &maxdims), "creating dataspace for " + name);
  Handle dcpl = chunked_dcpl(chunk);
  return Handle(
      H5Dcreate2(loc, name.c_str(), type, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
      "creating dataset " + name);
}

// One fixed-size string row per `mammosweep evaluate` run (a JSON object).
Handle create_evaluations(hid_t file) {
  Handle type = hdf5::fixed_string_type(kMaxEvaluationBytes);
  return create_extendible(file, kEvaluations, type.get(), kEvaluationChunk);
}

Handle create_scalar(hid_t loc, const std::string& name, hid_t file_type_id, hid_t mem_type,
                     const void* value) {
  Handle space(H5Screate(H5S_SCALAR), "creating scalar dataspace");
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), "creating dataset creation property list");
  check(H5Pset_alloc_time(dcpl.get(), H5D_ALLOC_TIME_EARLY), "requesting early allocation");
  Handle ds(H5Dcreate2(loc, name.c_str(), file_type_id, space.get(), H5P_DEFAULT, dcpl.get(),
                       H5P_DEFAULT),
            "creating dataset " + name);
  check(H5Dwrite(ds.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, value),
        "writing dataset " + name);
  return ds;
}

/// Number of rows of a 1-D (or scalar) dataset. A file whose dataset has another shape is
/// refused before anything is read into a buffer sized by this count.
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

/// Reads the one element of a scalar (or one-row) dataset into `out`.
void read_one(hid_t ds, hid_t mem_type, void* out, const std::string& what) {
  const hsize_t n = extent(ds, what);
  if (n != 1) throw hdf5::Hdf5Error(fmt::format("{}: expected one element, found {}", what, n));
  check(H5Dread(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out), "reading " + what);
}

/// Writes `count` elements at [start, start+count) of 1-D dataset `ds` (already sized).
void write_rows(hid_t ds, hid_t mem_type, hsize_t start, hsize_t count, const void* data,
                const std::string& what) {
  if (count == 0) return;
  Handle fspace(H5Dget_space(ds), "getting dataspace of " + what);
  check(H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, &start, nullptr, &count, nullptr),
        "selecting rows of " + what);
  Handle mspace(H5Screate_simple(1, &count, nullptr), "creating memory dataspace");
  check(H5Dwrite(ds, mem_type, mspace.get(), fspace.get(), H5P_DEFAULT, data), "writing " + what);
}

template <typename T>
std::vector<T> read_all(hid_t ds, hid_t mem_type, const std::string& what) {
  std::vector<T> out(static_cast<std::size_t>(extent(ds, what)));
  if (!out.empty()) {
    check(H5Dread(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()), "reading " + what);
  }
  return out;
}

/// Length of the complete prefix of an epochs table: rows whose epoch column is 1, 2, ...
/// Rows after it are left over from a crash between extending and writing.
std::size_t complete_prefix(const std::vector<EpochRow>& rows) {
  std::size_t n = 0;
  while (n < rows.size() && rows[n].epoch == static_cast<std::int32_t>(n + 1)) ++n;
  return n;
}

// ---- building objects (before SWMR mode) -------------------------------------------------

void write_root(hid_t file, const SweepInfo& info) {
  hdf5::write_attr(file, "format", std::string(kFormatName));
  hdf5::write_attr(file, "format_version", kFormatVersion);
  hdf5::write_attr(file, "tool_version", info.tool_version);
  hdf5::write_attr(file, "spec_yaml", info.spec_yaml);
  hdf5::write_attr(file, "spec_overrides", info.spec_overrides);
  hdf5::write_attr(file, "spec_effective_yaml", info.spec_effective_yaml);
  hdf5::write_attr(file, "spec_hash", info.spec_hash);
  hdf5::write_attr(file, "created", info.created.empty() ? now_utc() : info.created);
  hdf5::write_attr(file, "libtorch_version", info.libtorch_version);
  hdf5::write_attr(file, "cuda_version", info.cuda_version);
  hdf5::write_attr(file, "nccl_version", info.nccl_version);
  hdf5::write_attr(file, "mpi_version", info.mpi_version);
  hdf5::write_attr(file, "hostnames", info.hostnames);
  hdf5::write_attr(file, "data_manifest_hash", info.data_manifest_hash);
  hdf5::write_attr(file, "leakage_report_json", info.leakage_report_json);

  Handle jtype = hdf5::fixed_string_type(kJobIdBytes);
  Handle jobs = create_extendible(file, "slurm_job_ids", jtype.get(), kJobChunk);
  create_evaluations(file);
  hsize_t n = info.slurm_job_ids.size();
  if (n > 0) {
    check(H5Dset_extent(jobs.get(), &n), "sizing slurm_job_ids");
    std::vector<char> buf(kJobIdBytes * n);
    for (hsize_t i = 0; i < n; ++i)
      hdf5::copy_fixed(info.slurm_job_ids[i], buf.data() + i * kJobIdBytes, kJobIdBytes);
    write_rows(jobs.get(), jtype.get(), 0, n, buf.data(), "slurm_job_ids");
  }

  Handle gcpl(H5Pcreate(H5P_GROUP_CREATE), "creating group creation property list");
  check(H5Pset_link_creation_order(gcpl.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED),
        "tracking trial creation order");
  Handle trials(H5Gcreate2(file, "trials", H5P_DEFAULT, gcpl.get(), H5P_DEFAULT),
                "creating /trials");
}

void add_trial(hid_t file, const TrialInit& t) {
  validate_trial_id(t.id);
  nlohmann::json params = parse_params(t);
  const std::string where = "/trials/" + t.id;
  Handle group(H5Gcreate2(file, where.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
               "creating " + where);
  hdf5::write_attr(group.get(), "id", t.id);
  hdf5::write_attr(group.get(), "name", t.name);
  hdf5::write_attr(group.get(), "params_json",
                   t.params_json.empty() ? std::string("{}") : t.params_json);
  hdf5::write_attr(group.get(), "seed", t.seed);

  Handle pgroup(H5Gcreate2(group.get(), "params", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                "creating " + where + "/params");
  flatten(params, "", [&](const std::string& key, const nlohmann::json& v) {
    if (v.is_boolean()) {
      hdf5::write_attr_bool(pgroup.get(), key, v.get<bool>());
    } else if (v.is_number_unsigned() &&
               v.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) {
      hdf5::write_attr(pgroup.get(), key, v.get<std::uint64_t>());
    } else if (v.is_number_integer()) {
      hdf5::write_attr(pgroup.get(), key, v.get<std::int64_t>());
    } else if (v.is_number_float()) {
      hdf5::write_attr(pgroup.get(), key, v.get<double>());
    } else if (v.is_string()) {
      hdf5::write_attr(pgroup.get(), key, v.get<std::string>());
    } else {
      hdf5::write_attr(pgroup.get(), key, v.dump());  // arrays, null, {}: JSON text
    }
  });

  Handle stype = state_type(true), smem = state_type(false);
  StateRow initial = to_row(t.id, TrialState{});
  create_scalar(group.get(), "state", stype.get(), smem.get(), &initial);

  Handle etype = epoch_type(true);
  create_extendible(group.get(), "epochs", etype.get(), kEpochChunk);

  std::int32_t none = 0;
  create_scalar(group.get(), "best_epoch", H5T_STD_I32LE, H5T_NATIVE_INT32, &none);
  create_extendible(group.get(), "best_val_labels", H5T_STD_I8LE, kPredictionChunk);
  create_extendible(group.get(), "best_val_scores", H5T_IEEE_F32LE, kPredictionChunk);
}

struct ExistingTrial {
  std::string params_json;
  std::uint64_t seed = 0;
};

}  // namespace

// ---- SweepStore --------------------------------------------------------------------------

struct SweepStore::Impl {
  struct Trial {
    Handle group, state, epochs, best_epoch, labels, scores;
    int last = 0;
  };

  std::string path;
  WriterLock lock;
  Handle file;
  Handle epoch_mem = epoch_type(false);
  Handle state_mem = state_type(false);
  Handle job_mem = hdf5::fixed_string_type(kJobIdBytes);
  Handle jobs;
  Handle evaluation_mem = hdf5::fixed_string_type(kMaxEvaluationBytes);
  Handle evaluations;
  std::vector<std::string> order;
  std::map<std::string, Trial> trials;

  Trial& trial(const std::string& id) {
    auto it = trials.find(id);
    if (it == trials.end()) throw std::out_of_range("store " + path + " has no trial '" + id + "'");
    return it->second;
  }

  void flush() { results::flush(file.get(), path); }

  /// Opens `path` in SWMR-write mode and every trial's datasets; trims partial epoch rows.
  void open_swmr() {
    Handle fapl = make_fapl(/*clear_status_flags=*/true);
    file = Handle(H5Fopen(path.c_str(), H5F_ACC_RDWR | H5F_ACC_SWMR_WRITE, fapl.get()),
                  "opening " + path + " for SWMR writing");
    jobs = Handle(H5Dopen2(file.get(), "slurm_job_ids", H5P_DEFAULT), "opening slurm_job_ids");
    evaluations = Handle(H5Dopen2(file.get(), kEvaluations, H5P_DEFAULT), "opening evaluations");
    Handle tgroup(H5Gopen2(file.get(), "trials", H5P_DEFAULT), "opening /trials in " + path);
    bool trimmed = false;
    for (const auto& id : hdf5::child_names(tgroup.get())) {
      Trial t;
      const std::string where = "/trials/" + id;
      t.group = Handle(H5Gopen2(tgroup.get(), id.c_str(), H5P_DEFAULT), "opening " + where);
      auto open = [&](const char* name) {
        return Handle(H5Dopen2(t.group.get(), name, H5P_DEFAULT), "opening " + where + "/" + name);
      };
      t.state = open("state");
      t.epochs = open("epochs");
      t.best_epoch = open("best_epoch");
      t.labels = open("best_val_labels");
      t.scores = open("best_val_scores");
      auto rows = read_all<EpochRow>(t.epochs.get(), epoch_mem.get(), where + "/epochs");
      hsize_t keep = complete_prefix(rows);
      if (keep != rows.size()) {
        check(H5Dset_extent(t.epochs.get(), &keep),
              "dropping partial rows of " + where + "/epochs");
        trimmed = true;
      }
      t.last = static_cast<int>(keep);
      order.push_back(id);
      trials.emplace(id, std::move(t));
    }
    if (trimmed) flush();
  }
};

SweepStore::SweepStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SweepStore::SweepStore(SweepStore&&) noexcept = default;
SweepStore& SweepStore::operator=(SweepStore&&) noexcept = default;
SweepStore::~SweepStore() {
  try {
    close();
  } catch (...) {
    // Destructors must not throw; call close() to see errors.
  }
}

SweepStore SweepStore::create(const std::string& path, const SweepInfo& info,
                              const std::vector<TrialInit>& trials) {
  hdf5::silence_error_printing();
  std::set<std::string> seen;
  for (const auto& t : trials) {
    validate_trial_id(t.id);
    parse_params(t);
    if (!seen.insert(t.id).second) throw std::invalid_argument("duplicate trial id '" + t.id + "'");
  }
  if (file_exists(path)) {
    throw std::runtime_error("cannot create sweep store " + path +
                             ": the file exists (use open_for_append to continue a sweep)");
  }
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->lock = WriterLock(path);

  // Build the complete file under a private name, then publish it atomically: a crash
  // before the rename leaves no half-built results.h5 behind.
  const std::string tmp = tmp_path(path);
  {
    Handle fapl = make_fapl(false);
    Handle file(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()), "creating " + tmp);
    write_root(file.get(), info);
    for (const auto& t : trials) add_trial(file.get(), t);
    file.close();
  }
  publish(tmp, path);
  impl->open_swmr();
  return SweepStore(std::move(impl));
}

SweepStore SweepStore::open_for_append(const std::string& path,
                                       const std::vector<TrialInit>& trials) {
  hdf5::silence_error_printing();
  if (!file_exists(path))
    throw std::runtime_error("cannot open sweep store " + path + ": no such file");
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->lock = WriterLock(path);

  // Which trials does the file already have? (SWMR-read works on a crashed file.)
  std::map<std::string, ExistingTrial> existing;
  bool has_evaluations = false;  // files written before `evaluate` existed lack the dataset
  {
    Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, H5P_DEFAULT),
                "opening " + path + " to list its trials");
    has_evaluations = hdf5::link_exists(file.get(), kEvaluations);
    Handle tgroup(H5Gopen2(file.get(), "trials", H5P_DEFAULT), "opening /trials in " + path);
    for (const auto& id : hdf5::child_names(tgroup.get())) {
      Handle g(H5Gopen2(tgroup.get(), id.c_str(), H5P_DEFAULT), "opening /trials/" + id);
      existing[id] = {hdf5::read_attr_string(g.get(), "params_json"),
                      hdf5::read_attr_uint64(g.get(), "seed")};
    }
  }
  std::vector<const TrialInit*> to_add;
  std::set<std::string> seen;
  for (const auto& t : trials) {
    validate_trial_id(t.id);
    parse_params(t);
    if (!seen.insert(t.id).second) throw std::invalid_argument("duplicate trial id '" + t.id + "'");
    auto it = existing.find(t.id);
    if (it == existing.end()) {
      to_add.push_back(&t);
      continue;
    }
    const std::string want = t.params_json.empty() ? "{}" : t.params_json;
    if (it->second.params_json != want || it->second.seed != t.seed) {
      throw std::invalid_argument(fmt::format(
          "trial '{}' in {} has params {} seed {}, but the sweep now gives params {} seed {}; "
          "give the changed trial a new id",
          t.id, path, it->second.params_json, it->second.seed, want, t.seed));
    }
  }

  if (!to_add.empty() || !has_evaluations) {
    // New objects cannot be created in SWMR mode: add them to a copy, publish the copy.
    const std::string tmp = tmp_path(path);
    copy_file(path, tmp);
    {
      Handle fapl = make_fapl(/*clear_status_flags=*/true);
      Handle file(H5Fopen(tmp.c_str(), H5F_ACC_RDWR, fapl.get()),
                  "opening " + tmp + " to add trials");
      for (const TrialInit* t : to_add) add_trial(file.get(), *t);
      if (!has_evaluations) create_evaluations(file.get());
      file.close();
    }
    publish(tmp, path);
  }
  impl->open_swmr();
  return SweepStore(std::move(impl));
}

const std::string& SweepStore::path() const { return impl_->path; }
std::vector<std::string> SweepStore::trial_ids() const { return impl_->order; }
bool SweepStore::has_trial(const std::string& id) const { return impl_->trials.count(id) > 0; }

void SweepStore::set_state(const std::string& id, const TrialState& state) {
  auto& t = impl_->trial(id);
  StateRow row = to_row(id, state);
  check(H5Dwrite(t.state.get(), impl_->state_mem.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, &row),
        "writing /trials/" + id + "/state");
  impl_->flush();
}

TrialState SweepStore::state(const std::string& id) const {
  auto& t = impl_->trial(id);
  StateRow row{};
  check(H5Dread(t.state.get(), impl_->state_mem.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, &row),
        "reading /trials/" + id + "/state");
  return from_row(row);
}

void SweepStore::append_epoch(const std::string& id, const EpochRecord& record) {
  auto& t = impl_->trial(id);
  if (record.epoch != t.last + 1 && !(record.epoch == t.last && t.last > 0)) {
    throw std::invalid_argument(
        fmt::format("trial '{}' in {}: epoch {} reported, but the last stored epoch is {} "
                    "(expected {} to append, or {} to replace the last row)",
                    id, impl_->path, record.epoch, t.last, t.last + 1, t.last));
  }
  hsize_t row_index = static_cast<hsize_t>(record.epoch - 1);
  hsize_t needed = row_index + 1;
  if (extent(t.epochs.get(), "/trials/" + id + "/epochs") < needed) {
    check(H5Dset_extent(t.epochs.get(), &needed), "extending /trials/" + id + "/epochs");
  }
  EpochRow row = to_row(record);
  write_rows(t.epochs.get(), impl_->epoch_mem.get(), row_index, 1, &row,
             "/trials/" + id + "/epochs");
  impl_->flush();
  t.last = record.epoch;
}

int SweepStore::last_epoch(const std::string& id) const { return impl_->trial(id).last; }

void SweepStore::set_best_predictions(const std::string& id, int epoch, const Predictions& p) {
  auto& t = impl_->trial(id);
  if (epoch < 1 || epoch > t.last) {
    throw std::invalid_argument(fmt::format(
        "trial '{}': best epoch {} is not a stored epoch (expected 1..{})", id, epoch, t.last));
  }
  if (p.labels.size() != p.scores.size()) {
    throw std::invalid_argument(
        fmt::format("trial '{}': {} labels but {} scores", id, p.labels.size(), p.scores.size()));
  }
  const std::string where = "/trials/" + id;
  // 1) mark "no best epoch", 2) write the arrays, 3) mark the new epoch; flush after each
  // step so that a reader (or a crash) never pairs an epoch with half-written predictions.
  std::int32_t none = 0, e = epoch;
  check(H5Dwrite(t.best_epoch.get(), H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, &none),
        "writing " + where + "/best_epoch");
  impl_->flush();
  hsize_t n = p.labels.size();
  check(H5Dset_extent(t.labels.get(), &n), "sizing " + where + "/best_val_labels");
  check(H5Dset_extent(t.scores.get(), &n), "sizing " + where + "/best_val_scores");
  write_rows(t.labels.get(), H5T_NATIVE_INT8, 0, n, p.labels.data(), where + "/best_val_labels");
  write_rows(t.scores.get(), H5T_NATIVE_FLOAT, 0, n, p.scores.data(), where + "/best_val_scores");
  impl_->flush();
  check(H5Dwrite(t.best_epoch.get(), H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, &e),
        "writing " + where + "/best_epoch");
  impl_->flush();
}

void SweepStore::add_job_id(const std::string& job_id) {
  if (job_id.size() > kJobIdBytes) {
    throw std::invalid_argument(
        fmt::format("Slurm job id '{}' is longer than {} bytes", job_id, kJobIdBytes));
  }
  hsize_t n = extent(impl_->jobs.get(), "slurm_job_ids");
  hsize_t grown = n + 1;
  check(H5Dset_extent(impl_->jobs.get(), &grown), "extending slurm_job_ids");
  char buf[kJobIdBytes];
  hdf5::copy_fixed(job_id, buf, sizeof buf);
  write_rows(impl_->jobs.get(), impl_->job_mem.get(), n, 1, buf, "slurm_job_ids");
  impl_->flush();
}

void SweepStore::add_evaluation(const std::string& json) {
  if (json.size() > kMaxEvaluationBytes) {
    throw std::invalid_argument(fmt::format("evaluation record of {} bytes exceeds {} bytes",
                                            json.size(), kMaxEvaluationBytes));
  }
  hsize_t n = extent(impl_->evaluations.get(), kEvaluations);
  hsize_t grown = n + 1;
  check(H5Dset_extent(impl_->evaluations.get(), &grown), "extending evaluations");
  std::vector<char> buf(kMaxEvaluationBytes);
  hdf5::copy_fixed(json, buf.data(), buf.size());
  write_rows(impl_->evaluations.get(), impl_->evaluation_mem.get(), n, 1, buf.data(),
             "evaluations");
  impl_->flush();
}

void SweepStore::close() {
  if (!impl_) return;
  impl_->trials.clear();
  impl_->jobs = Handle();
  impl_->evaluations = Handle();
  impl_->file.close();
  impl_->lock.release();
  impl_.reset();
}

// ---- reader ------------------------------------------------------------------------------

namespace {

// Every row of a 1-D dataset of fixed-size strings of `bytes` bytes.
std::vector<std::string> read_string_rows(hid_t file, const char* name, std::size_t bytes) {
  Handle ds(H5Dopen2(file, name, H5P_DEFAULT), std::string("opening ") + name);
  Handle type = hdf5::fixed_string_type(bytes);
  const hsize_t n = extent(ds.get(), name);
  std::vector<char> buf(n * bytes);
  if (n > 0) {
    check(H5Dread(ds.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()),
          std::string("reading ") + name);
  }
  std::vector<std::string> rows;
  for (hsize_t i = 0; i < n; ++i) rows.push_back(hdf5::from_fixed(buf.data() + i * bytes, bytes));
  return rows;
}

SweepSnapshot read_once(const std::string& path) {
  // A SWMR reader re-reads metadata whose checksum fails (it may be mid-write), by default
  // 100 times with growing sleeps: a corrupt file then hangs the reader for minutes. A few
  // attempts cover a racing write; read_store's own retry loop covers the rest.
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), "creating file access property list");
  check(H5Pset_metadata_read_attempts(fapl.get(), kSwmrReadAttempts),
        "setting metadata read attempts");
  Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, fapl.get()),
              "opening " + path + " for SWMR reading");
  hid_t f = file.get();
  SweepSnapshot snap;
  if (hdf5::read_attr_string(f, "format") != kFormatName) {
    throw std::runtime_error(path + ": root attribute 'format' is not '" + kFormatName + "'");
  }
  SweepInfo& info = snap.info;
  info.tool_version = hdf5::read_attr_string(f, "tool_version");
  info.spec_yaml = hdf5::read_attr_string(f, "spec_yaml");
  if (hdf5::attr_exists(f, "spec_effective_yaml")) {  // absent in older files (store.h)
    info.spec_overrides = hdf5::read_attr_strings(f, "spec_overrides");
    info.spec_effective_yaml = hdf5::read_attr_string(f, "spec_effective_yaml");
  }
  info.spec_hash = hdf5::read_attr_string(f, "spec_hash");
  info.created = hdf5::read_attr_string(f, "created");
  info.libtorch_version = hdf5::read_attr_string(f, "libtorch_version");
  info.cuda_version = hdf5::read_attr_string(f, "cuda_version");
  info.nccl_version = hdf5::read_attr_string(f, "nccl_version");
  info.mpi_version = hdf5::read_attr_string(f, "mpi_version");
  info.hostnames = hdf5::read_attr_strings(f, "hostnames");
  info.data_manifest_hash = hdf5::read_attr_string(f, "data_manifest_hash");
  info.leakage_report_json = hdf5::read_attr_string(f, "leakage_report_json");
  info.slurm_job_ids = read_string_rows(f, "slurm_job_ids", kJobIdBytes);
  if (hdf5::link_exists(f, kEvaluations)) {
    snap.evaluations = read_string_rows(f, kEvaluations, kMaxEvaluationBytes);
  }

  Handle epoch_mem = epoch_type(false), state_mem = state_type(false);
  Handle tgroup(H5Gopen2(f, "trials", H5P_DEFAULT), "opening /trials in " + path);
  for (const auto& id : hdf5::child_names(tgroup.get())) {
    const std::string where = path + ":/trials/" + id;
    Handle g(H5Gopen2(tgroup.get(), id.c_str(), H5P_DEFAULT), "opening " + where);
    TrialResult r;
    r.id = hdf5::read_attr_string(g.get(), "id");
    r.name = hdf5::read_attr_string(g.get(), "name");
    r.params_json = hdf5::read_attr_string(g.get(), "params_json");
    r.seed = hdf5::read_attr_uint64(g.get(), "seed");
    try {
      flatten(nlohmann::json::parse(r.params_json), "",
              [&](const std::string& key, const nlohmann::json& v) {
                r.params[key] = display_text(v);
              });
    } catch (const nlohmann::json::exception& e) {
      throw std::runtime_error(where + ": params_json is not valid JSON: " + e.what());
    }
    auto open = [&](const char* name) {
      return Handle(H5Dopen2(g.get(), name, H5P_DEFAULT), "opening " + where + "/" + name);
    };
    {
      Handle ds = open("state");
      StateRow row{};
      read_one(ds.get(), state_mem.get(), &row, where + "/state");
      if (row.status < 0 || row.status > static_cast<std::int8_t>(TrialStatus::stopped_early)) {
        throw std::runtime_error(fmt::format("{}/state: unknown status {}", where, row.status));
      }
      TrialState s = from_row(row);
      r.status = s.status;
      r.attempts = s.attempts;
      r.failure_reason = s.failure_reason;
      r.ranks = s.ranks;
      r.start_time = s.start_time;
      r.end_time = s.end_time;
    }
    {
      Handle ds = open("epochs");
      auto rows = read_all<EpochRow>(ds.get(), epoch_mem.get(), where + "/epochs");
      rows.resize(complete_prefix(rows));
      for (const auto& row : rows) r.epochs.push_back(from_row(row));
    }
    {
      std::int32_t best = 0;
      Handle ds = open("best_epoch");
      read_one(ds.get(), H5T_NATIVE_INT32, &best, where + "/best_epoch");
      if (best > 0) {
        Handle l = open("best_val_labels"), s = open("best_val_scores");
        auto labels = read_all<std::int8_t>(l.get(), H5T_NATIVE_INT8, where + "/best_val_labels");
        auto scores = read_all<float>(s.get(), H5T_NATIVE_FLOAT, where + "/best_val_scores");
        if (labels.size() != scores.size()) {
          throw std::runtime_error(fmt::format("{}: {} best_val_labels but {} best_val_scores",
                                               where, labels.size(), scores.size()));
        }
        r.best_epoch = best;
        r.best_val_predictions.labels = std::move(labels);
        r.best_val_predictions.scores = std::move(scores);
      }
    }
    snap.trials.push_back(std::move(r));
  }
  return snap;
}

}  // namespace

SweepSnapshot read_store(const std::string& path, const ReadOptions& options) {
  hdf5::silence_error_printing();
  if (!file_exists(path))
    throw std::runtime_error("cannot read sweep store " + path + ": no such file");
  const auto deadline = std::chrono::steady_clock::now() + options.retry_for;
  for (;;) {
    try {
      return read_once(path);
    } catch (const hdf5::Hdf5Error& e) {
      if (std::chrono::steady_clock::now() >= deadline) {
        // Errors about one attribute or dataset do not name the file; say which file it is.
        if (std::string(e.what()).find(path) != std::string::npos) throw;
        throw hdf5::Hdf5Error(path + ": " + e.what());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
}

std::string store_path(const std::string& dir) {
  if (dir.empty()) return "results.h5";
  return dir.back() == '/' ? dir + "results.h5" : dir + "/results.h5";
}

}  // namespace mammosweep::results
