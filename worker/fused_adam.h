#pragma once
// Adam and AdamW whose step() runs ATen's fused kernels (at::_fused_adam_, at::_fused_adamw_:
// one pass over each parameter's value, gradient and two moments) instead of LibTorch's
// per-parameter sequence of eight tensor operations with temporaries (torch::optim::Adam::step,
// like PyTorch's default on the CPU). Same update rule, same state (AdamParamState,
// AdamWParamState: checkpoints and worker/optimizer_state.h see plain Adam and AdamW), the same
// numbers up to float rounding (tests/worker/fused_adam_test.cpp). Unfused, the optimizer step
// over the week-7 variants' 20 M trainable parameters made a 64 px training step 7 % longer
// (docs/performance.md section 7, "The optimizer step").
//
// amsgrad, and parameters whose gradient does not share their memory layout, take the
// unfused step (the kernels walk the four tensors' storage in step).
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>

#include <cstdint>

namespace mammosweep::worker {

struct AdamKernel;   // at::_fused_adam_, over AdamOptions and AdamParamState
struct AdamWKernel;  // at::_fused_adamw_, over AdamWOptions and AdamWParamState

/// Whether a fused kernel may walk `value`'s and `grad`'s storages in step: the same sizes, dense,
/// and the same strides in every dimension of size above 1.
bool same_layout(const torch::Tensor& value, const torch::Tensor& grad);

/// `Base` (torch::optim::Adam or AdamW) stepping with `Kernel`.
template <class Base, class Kernel>
class Fused : public Base {
 public:
  using Base::Base;
  torch::Tensor step(torch::optim::Optimizer::LossClosure closure = nullptr) override;
  /// Steps taken by the fused kernel (the others took the unfused one).
  std::int64_t fused_steps() const { return fused_steps_; }

 private:
  std::int64_t fused_steps_ = 0;
};

using FusedAdam = Fused<torch::optim::Adam, AdamKernel>;
using FusedAdamW = Fused<torch::optim::AdamW, AdamWKernel>;
extern template class Fused<torch::optim::Adam, AdamKernel>;
extern template class Fused<torch::optim::AdamW, AdamWKernel>;

}  // namespace mammosweep::worker
