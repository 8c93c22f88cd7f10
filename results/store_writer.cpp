// SweepStore: the one writer of results.h5 (see store.h for the concurrency model).
#include <fmt/format.h>

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <utility>

#include <unistd.h>

#include "io/files.h"
#include "io/lock.h"
#include "io/time.h"
#include "results/store.h"
#include "results/store_schema.h"

namespace mammosweep::results {
namespace {

using namespace schema;

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

// ---- building objects (before SWMR mode) -------------------------------------------------

void write_root(hid_t file, const SweepInfo& info) {
  hdf5::write_attr(file, "format", std::string(kFormatName));
  hdf5::write_attr(file, "format_version", kFormatVersion);
  hdf5::write_attr(file, "tool_version", info.tool_version);
  hdf5::write_attr(file, "spec_yaml", info.spec_yaml);
  hdf5::write_attr(file, "spec_overrides", info.spec_overrides);
  hdf5::write_attr(file, "spec_effective_yaml", info.spec_effective_yaml);
  hdf5::write_attr(file, "spec_hash", info.spec_hash);
  hdf5::write_attr(file, "created", info.created.empty() ? io::iso_utc_now() : info.created);
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

/// The lock that keeps out a second writer: "<path>.lock", released when the process dies.
io::FileLock writer_lock(const std::string& path) {
  io::FileLock lock(path + ".lock", io::FileLock::Mode::try_once);
  if (!lock.held()) {
    throw std::runtime_error("another process is writing " + path + " (lock " + path +
                             ".lock is held); a store has exactly one writer");
  }
  return lock;
}

std::string tmp_path(const std::string& path) {
  return fmt::format("{}.tmp-{}", path, static_cast<long>(::getpid()));
}

}  // namespace

// ---- SweepStore --------------------------------------------------------------------------

struct SweepStore::Impl {
  struct Trial {
    Handle group, state, epochs, best_epoch, labels, scores;  // opened on first use
    int last = 0;  // last complete epoch
    void close_handles() {
      Trial closed;
      closed.last = last;
      *this = std::move(closed);
    }
  };

  std::string path;
  io::FileLock lock;
  Handle file;
  Handle epoch_mem = epoch_type(false);
  Handle state_mem = state_type(false);
  Handle job_mem = hdf5::fixed_string_type(kJobIdBytes);
  Handle jobs;
  Handle evaluation_mem = hdf5::fixed_string_type(kMaxEvaluationBytes);
  Handle evaluations;
  std::vector<std::string> order;
  std::map<std::string, Trial> trials;

  /// The trial's handles, opened on first use: a sweep touches only the trials it runs, so
  /// opening (and reopening after add_trials) costs nothing per stored trial.
  Trial& trial(const std::string& id) {
    auto it = trials.find(id);
    if (it == trials.end()) throw std::out_of_range("store " + path + " has no trial '" + id + "'");
    Trial& t = it->second;
    if (!t.group) open_handles(id, t);
    return t;
  }

  void open_handles(const std::string& id, Trial& t) {
    const std::string where = "/trials/" + id;
    t.group = Handle(H5Gopen2(file.get(), where.c_str(), H5P_DEFAULT), "opening " + where);
    auto open = [&](const char* name) {
      return Handle(H5Dopen2(t.group.get(), name, H5P_DEFAULT), "opening " + where + "/" + name);
    };
    t.state = open("state");
    t.epochs = open("epochs");
    t.best_epoch = open("best_epoch");
    t.labels = open("best_val_labels");
    t.scores = open("best_val_scores");
  }

  void flush() { results::flush(file.get(), path); }

  /// Opens `path` in SWMR-write mode (the file and its root datasets only).
  void open_file() {
    Handle fapl = make_fapl(/*clear_status_flags=*/true);
    file = Handle(H5Fopen(path.c_str(), H5F_ACC_RDWR | H5F_ACC_SWMR_WRITE, fapl.get()),
                  "opening " + path + " for SWMR writing");
    jobs = Handle(H5Dopen2(file.get(), "slurm_job_ids", H5P_DEFAULT), "opening slurm_job_ids");
    evaluations = Handle(H5Dopen2(file.get(), kEvaluations, H5P_DEFAULT), "opening evaluations");
  }

  /// Closes every handle (the lock stays held).
  void close_file() {
    for (auto& [id, t] : trials) t.close_handles();
    jobs = Handle();
    evaluations = Handle();
    file.close();
  }

  /// Opens `path` in SWMR-write mode after a create or an unknown previous writer: lists
  /// the trials and trims partial epoch rows (left by a crash inside append_epoch).
  void open_swmr() {
    open_file();
    Handle tgroup(H5Gopen2(file.get(), "trials", H5P_DEFAULT), "opening /trials in " + path);
    bool trimmed = false;
    for (const auto& id : hdf5::child_names(tgroup.get())) {
      Trial& t = trials[id];
      order.push_back(id);
      open_handles(id, t);
      const std::string where = "/trials/" + id + "/epochs";
      auto rows = read_all<EpochRow>(t.epochs.get(), epoch_mem.get(), where);
      hsize_t keep = complete_prefix(rows);
      if (keep != rows.size()) {
        check(H5Dset_extent(t.epochs.get(), &keep), "dropping partial rows of " + where);
        trimmed = true;
      }
      t.last = static_cast<int>(keep);
      t.close_handles();
    }
    if (trimmed) flush();
  }
};

namespace {
/// New objects cannot be created in SWMR mode: adds them to a copy of `path` and publishes
/// the copy atomically.
void add_to_copy(const std::string& path, const std::vector<const TrialInit*>& to_add,
                 bool add_evaluations) {
  const std::string tmp = tmp_path(path);
  io::copy_file(path, tmp);
  {
    Handle fapl = make_fapl(/*clear_status_flags=*/true);
    Handle file(H5Fopen(tmp.c_str(), H5F_ACC_RDWR, fapl.get()), "opening " + tmp + " to add trials");
    for (const TrialInit* t : to_add) add_trial(file.get(), *t);
    if (add_evaluations) create_evaluations(file.get());
    file.close();
  }
  io::publish(tmp, path);
}
}  // namespace

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
  if (io::file_exists(path)) {
    throw std::runtime_error("cannot create sweep store " + path +
                             ": the file exists (use open_for_append to continue a sweep)");
  }
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->lock = writer_lock(path);

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
  io::publish(tmp, path);
  impl->open_swmr();
  return SweepStore(std::move(impl));
}

SweepStore SweepStore::open_for_append(const std::string& path,
                                       const std::vector<TrialInit>& trials) {
  hdf5::silence_error_printing();
  if (!io::file_exists(path))
    throw std::runtime_error("cannot open sweep store " + path + ": no such file");
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->lock = writer_lock(path);

  // Which trials does the file already have? (SWMR-read works on a crashed file.)
  std::map<std::string, ExistingTrial> existing;
  bool has_evaluations = false;  // files written before `evaluate` existed lack the dataset
  {
    Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, H5P_DEFAULT),
                "opening " + path + " to list its trials");
    has_evaluations = hdf5::link_exists(file.get(), kEvaluations);
    const hdf5::VarLen vl = string_policy(file.get(), path);
    Handle tgroup(H5Gopen2(file.get(), "trials", H5P_DEFAULT), "opening /trials in " + path);
    for (const auto& id : hdf5::child_names(tgroup.get())) {
      Handle g(H5Gopen2(tgroup.get(), id.c_str(), H5P_DEFAULT), "opening /trials/" + id);
      existing[id] = {hdf5::read_attr_string(g.get(), "params_json", vl),
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

  if (!to_add.empty() || !has_evaluations) add_to_copy(path, to_add, !has_evaluations);
  impl->open_swmr();
  return SweepStore(std::move(impl));
}

void SweepStore::add_trials(const std::vector<TrialInit>& trials) {
  if (!impl_) throw std::logic_error("add_trials on a closed sweep store");
  std::vector<const TrialInit*> to_add;
  std::set<std::string> seen;
  for (const auto& t : trials) {
    validate_trial_id(t.id);
    parse_params(t);
    if (!seen.insert(t.id).second || impl_->trials.count(t.id))
      throw std::invalid_argument("duplicate trial id '" + t.id + "'");
    to_add.push_back(&t);
  }
  if (to_add.empty()) return;
  // The SWMR handles close (the lock stays held), the copy gets the trials and replaces the
  // file, and the file reopens: readers see the old file or the new one. This writer closed
  // the file cleanly, so every trial's last epoch stays as known (nothing to trim or read).
  impl_->close_file();
  add_to_copy(impl_->path, to_add, false);
  impl_->open_file();
  for (const TrialInit* t : to_add) {
    impl_->order.push_back(t->id);
    impl_->trials[t->id];
  }
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
  read_rows(t.state.get(), impl_->state_mem.get(), 1, &row, "/trials/" + id + "/state");
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

}  // namespace mammosweep::results
