// read_store: a consistent snapshot of results.h5, read in SWMR mode (store.h).
#include <fmt/format.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <thread>

#include "io/files.h"
#include "results/store.h"
#include "results/store_schema.h"
#include "sweeps/params.h"

namespace mammosweep::results {
namespace {

using namespace schema;

std::string display_text(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return sweeps::to_text(sweeps::Value{v.get<bool>()});
  if (v.is_number_unsigned()) return std::to_string(v.get<std::uint64_t>());
  if (v.is_number_integer()) return sweeps::to_text(sweeps::Value{v.get<std::int64_t>()});
  if (v.is_number_float()) return sweeps::to_text(sweeps::Value{v.get<double>()});
  return v.dump();
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
  const hdf5::VarLen vl = string_policy(f, path);
  if (hdf5::read_attr_string(f, "format", vl) != kFormatName) {
    throw std::runtime_error(path + ": root attribute 'format' is not '" + kFormatName + "'");
  }
  SweepInfo& info = snap.info;
  info.tool_version = hdf5::read_attr_string(f, "tool_version", vl);
  info.spec_yaml = hdf5::read_attr_string(f, "spec_yaml", vl);
  if (hdf5::attr_exists(f, "spec_effective_yaml")) {  // absent in older files (store.h)
    info.spec_overrides = hdf5::read_attr_strings(f, "spec_overrides", vl);
    info.spec_effective_yaml = hdf5::read_attr_string(f, "spec_effective_yaml", vl);
  }
  info.spec_hash = hdf5::read_attr_string(f, "spec_hash", vl);
  info.created = hdf5::read_attr_string(f, "created", vl);
  info.libtorch_version = hdf5::read_attr_string(f, "libtorch_version", vl);
  info.cuda_version = hdf5::read_attr_string(f, "cuda_version", vl);
  info.nccl_version = hdf5::read_attr_string(f, "nccl_version", vl);
  info.mpi_version = hdf5::read_attr_string(f, "mpi_version", vl);
  info.hostnames = hdf5::read_attr_strings(f, "hostnames", vl);
  info.data_manifest_hash = hdf5::read_attr_string(f, "data_manifest_hash", vl);
  info.leakage_report_json = hdf5::read_attr_string(f, "leakage_report_json", vl);
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
    try {
      r = pending_result({hdf5::read_attr_string(g.get(), "id", vl),
                          hdf5::read_attr_string(g.get(), "name", vl),
                          hdf5::read_attr_string(g.get(), "params_json", vl),
                          hdf5::read_attr_uint64(g.get(), "seed")});
    } catch (const std::invalid_argument& e) {
      throw std::runtime_error(where + ": " + e.what());
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

TrialResult pending_result(const TrialInit& t) {
  TrialResult r;
  r.id = t.id;
  r.name = t.name;
  r.params_json = t.params_json;
  r.seed = t.seed;
  try {
    flatten(nlohmann::json::parse(r.params_json), "",
            [&](const std::string& key, const nlohmann::json& v) { r.params[key] = display_text(v); });
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(std::string("params_json is not valid JSON: ") + e.what());
  }
  return r;
}

SweepSnapshot read_store(const std::string& path, const ReadOptions& options) {
  hdf5::silence_error_printing();
  if (!io::file_exists(path))
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
