#ifndef FMT_HEADER_ONLY
#define FMT_HEADER_ONLY  // LibTorch's fmt headers shadow the system's (see safetensors.cpp)
#endif
#include "worker/optimizer_state.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/optim.h>

#include <functional>
#include <memory>
#include <set>
#include <stdexcept>
#include <utility>
#include <vector>

namespace mammosweep::worker {
namespace {

// One optimizer's state type: its tensor fields, read and written through the state object.
// A field the optimizer does not use is undefined in the state and absent from the file.
struct Field {
  const char* name;
  std::function<torch::Tensor(torch::optim::OptimizerParamState&)> get;
  std::function<void(torch::optim::OptimizerParamState&, torch::Tensor)> set;
};

struct StateKind {
  std::function<bool(const torch::optim::Optimizer&)> is;
  std::function<std::unique_ptr<torch::optim::OptimizerParamState>()> make;
  bool has_step;
  std::function<std::int64_t(torch::optim::OptimizerParamState&)> step;
  std::function<void(torch::optim::OptimizerParamState&, std::int64_t)> set_step;
  std::vector<Field> fields;  // the first `required` are always there once a step is taken
  std::size_t required;
};

#define MAMMOSWEEP_FIELD(S, f)                                                               \
  Field {                                                                                    \
    #f, [](torch::optim::OptimizerParamState& s) { return static_cast<S&>(s).f(); },        \
        [](torch::optim::OptimizerParamState& s, torch::Tensor t) { static_cast<S&>(s).f(t); } \
  }

template <class O, class S>
StateKind adam_like() {
  return {[](const torch::optim::Optimizer& o) { return dynamic_cast<const O*>(&o) != nullptr; },
          [] { return std::make_unique<S>(); },
          true,
          [](torch::optim::OptimizerParamState& s) { return static_cast<S&>(s).step(); },
          [](torch::optim::OptimizerParamState& s, std::int64_t n) { static_cast<S&>(s).step(n); },
          {MAMMOSWEEP_FIELD(S, exp_avg), MAMMOSWEEP_FIELD(S, exp_avg_sq),
           MAMMOSWEEP_FIELD(S, max_exp_avg_sq)},
          2};
}

const std::vector<StateKind>& kinds() {
  using namespace torch::optim;
  static const std::vector<StateKind> all = {
      adam_like<Adam, AdamParamState>(),
      adam_like<AdamW, AdamWParamState>(),
      {[](const Optimizer& o) { return dynamic_cast<const RMSprop*>(&o) != nullptr; },
       [] { return std::make_unique<RMSpropParamState>(); },
       true,
       [](OptimizerParamState& s) { return static_cast<RMSpropParamState&>(s).step(); },
       [](OptimizerParamState& s, std::int64_t n) { static_cast<RMSpropParamState&>(s).step(n); },
       {MAMMOSWEEP_FIELD(RMSpropParamState, square_avg),
        MAMMOSWEEP_FIELD(RMSpropParamState, momentum_buffer),
        MAMMOSWEEP_FIELD(RMSpropParamState, grad_avg)},
       1},
      {[](const Optimizer& o) { return dynamic_cast<const SGD*>(&o) != nullptr; },
       [] { return std::make_unique<SGDParamState>(); },
       false,
       nullptr,
       nullptr,
       {MAMMOSWEEP_FIELD(SGDParamState, momentum_buffer)},
       1},
  };
  return all;
}

#undef MAMMOSWEEP_FIELD

const StateKind& kind_of(const torch::optim::Optimizer& optimizer) {
  for (const StateKind& k : kinds()) {
    if (k.is(optimizer)) return k;
  }
  throw std::runtime_error("checkpoints do not know this optimizer's state (worker/optimizer_state.cpp)");
}

// Every parameter of the optimizer with its name, in parameter order.
std::vector<std::pair<torch::Tensor, std::string>> named_params(torch::optim::Optimizer& optimizer,
                                                                const ParameterNames& names) {
  std::vector<std::pair<torch::Tensor, std::string>> out;
  for (auto& group : optimizer.param_groups()) {
    for (auto& p : group.params()) {
      auto it = names.find(p.unsafeGetTensorImpl());
      if (it == names.end()) throw std::runtime_error("the optimizer has a parameter the model does not name");
      out.emplace_back(p, it->second);
    }
  }
  return out;
}

}  // namespace

NamedTensors optimizer_state_tensors(torch::optim::Optimizer& optimizer, const ParameterNames& names) {
  const StateKind& kind = kind_of(optimizer);
  NamedTensors out;
  for (const auto& [p, name] : named_params(optimizer, names)) {
    auto it = optimizer.state().find(p.unsafeGetTensorImpl());
    if (it == optimizer.state().end()) continue;
    torch::optim::OptimizerParamState& s = *it->second;
    if (kind.has_step) out.emplace_back(name + ".step", torch::scalar_tensor(kind.step(s), torch::kInt64));
    for (const Field& f : kind.fields) {
      torch::Tensor t = f.get(s);
      if (t.defined()) out.emplace_back(name + "." + f.name, std::move(t));
    }
  }
  return out;
}

void load_optimizer_state(torch::optim::Optimizer& optimizer, const ParameterNames& names,
                          const std::map<std::string, torch::Tensor>& state) {
  const StateKind& kind = kind_of(optimizer);
  std::set<std::string> used;
  ska::flat_hash_map<void*, std::unique_ptr<torch::optim::OptimizerParamState>> loaded;
  torch::NoGradGuard no_grad;
  for (const auto& [p, name] : named_params(optimizer, names)) {
    std::unique_ptr<torch::optim::OptimizerParamState> s = kind.make();
    int found = 0;
    if (kind.has_step) {
      auto it = state.find(name + ".step");
      if (it != state.end()) {
        if (it->second.numel() != 1 || it->second.scalar_type() != torch::kInt64) {
          throw std::runtime_error(fmt::format("tensor '{}.step' must be one int64", name));
        }
        kind.set_step(*s, it->second.item<std::int64_t>());
        used.insert(it->first);
        ++found;
      }
    }
    for (std::size_t i = 0; i < kind.fields.size(); ++i) {
      const Field& f = kind.fields[i];
      auto it = state.find(name + "." + f.name);
      if (it == state.end()) {
        if (i < kind.required && found > 0) {
          throw std::runtime_error(fmt::format("the optimizer state of '{}' has no {}", name, f.name));
        }
        continue;
      }
      const torch::Tensor& t = it->second;
      if (t.sizes() != p.sizes() || t.scalar_type() != p.scalar_type()) {
        throw std::runtime_error(fmt::format(
            "tensor '{}.{}' is {} [{}], its parameter is {} [{}]", name, f.name,
            c10::toString(t.scalar_type()), fmt::join(t.sizes(), ", "),
            c10::toString(p.scalar_type()), fmt::join(p.sizes(), ", ")));
      }
      torch::Tensor copy = torch::empty_like(p);  // the parameter's device and memory format
      copy.copy_(t);
      f.set(*s, std::move(copy));
      used.insert(it->first);
      ++found;
    }
    if (found == 0) continue;  // no step taken for this parameter yet
    if (kind.has_step && state.find(name + ".step") == state.end()) {
      throw std::runtime_error(fmt::format("the optimizer state of '{}' has no step", name));
    }
    loaded[p.unsafeGetTensorImpl()] = std::move(s);
  }
  for (const auto& [key, t] : state) {
    if (used.count(key) == 0) {
      throw std::runtime_error(fmt::format("tensor '{}' is no state of this optimizer's parameters", key));
    }
  }
  optimizer.state() = std::move(loaded);
}

}  // namespace mammosweep::worker
