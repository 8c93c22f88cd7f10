#include "worker/optimizer.h"

#include <torch/optim.h>

#include <cmath>
#include <stdexcept>

#include "worker/fused_adam.h"
#include "worker/fused_rmsprop.h"

namespace mammosweep::worker {

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const std::vector<torch::Tensor>& params,
                                                        const sweeps::TrainingParams& p) {
  if (p.optimizer == "adam") {
    return std::make_unique<FusedAdam>(
        params, torch::optim::AdamOptions(p.lr).weight_decay(p.weight_decay));
  }
  if (p.optimizer == "adamw") {
    return std::make_unique<FusedAdamW>(
        params, torch::optim::AdamWOptions(p.lr).weight_decay(p.weight_decay));
  }
  if (p.optimizer == "rmsprop") {
    // Keras' RMSprop (the report's): rho 0.9, no momentum, eps 1e-7.
    return std::make_unique<FusedRMSprop>(
        params,
        torch::optim::RMSpropOptions(p.lr).alpha(0.9).eps(1e-7).weight_decay(p.weight_decay));
  }
  if (p.optimizer == "sgd") {
    return std::make_unique<torch::optim::SGD>(
        params, torch::optim::SGDOptions(p.lr)
                    .momentum(p.momentum)
                    .nesterov(p.nesterov)
                    .weight_decay(p.weight_decay));
  }
  throw std::invalid_argument("unknown optimizer " + p.optimizer);
}

/// Learning rate of `epoch` (1-based) under the trial's schedule.
double lr_at(const sweeps::TrainingParams& p, int epoch) {
  if (p.lr_schedule == "step") {
    return p.lr * std::pow(p.lr_gamma, (epoch - 1) / p.lr_step_epochs);
  }
  if (p.lr_schedule == "cosine") {
    const double pi = std::acos(-1.0);
    return p.lr * 0.5 * (1.0 + std::cos(pi * (epoch - 1) / p.epochs));
  }
  return p.lr;
}

}  // namespace mammosweep::worker
