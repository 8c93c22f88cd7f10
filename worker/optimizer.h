#pragma once
// The optimizer and the learning-rate schedule of a trial (sweeps::TrainingParams). To add an
// optimizer: its name in the `optimizer` row of sweeps/params.cpp, a branch here, its state's
// fields in worker/optimizer_state.cpp (checkpoints), a line in docs/sweep-spec.md.
#include <torch/optim/optimizer.h>

#include <memory>
#include <vector>

#include "sweeps/params.h"

namespace mammosweep::worker {

/// adam, adamw (both stepping with ATen's fused kernels: worker/fused_adam.h), rmsprop (one
/// fused pass: worker/fused_rmsprop.h; Keras' defaults: rho 0.9, eps 1e-7, no momentum) or sgd
/// (momentum, nesterov), with the trial's lr and weight decay. Throws std::invalid_argument for another.
std::unique_ptr<torch::optim::Optimizer> make_optimizer(const std::vector<torch::Tensor>& params,
                                                        const sweeps::TrainingParams& p);

/// Learning rate of `epoch` (1-based): constant; step (lr * gamma^floor((epoch-1)/step));
/// cosine (lr * (1 + cos(pi * (epoch-1) / epochs)) / 2).
double lr_at(const sweeps::TrainingParams& p, int epoch);

}  // namespace mammosweep::worker
