#pragma once
// Training parameters: the typed struct every trial resolves to, and the registry that
// names, types and range-checks each of its fields. The registry is the one place that
// knows parameter names: YAML parsing, sweeping, serialisation and tables all go through it.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace mammosweep::sweeps {

/// A parameter value as written in a spec: bool, integer, real or string.
using Value = std::variant<bool, std::int64_t, double, std::string>;

/// Shortest text that reads back to the same value (doubles round-trip exactly).
std::string to_text(const Value& v);

struct Augmentation {
  bool hflip = true;
  bool vflip = false;
  double brightness = 0.2;  // factor drawn from [1-b, 1+b]
  double contrast = 0.2;    // factor drawn from [1-c, 1+c]
  double saturation = 0.2;  // factor drawn from [1-s, 1+s]
};

/// Everything one trial needs to train. Every field is a sweepable parameter; its name in
/// specs is the field name ("lr") or "augmentation.<field>".
struct TrainingParams {
  int epochs = 7;
  int batch_size = 32;
  std::string optimizer = "adam";  // adam | adamw | rmsprop | sgd
  double lr = 1e-4;
  double weight_decay = 0.0;
  double momentum = 0.9;           // sgd (rmsprop follows Keras: rho 0.9, no momentum)
  bool nesterov = false;           // sgd
  std::string lr_schedule = "none";  // none | step | cosine
  int lr_step_epochs = 3;          // step schedule: decay every N epochs
  double lr_gamma = 0.1;           // step schedule: multiply by gamma
  double unfrozen_fraction = 0.5;  // last ceil(f*L) backbone layers train
  int dense_units = 1024;
  double dropout = 0.5;
  std::string loss = "cross_entropy";
  double label_smoothing = 0.0;
  Augmentation augmentation;
  std::string balancing = "oversample";  // oversample | class_weights | none
  std::string precision = "fp32";        // fp32 | bf16
  bool channels_last = false;
  int threads = 0;                        // intra-op threads; 0 = cores per rank
  std::string weights = "none";           // safetensors path, or none
};

/// The allowed values of a number, in interval notation: each end is included unless it is
/// marked exclusive, and a missing end is unbounded. The helpers below read as the notation
/// does (left end, then right end): closed_open(0, 1) is [0, 1).
struct Interval {
  std::optional<double> min, max;
  bool min_exclusive = false, max_exclusive = false;
};
Interval at_least(double min);                 // [min, inf)
Interval greater_than(double min);             // (min, inf)
Interval closed(double min, double max);       // [min, max]
Interval open_open(double min, double max);    // (min, max)
Interval closed_open(double min, double max);  // [min, max)
Interval open_closed(double min, double max);  // (min, max]

enum class ParamType { boolean, integer, real, string };
const char* to_string(ParamType t);

/// Description of one parameter: its name, type, allowed range or choices, and how to
/// read and write it on a TrainingParams.
struct ParamDef {
  std::string name;
  ParamType type;
  std::string help;
  Interval range;  // numeric bounds (unbounded for strings and booleans)
  std::vector<std::string> choices;  // allowed strings; empty = any string
  std::function<Value(const TrainingParams&)> get;
  std::function<void(TrainingParams&, const Value&)> set;

  /// Empty when `v` is allowed; otherwise what was expected ("a number in [0, 1)").
  std::string check(const Value& v) const;
  /// The expected-value phrase used in error messages.
  std::string expected() const;
};

/// All parameters in a fixed, documented order.
const std::vector<ParamDef>& param_defs();
/// The definition named `name`, or nullptr.
const ParamDef* find_param(const std::string& name);

/// Canonical flat map name -> value of every parameter (the basis of trial ids).
std::map<std::string, Value> flatten(const TrainingParams& p);

}  // namespace mammosweep::sweeps
