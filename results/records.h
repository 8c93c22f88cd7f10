#pragma once
// Plain records shared by the metrics module, the HDF5 store, ranking and the exporters.
// These are the units the coordinator receives from workers and writes to disk.
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mammosweep::results {

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

/// Binary confusion matrix. Class 1 (malignant) is the positive class.
struct ConfusionMatrix {
  std::int64_t tp = 0, fp = 0, tn = 0, fn = 0;
  std::int64_t total() const { return tp + fp + tn + fn; }
  bool operator==(const ConfusionMatrix& o) const {
    return tp == o.tp && fp == o.fp && tn == o.tn && fn == o.fn;
  }
};

/// Metrics of one split (train or val) for one epoch. A metric whose denominator is zero
/// is NaN (for example precision with no positive prediction, AUC with one class only).
struct SplitMetrics {
  double loss = kNaN;
  double accuracy = kNaN;
  double precision = kNaN;    // PPV
  double recall = kNaN;       // sensitivity, TPR
  double specificity = kNaN;  // TNR
  double f1 = kNaN;
  double auc = kNaN;          // ROC-AUC, threshold-free, ties count one half
  ConfusionMatrix cm;
};

/// One row of a trial's `epochs` table. Epochs count from 1.
struct EpochRecord {
  int epoch = 0;
  SplitMetrics train;
  SplitMetrics val;
  double lr = kNaN;
  double seconds = kNaN;
  double images_per_second = kNaN;
};

/// Labels (0/1) and malignancy scores (probability of class 1) of one split.
struct Predictions {
  std::vector<std::int8_t> labels;
  std::vector<float> scores;
  std::size_t size() const { return labels.size(); }
};

enum class TrialStatus { pending, running, done, failed, stopped_early };

const char* to_string(TrialStatus s);
/// Parses the names above; throws std::invalid_argument on anything else.
TrialStatus trial_status_from_string(const std::string& s);

/// Everything the store knows about one trial: what ranking and exporters consume.
struct TrialResult {
  std::string id;
  std::string name;
  /// Resolved training parameters as display strings, keyed by parameter path
  /// (for example "lr", "optimizer", "augmentation.hflip").
  std::map<std::string, std::string> params;
  /// The same parameters as one JSON object (canonical text).
  std::string params_json;
  std::uint64_t seed = 0;
  TrialStatus status = TrialStatus::pending;
  int attempts = 0;
  std::string failure_reason;  // empty unless failed or stopped_early
  std::vector<int> ranks;
  std::string start_time, end_time;  // ISO 8601 UTC, empty when unknown
  std::vector<EpochRecord> epochs;
  /// Val predictions of the trial's best epoch (the epoch the ranking rule selects).
  std::optional<int> best_epoch;
  Predictions best_val_predictions;
};

}  // namespace mammosweep::results
