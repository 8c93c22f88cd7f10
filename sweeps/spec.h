#pragma once
// A sweep spec as plain structs. YAML becomes these once, in parse.h; nothing below that
// boundary looks at YAML. The format is documented in docs/sweep-spec.md.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sweeps/params.h"

namespace mammosweep::sweeps {

enum class Method { grid, random, variants, bayes };
const char* to_string(Method m);

/// Where the images are and how they become tensors.
struct DataSpec {
  std::string root;                   // dataset folder (folders layout) or base of the CSV
  std::string layout = "folders";     // folders | csv
  std::string manifest;               // CSV path (layout csv)
  int image_size = 224;               // square side after resizing, >= 32
  bool keep_aspect = false;           // pad instead of stretching
  bool clahe = false;
  std::string window = "minmax";      // 16-bit to 8-bit: minmax | percentile
  std::map<std::string, int> class_map;  // folder/label name -> 0 (benign) or 1 (malignant)
  std::string train_split = "train", val_split = "valid", test_split = "test";
  double val_fraction = 0.2, test_fraction = 0.1;  // CSV without a split column
  std::string leakage = "error";      // error | warn | ignore
  std::string on_bad_image = "error"; // error | skip
  std::vector<double> mean{0.485, 0.456, 0.406};
  std::vector<double> std{0.229, 0.224, 0.225};
};

/// A swept parameter: a fixed value, a list of values, or a distribution (random only).
/// Every W&B distribution is one of these kinds plus an optional rounding step q
/// (docs/sweep-spec.md has the table; sweeps/distributions.h draws from them):
/// log_uniform_values and W&B's log_uniform (exponents), inv_log_uniform(_values) are all
/// `log_uniform` with min/max as values; q_x is x with q > 0.
struct Domain {
  enum class Kind { value, values, uniform, log_uniform, int_uniform, categorical, normal,
                    log_normal, beta };
  Kind kind = Kind::value;
  std::vector<Value> values;    // value (one), values, categorical
  std::vector<double> weights;  // values: W&B's probabilities (sum 1); empty = uniform
  double min = 0, max = 0;      // uniform, int_uniform; log_uniform: values, 0 < min < max
  double mu = 0, sigma = 1;     // normal; log_normal: of log(x)
  double a = 1, b = 1;          // beta
  double q = 0;                 // > 0: a draw x becomes round(x / q) * q (half to even)
  std::string distribution;     // as written ("q_log_uniform_values"); empty for value(s)
  int line = 0, column = 0;     // where it was written (1-based), for messages
};

struct Variant {
  std::string name;
  std::map<std::string, Value> overrides;  // parameter name -> value
};

/// Whether a larger or a smaller value of a metric is better.
enum class Goal { maximize, minimize };
const char* to_string(Goal g);  // "maximize" | "minimize"

struct MetricSpec {
  std::string name = "val_auc";  // what ranks trials and picks the model of the week
  Goal goal = Goal::maximize;    // default minimize for val_loss
  /// W&B's metric.target: once any epoch of any trial reaches it (>= when maximizing,
  /// <= when minimizing), no new trial starts; running trials finish.
  std::optional<double> target;
};

/// How the operating threshold (score >= threshold predicts malignant) is chosen, always on
/// the validation split and then applied unchanged to test.
struct ThresholdRule {
  enum class Kind { fixed, youden, sensitivity, specificity };
  Kind kind = Kind::fixed;
  double value = 0.5;  // fixed: the threshold; sensitivity/specificity: the target rate
};
/// "0.5", "youden", "sensitivity@0.90", "specificity@0.95".
std::string to_string(const ThresholdRule& t);

/// Which ranked trial becomes the model of the week (docs/leaderboard.md).
struct SelectionSpec {
  enum class Rule { best, one_se };
  Rule rule = Rule::best;
  double alpha = 0.05;  // significance level of the paired test used by one_se
  ThresholdRule threshold;
};
const char* to_string(SelectionSpec::Rule r);  // "best" | "one_se"

struct Resources {
  int replicas = 1;  // ranks per trial (data-parallel group size)
  // GPUs per replica: 0 = CPU, 1 = a whole device, 1/n (n = 2..64) = a share of one device
  // that n ranks use at once (Ray Tune's fractional GPUs); parse stores the exact 1/n.
  double gpus = 0;
  int threads = 0;   // threads per rank (0 = cores on the node / ranks on the node)
  // Idle ranks lend their threads to running single-rank CPU trials on their host when no
  // trial waits to start (orchestrator/thread_lending.h).
  bool lend_idle_threads = true;
};

struct EarlyStopping {
  std::string policy = "fifo";  // fifo (none) | median | asha
  std::string metric;           // default: the sweep metric
  int grace_epochs = 1;         // epochs before a trial may be stopped
  double reduction_factor = 3;  // asha
  int min_trials = 3;           // median: trials needed at an epoch before stopping
  /// asha: the rung epochs, increasing; empty = grace_epochs * reduction_factor^k. W&B's
  /// early_terminate (hyperband) sets them to its brackets.
  std::vector<int> rungs;
};

/// Which checkpoints a sweep keeps once trials finish (docs/sweep-spec.md, "checkpoints").
/// Running and resumable trials always keep what resuming needs; this is about the others.
struct CheckpointPolicy {
  enum class Keep { best, last, best_and_last };
  /// Finished trials outside the best `keep_top_trials` by the sweep metric keep no weights;
  /// nullopt ("all") keeps every finished trial's weights.
  std::optional<int> keep_top_trials = 5;
  Keep keep = Keep::best_and_last;  // which epochs' weights a kept trial keeps
};
const char* to_string(CheckpointPolicy::Keep k);  // "best" | "last" | "best_and_last"
/// The inverse of to_string; nullopt for any other text.
std::optional<CheckpointPolicy::Keep> keep_from_string(const std::string& text);

struct SlurmDefaults {
  std::string partition, account, qos;
  std::string time = "01:00:00";
  int nodes = 1;
  int ntasks_per_node = 2;
  int gpus_per_node = 0;
  int cpus_per_task = 1;
  int signal_grace = 120;  // seconds of warning before the time limit (USR1)
  int max_requeues = 3;
  int max_relaunches = 3;  // relaunches after a process of the job died (supervise)
};

struct SweepSpec {
  std::string name;
  std::uint64_t seed = 0;
  Method method = Method::variants;
  std::optional<int> max_trials;
  /// W&B's run_cap: at most this many trials (random: the number of draws when max_trials
  /// is not given; grid: the first run_cap grid points).
  std::optional<int> run_cap;
  /// method bayes: trials drawn at random before TPE takes over (sweeps/tpe.h).
  int n_startup_trials = 10;
  MetricSpec metric;
  SelectionSpec selection;
  DataSpec data;
  TrainingParams training;                 // defaults every trial inherits
  std::vector<std::pair<std::string, Domain>> parameters;  // in file order
  std::vector<Variant> variants;
  Resources resources;
  EarlyStopping early_stopping;
  int retries = 0;
  CheckpointPolicy checkpoints;
  SlurmDefaults slurm;

  std::string source_path;  // the file it came from ("<string>" when parsed from text)
  /// Its exact text, then one "# --set KEY=VALUE" line per override (stored with results;
  /// resume compares it).
  std::string source_text;
  std::vector<std::string> overrides;  // the "--set" overrides, in order
  /// The spec as it runs: the file with every override applied, as YAML. Equal to the
  /// file's text when there is no override. Everything read back after the run (resume,
  /// status, leaderboard, export, evaluate) parses this one.
  std::string effective_text;
  /// "file:line:col: note: ..." lines: what parsing decided that the user should see (a W&B
  /// file's ignored server keys, exponent bounds, the early-stopping mapping). `plan` and
  /// `run` print them.
  std::vector<std::string> notes;
};

/// How many trials a random or bayes sweep runs: the smaller of max_trials and W&B's run_cap
/// where given, 0 when neither is.
int trial_budget(const SweepSpec& spec);

/// Largest grid that expands without an explicit max_trials allowing it.
inline constexpr int kGridCap = 64;

}  // namespace mammosweep::sweeps
