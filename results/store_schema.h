#pragma once
// Internal to the results library: the on-disk layout of results.h5 shared by the writer
// (store_writer.cpp) and the reader (store_reader.cpp). The format for other tools is
// documented in docs/results-format.md; a change here is a change there.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "results/hdf5.h"
#include "results/records.h"
#include "results/store.h"

namespace mammosweep::results::schema {

using hdf5::check;
using hdf5::Handle;

// Format 2 (2026-11-30) writes every string attribute fixed-length; format 1 wrote them
// variable-length, which stays readable (string_policy below).
constexpr std::int64_t kFormatVersion = 2;
constexpr const char* kFormatName = "mammosweep-results";
constexpr std::size_t kJobIdBytes = 64;
constexpr hsize_t kEpochChunk = 32;
constexpr hsize_t kPredictionChunk = 4096;
constexpr hsize_t kJobChunk = 16;
constexpr hsize_t kEvaluationChunk = 4;
constexpr const char* kEvaluations = "evaluations";
constexpr unsigned kSwmrReadAttempts = 5;  // see read_once in store_reader.cpp

/// How to read string attributes of `file`: variable-length ones only in a format-1 file.
/// Throws (naming `path`) for a format version this build does not read.
hdf5::VarLen string_policy(hid_t file, const std::string& path);

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

/// HDF5 types of the rows: in memory (`packed` false) or on disk (packed, little endian,
/// in the documented column order).
Handle epoch_type(bool packed);
Handle state_type(bool packed);

EpochRow to_row(const EpochRecord& r);
EpochRecord from_row(const EpochRow& row);
StateRow to_row(const std::string& id, const TrialState& s);
TrialState from_row(const StateRow& row);

/// Rows of a 1-D dataset (1 for a scalar). A dataset of another shape is refused (Hdf5Error
/// naming `what`) before anything is read into a buffer sized by this count.
hsize_t extent(hid_t ds, const std::string& what);
/// Reads the one element of a scalar (or one-row) dataset into `out`.
void read_one(hid_t ds, hid_t mem_type, void* out, const std::string& what);
/// Reads all `rows` rows of `ds` into `out`. The type-conversion buffer is sized to the data:
/// HDF5's default is a zeroed 1 MiB per read, which made reading a 1,000-trial store spend
/// most of its time in memset (docs/performance.md section 13).
void read_rows(hid_t ds, hid_t mem_type, hsize_t rows, void* out, const std::string& what);
template <typename T>
std::vector<T> read_all(hid_t ds, hid_t mem_type, const std::string& what) {
  std::vector<T> out(static_cast<std::size_t>(extent(ds, what)));
  if (!out.empty()) read_rows(ds, mem_type, out.size(), out.data(), what);
  return out;
}

/// Every row of the 1-D dataset `name` of fixed-size strings of `bytes` bytes.
std::vector<std::string> read_string_rows(hid_t file, const char* name, std::size_t bytes);

/// Length of the complete prefix of an epochs table: rows whose epoch column is 1, 2, ...
/// Rows after it are left over from a crash between extending and writing.
inline std::size_t complete_prefix(const std::vector<EpochRow>& rows) {
  std::size_t n = 0;
  while (n < rows.size() && rows[n].epoch == static_cast<std::int32_t>(n + 1)) ++n;
  return n;
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

}  // namespace mammosweep::results::schema
