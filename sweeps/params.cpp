#include "sweeps/params.h"

#include <fmt/format.h>

#include <cmath>
#include <cstdio>

namespace mammosweep::sweeps {

std::string to_text(const Value& v) {
  struct Visitor {
    std::string operator()(bool b) const { return b ? "true" : "false"; }
    std::string operator()(std::int64_t i) const { return std::to_string(i); }
    std::string operator()(double d) const {
      // Shortest representation that reads back exactly.
      for (int precision = 1; precision <= 17; ++precision) {
        char buf[40];
        std::snprintf(buf, sizeof buf, "%.*g", precision, d);
        if (std::strtod(buf, nullptr) == d) return buf;
      }
      return fmt::format("{:.17g}", d);
    }
    std::string operator()(const std::string& s) const { return s; }
  };
  return std::visit(Visitor{}, v);
}

Interval at_least(double min) {
  Interval i;
  i.min = min;
  return i;
}
Interval greater_than(double min) {
  Interval i = at_least(min);
  i.min_exclusive = true;
  return i;
}
Interval closed(double min, double max) {
  Interval i;
  i.min = min;
  i.max = max;
  return i;
}
Interval open_open(double min, double max) {
  Interval i = closed(min, max);
  i.min_exclusive = i.max_exclusive = true;
  return i;
}
Interval closed_open(double min, double max) {
  Interval i = closed(min, max);
  i.max_exclusive = true;
  return i;
}
Interval open_closed(double min, double max) {
  Interval i = closed(min, max);
  i.min_exclusive = true;
  return i;
}

const char* to_string(ParamType t) {
  switch (t) {
    case ParamType::boolean: return "a boolean";
    case ParamType::integer: return "an integer";
    case ParamType::real: return "a number";
    case ParamType::string: return "a string";
  }
  return "?";
}

std::string ParamDef::expected() const {
  if (!choices.empty()) {
    std::string list;
    for (std::size_t i = 0; i < choices.size(); ++i) {
      list += (i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ") + choices[i];
    }
    return "one of " + list;
  }
  std::string phrase = to_string(type);
  const auto& [min, max, min_exclusive, max_exclusive] = range;
  if (min && max) {
    phrase += fmt::format(" in {}{}, {}{}", min_exclusive ? "(" : "[", to_text(*min),
                          to_text(*max), max_exclusive ? ")" : "]");
  } else if (min) {
    phrase += fmt::format(" {} {}", min_exclusive ? ">" : ">=", to_text(*min));
  } else if (max) {
    phrase += fmt::format(" {} {}", max_exclusive ? "<" : "<=", to_text(*max));
  }
  return phrase;
}

std::string ParamDef::check(const Value& v) const {
  bool type_ok = false;
  double number = 0;
  switch (type) {
    case ParamType::boolean: type_ok = std::holds_alternative<bool>(v); break;
    case ParamType::integer:
      type_ok = std::holds_alternative<std::int64_t>(v);
      if (type_ok) number = static_cast<double>(std::get<std::int64_t>(v));
      break;
    case ParamType::real:
      if (std::holds_alternative<double>(v)) {
        type_ok = true;
        number = std::get<double>(v);
      } else if (std::holds_alternative<std::int64_t>(v)) {
        type_ok = true;
        number = static_cast<double>(std::get<std::int64_t>(v));
      }
      if (type_ok && !std::isfinite(number)) type_ok = false;
      break;
    case ParamType::string: type_ok = std::holds_alternative<std::string>(v); break;
  }
  if (!type_ok) return expected();
  if (type == ParamType::string) {
    if (choices.empty()) return {};
    for (const auto& c : choices) {
      if (c == std::get<std::string>(v)) return {};
    }
    return expected();
  }
  if (type == ParamType::integer || type == ParamType::real) {
    const auto& [min, max, min_exclusive, max_exclusive] = range;
    if (min && (min_exclusive ? number <= *min : number < *min)) return expected();
    if (max && (max_exclusive ? number >= *max : number > *max)) return expected();
  }
  return {};
}

namespace {

double as_real(const Value& v) {
  if (std::holds_alternative<std::int64_t>(v)) return static_cast<double>(std::get<std::int64_t>(v));
  return std::get<double>(v);
}

ParamDef base(std::string name, ParamType type, std::string help) {
  ParamDef d;
  d.name = std::move(name);
  d.type = type;
  d.help = std::move(help);
  return d;
}

// Builders: each takes an accessor returning a reference to the field.
template <class Access>
ParamDef boolean(std::string name, std::string help, Access ref) {
  ParamDef d = base(std::move(name), ParamType::boolean, std::move(help));
  d.get = [ref](const TrainingParams& p) { return Value{ref(const_cast<TrainingParams&>(p))}; };
  d.set = [ref](TrainingParams& p, const Value& v) { ref(p) = std::get<bool>(v); };
  return d;
}

template <class Access>
ParamDef integer(std::string name, std::string help, Access ref, std::optional<double> min,
                 std::optional<double> max = std::nullopt) {
  ParamDef d = base(std::move(name), ParamType::integer, std::move(help));
  d.range.min = min;
  d.range.max = max;
  d.get = [ref](const TrainingParams& p) {
    return Value{static_cast<std::int64_t>(ref(const_cast<TrainingParams&>(p)))};
  };
  d.set = [ref](TrainingParams& p, const Value& v) {
    ref(p) = static_cast<int>(std::get<std::int64_t>(v));
  };
  return d;
}

template <class Access>
ParamDef real(std::string name, std::string help, Access ref, const Interval& range) {
  ParamDef d = base(std::move(name), ParamType::real, std::move(help));
  d.range = range;
  d.get = [ref](const TrainingParams& p) { return Value{ref(const_cast<TrainingParams&>(p))}; };
  d.set = [ref](TrainingParams& p, const Value& v) { ref(p) = as_real(v); };
  return d;
}

template <class Access>
ParamDef string(std::string name, std::string help, Access ref,
                std::vector<std::string> choices) {
  ParamDef d = base(std::move(name), ParamType::string, std::move(help));
  d.choices = std::move(choices);
  d.get = [ref](const TrainingParams& p) { return Value{ref(const_cast<TrainingParams&>(p))}; };
  d.set = [ref](TrainingParams& p, const Value& v) { ref(p) = std::get<std::string>(v); };
  return d;
}

#define MS_FIELD(expr) [](TrainingParams & p) -> auto& { return p.expr; }

std::vector<ParamDef> make_defs() {
  return {
      integer("epochs", "training epochs", MS_FIELD(epochs), 1),
      integer("batch_size", "images per step per replica", MS_FIELD(batch_size), 1),
      string("optimizer", "optimizer", MS_FIELD(optimizer), {"adam", "adamw", "rmsprop", "sgd"}),
      real("lr", "learning rate", MS_FIELD(lr), greater_than(0.0)),
      real("weight_decay", "L2 weight decay", MS_FIELD(weight_decay), at_least(0.0)),
      real("momentum", "momentum (sgd)", MS_FIELD(momentum), closed_open(0.0, 1.0)),
      boolean("nesterov", "Nesterov momentum (sgd)", MS_FIELD(nesterov)),
      string("lr_schedule", "learning-rate schedule", MS_FIELD(lr_schedule),
             {"none", "step", "cosine"}),
      integer("lr_step_epochs", "step schedule: epochs between decays", MS_FIELD(lr_step_epochs), 1),
      real("lr_gamma", "step schedule: decay factor", MS_FIELD(lr_gamma), open_closed(0.0, 1.0)),
      real("unfrozen_fraction", "fraction of backbone layers (last first) that train",
           MS_FIELD(unfrozen_fraction), closed(0.0, 1.0)),
      integer("dense_units", "units of the head's dense layer", MS_FIELD(dense_units), 1),
      real("dropout", "dropout before the output layer", MS_FIELD(dropout), closed_open(0.0, 1.0)),
      string("loss", "loss function", MS_FIELD(loss), {"cross_entropy"}),
      real("label_smoothing", "label smoothing", MS_FIELD(label_smoothing), closed_open(0.0, 1.0)),
      boolean("augmentation.hflip", "random horizontal flip (train only)",
              MS_FIELD(augmentation.hflip)),
      boolean("augmentation.vflip", "random vertical flip (train only)",
              MS_FIELD(augmentation.vflip)),
      real("augmentation.brightness", "brightness jitter b: factor in [1-b, 1+b]",
           MS_FIELD(augmentation.brightness), closed(0.0, 1.0)),
      real("augmentation.contrast", "contrast jitter c: factor in [1-c, 1+c]",
           MS_FIELD(augmentation.contrast), closed(0.0, 1.0)),
      real("augmentation.saturation", "saturation jitter s: factor in [1-s, 1+s]",
           MS_FIELD(augmentation.saturation), closed(0.0, 1.0)),
      string("balancing", "class balancing of the training split", MS_FIELD(balancing),
             {"oversample", "class_weights", "none"}),
      string("precision", "numeric precision", MS_FIELD(precision), {"fp32", "bf16"}),
      boolean("channels_last", "channels-last memory format", MS_FIELD(channels_last)),
      integer("threads", "intra-op threads per rank (0 = cores / ranks on the node)",
              MS_FIELD(threads), 0),
      string("weights", "backbone weights: a safetensors path, or none", MS_FIELD(weights), {}),
  };
}
#undef MS_FIELD

}  // namespace

const std::vector<ParamDef>& param_defs() {
  static const std::vector<ParamDef> defs = make_defs();
  return defs;
}

const ParamDef* find_param(const std::string& name) {
  for (const auto& d : param_defs()) {
    if (d.name == name) return &d;
  }
  return nullptr;
}

std::map<std::string, Value> flatten(const TrainingParams& p) {
  std::map<std::string, Value> out;
  for (const auto& d : param_defs()) out.emplace(d.name, d.get(p));
  return out;
}

}  // namespace mammosweep::sweeps
