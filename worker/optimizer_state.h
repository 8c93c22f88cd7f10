#pragma once
// An optimizer's per-parameter state as named tensors, for checkpoints (worker/checkpoint.h):
// "<parameter name>.<field>", with the fields LibTorch keeps for each optimizer of
// worker/optimizer.h:
//   adam, adamw: step, exp_avg, exp_avg_sq, max_exp_avg_sq (amsgrad only)
//   rmsprop:     step, square_avg, momentum_buffer, grad_avg (the last two when used)
//   sgd:         momentum_buffer (momentum > 0 only)
// step is a 0-dim int64 tensor. A parameter without state (no step taken yet) has no entries.
#include <torch/optim/optimizer.h>

#include <map>
#include <string>

#include "worker/safetensors.h"

namespace mammosweep::worker {

/// Parameter names by TensorImpl, as optimizers key their state.
using ParameterNames = std::map<const void*, std::string>;

/// The state's tensors, in parameter order. They alias the live state (no copy): take them,
/// copy them, let them go before the next step.
NamedTensors optimizer_state_tensors(torch::optim::Optimizer& optimizer,
                                     const ParameterNames& names);

/// Replaces the optimizer's state with copies of `state` (what optimizer_state_tensors gave,
/// by name; each on its parameter's device and memory format). Throws std::runtime_error
/// naming the tensor when one has another shape or dtype than its parameter's state needs,
/// names no parameter or field of this optimizer, or when a parameter's fields are
/// incomplete.
void load_optimizer_state(torch::optim::Optimizer& optimizer, const ParameterNames& names,
                          const std::map<std::string, torch::Tensor>& state);

}  // namespace mammosweep::worker
