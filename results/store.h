#pragma once
// The sweep store: one HDF5 file (DIR/results.h5) per sweep holding the sweep's provenance,
// every trial's parameters, state, per-epoch metrics and best-epoch val predictions.
// The on-disk layout is documented for users of other tools in docs/results-format.md.
//
// Concurrency and crash model (design "pre-create, then SWMR"):
//   - The sweep coordinator (rank 0) is the ONLY writer. `SweepStore::create` and
//     `SweepStore::open_for_append` build every HDF5 object the sweep will need (groups,
//     attributes, datasets) in a private copy of the file, close it, and rename it over
//     DIR/results.h5 atomically. Then they reopen it in SWMR-write mode: from there on the
//     writer only appends rows or overwrites existing datasets, and calls H5Fflush after
//     every change. A writer lock (flock on "<path>.lock") keeps out a second writer.
//   - Readers (`read_store`, h5py with swmr=True) open the file in SWMR-read mode. That
//     works while the writer runs and after the writer was killed (kill -9) without running
//     h5clear. Plain (non-SWMR) tools such as h5dump need `h5clear -s` first on a file whose
//     writer is running or crashed; run it on a copy while a writer may still be live.
//   - A kill -9 at any moment leaves a file that holds every epoch whose `append_epoch`
//     returned. `open_for_append` after a crash clears the "open for writing" mark itself.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "results/records.h"

namespace mammosweep::results {

/// Provenance of a sweep, written once as root attributes when the store is created.
struct SweepInfo {
  std::string tool_version;
  std::string spec_yaml;  // the spec file's text, verbatim, then "# --set KEY=VALUE" lines
  std::vector<std::string> spec_overrides;  // the --set overrides, in order
  /// The spec as it ran (every override applied). Empty in files written before it was
  /// stored: then spec_yaml is the spec.
  std::string spec_effective_yaml;
  std::string spec_hash;
  std::string created;  // ISO 8601 UTC; create() fills in "now" when empty
  std::string libtorch_version, cuda_version, nccl_version, mpi_version;
  std::vector<std::string> hostnames;
  std::string data_manifest_hash;
  std::string leakage_report_json;  // the leakage guard's report as a JSON string
  /// Slurm job ids, oldest first. Mutable: SweepStore::add_job_id appends more later.
  std::vector<std::string> slurm_job_ids;
};

/// The immutable description of one trial, known when the spec is expanded.
struct TrialInit {
  std::string id;           // unique; used as the group name (no '/', not "." or "..")
  std::string name;         // display name
  std::string params_json;  // resolved parameters as one JSON object (nested objects allowed)
  std::uint64_t seed = 0;
};

/// The mutable state of one trial. Limits (the row has fixed size so it can be overwritten
/// in SWMR mode): at most kMaxRanks ranks, failure_reason at most kMaxReasonBytes bytes
/// (longer text is cut at a UTF-8 boundary), times at most kMaxTimeBytes bytes.
struct TrialState {
  static constexpr std::size_t kMaxRanks = 256;
  static constexpr std::size_t kMaxReasonBytes = 2048;
  static constexpr std::size_t kMaxTimeBytes = 32;

  TrialStatus status = TrialStatus::pending;
  int attempts = 0;
  std::string failure_reason;
  std::vector<int> ranks;
  std::string start_time, end_time;  // ISO 8601 UTC, empty when unknown
};

/// Writer handle of a sweep store, in SWMR-write mode. Move-only; closing (or destroying)
/// it closes the file cleanly. Every mutating call flushes the file before it returns, so a
/// crash after the call returns cannot lose what it wrote. Methods taking a trial id throw
/// std::out_of_range for an unknown id. HDF5 failures throw hdf5::Hdf5Error.
/// Not thread-safe (nor is Debian's serial libhdf5): use one store from one thread.
class SweepStore {
 public:
  /// Creates `path` (which must not exist) with the sweep's root attributes and every
  /// trial's objects, then opens it for SWMR writing. All trials start `pending`.
  /// Throws std::invalid_argument on duplicate or malformed trial ids or params_json that is
  /// not a JSON object, std::runtime_error when `path` exists.
  static SweepStore create(const std::string& path, const SweepInfo& info,
                           const std::vector<TrialInit>& trials);

  /// Reopens an existing store for writing, also after the previous writer crashed.
  /// Trials in `trials` that the file lacks are added (pending); trials it already has must
  /// have the same params_json text and seed (std::invalid_argument otherwise). Rows past
  /// the last complete epoch (left by a crash inside append_epoch) are dropped.
  static SweepStore open_for_append(const std::string& path,
                                    const std::vector<TrialInit>& trials = {});

  SweepStore(SweepStore&&) noexcept;
  SweepStore& operator=(SweepStore&&) noexcept;
  ~SweepStore();

  const std::string& path() const;
  /// Trial ids in creation order.
  std::vector<std::string> trial_ids() const;
  bool has_trial(const std::string& id) const;

  /// Adds trials (pending) to the open store, for samplers that propose trials one at a
  /// time (`method: bayes`). New HDF5 objects cannot be created in SWMR mode, so this
  /// copies the file, adds them to the copy and replaces the file atomically (readers see
  /// the old or the new file); it costs a copy of the file. Throws std::invalid_argument for
  /// a malformed or already present id.
  void add_trials(const std::vector<TrialInit>& trials);

  /// Overwrites the trial's state (status, attempts, reason, ranks, times).
  /// Throws std::invalid_argument when there are more than kMaxRanks ranks.
  void set_state(const std::string& id, const TrialState& state);
  TrialState state(const std::string& id) const;

  /// Appends one epoch row. Rule: with L = last_epoch(id), `record.epoch` must be L + 1
  /// (appended) or L (the last row is replaced: re-reporting an epoch after a resume is
  /// idempotent). Anything else throws std::invalid_argument, so epochs are always 1..L
  /// without gaps or duplicates.
  void append_epoch(const std::string& id, const EpochRecord& record);
  /// Number of the last stored epoch, 0 when none.
  int last_epoch(const std::string& id) const;

  /// Replaces the trial's best-epoch val predictions. `epoch` must be in [1, last_epoch];
  /// labels and scores must have equal length. Crash-safe: readers see either the old or
  /// the new predictions, or none ("no best epoch") if the writer died in between.
  void set_best_predictions(const std::string& id, int epoch, const Predictions& predictions);

  /// Appends a Slurm job id to /slurm_job_ids (jobs of a resumed sweep accumulate).
  void add_job_id(const std::string& job_id);

  /// Appends one row to /evaluations: a JSON object describing one test-split evaluation
  /// (`mammosweep evaluate`). At most kMaxEvaluationBytes bytes (std::invalid_argument).
  void add_evaluation(const std::string& json);

  /// Closes the file cleanly (clears the "open for writing" mark) and releases the lock.
  void close();

 private:
  struct Impl;
  explicit SweepStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// Everything in a store file.
struct SweepSnapshot {
  SweepInfo info;
  std::vector<TrialResult> trials;  // creation order
  std::vector<std::string> evaluations;  // /evaluations rows (JSON), oldest first
};

/// Size of one /evaluations row (fixed-size strings can be appended in SWMR mode).
inline constexpr std::size_t kMaxEvaluationBytes = 4096;

struct ReadOptions {
  /// Transient open/read failures (the writer replacing the file, a SWMR read racing a
  /// metadata flush) are retried for this long before the last error is thrown.
  std::chrono::milliseconds retry_for{3000};
};

/// Reads a whole store in SWMR-read mode: works while the writer has the file open and
/// after the writer crashed, without h5clear. Epoch tables are cut to their complete prefix
/// (rows whose epoch column is 1, 2, 3, ...).
SweepSnapshot read_store(const std::string& path, const ReadOptions& options = {});

/// What read_store gives for a trial just added (pending, no epochs): lets a writer keep
/// its own copy of the table without reading the file back. Throws std::invalid_argument
/// when params_json is not JSON.
TrialResult pending_result(const TrialInit& trial);

/// DIR/results.h5
std::string store_path(const std::string& dir);

}  // namespace mammosweep::results
