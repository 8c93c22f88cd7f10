#pragma once
// RMSprop whose step() is one pass over each parameter's value, gradient and running square
// (a loop of this file's, as ATen has no fused RMSprop) instead of LibTorch's per-parameter
// sequence of five tensor operations and a temporary (torch::optim::RMSprop::step, like
// PyTorch's default on the CPU): about 13 passes over the trainable weights' memory become 5.
// Same update rule, same state (RMSpropParamState: checkpoints and worker/optimizer_state.h see
// plain RMSprop), the same numbers up to float rounding (tests/worker/fused_rmsprop_test.cpp).
//
// momentum, centered, tensors other than float32 on the CPU, and parameters whose gradient or
// running square does not share their memory layout take LibTorch's step.
#include <torch/optim/rmsprop.h>

#include <cstdint>

namespace mammosweep::worker {

class FusedRMSprop : public torch::optim::RMSprop {
 public:
  using torch::optim::RMSprop::RMSprop;
  torch::Tensor step(LossClosure closure = nullptr) override;
  /// Steps taken by the fused loop (the others took LibTorch's).
  std::int64_t fused_steps() const { return fused_steps_; }

 private:
  /// Whether every parameter with a gradient can take the fused loop (see above).
  bool fusable() const;
  std::int64_t fused_steps_ = 0;
};

}  // namespace mammosweep::worker
