#include "worker/fused_adam.h"

#include <ATen/ops/_fused_adam.h>
#include <ATen/ops/_fused_adamw.h>
#include <ATen/ops/full.h>
#include <ATen/ops/zeros_like.h>
#include <torch/utils.h>

#include <tuple>
#include <vector>

namespace mammosweep::worker {
namespace {

// Same strides and a dense, non-overlapping storage: the fused kernels walk the storages of
// the value, the gradient and the moments in step.
bool same_layout(const torch::Tensor& a, const torch::Tensor& b) {
  return a.sizes() == b.sizes() && a.strides() == b.strides() && a.is_non_overlapping_and_dense();
}

// One step of Adam or AdamW (Kernel: at::_fused_adam_ or at::_fused_adamw_) over `optimizer`'s
// groups; returns false, having changed nothing, when a parameter needs the unfused step.
template <class Options, class State, class Kernel>
bool fused_step(torch::optim::Optimizer& optimizer,
                ska::flat_hash_map<void*, std::unique_ptr<torch::optim::OptimizerParamState>>& state,
                Kernel kernel) {
  for (auto& group : optimizer.param_groups()) {
    if (static_cast<const Options&>(group.options()).amsgrad()) return false;
    for (const auto& p : group.params()) {
      if (p.grad().defined() && !same_layout(p, p.grad())) return false;
    }
  }
  for (auto& group : optimizer.param_groups()) {
    const auto& o = static_cast<const Options&>(group.options());
    std::vector<torch::Tensor> params, grads, exp_avgs, exp_avg_sqs, steps;
    for (const auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      auto& slot = state[p.unsafeGetTensorImpl()];
      if (!slot) {  // as torch::optim::Adam::step initialises it
        auto s = std::make_unique<State>();
        s->step(0);
        s->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        s->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        slot = std::move(s);
      }
      auto& s = static_cast<State&>(*slot);
      s.step(s.step() + 1);
      params.push_back(p);
      grads.push_back(p.grad());
      exp_avgs.push_back(s.exp_avg());
      exp_avg_sqs.push_back(s.exp_avg_sq());
      // The kernels read each parameter's step count, already incremented, from a tensor.
      steps.push_back(at::full({}, static_cast<double>(s.step()), p.options().dtype(at::kFloat)));
    }
    if (params.empty()) continue;
    const auto [beta1, beta2] = o.betas();
    const std::vector<torch::Tensor> max_exp_avg_sqs;  // amsgrad only
    kernel(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, o.lr(), beta1,
           beta2, o.weight_decay(), o.eps(), /*amsgrad=*/false, /*maximize=*/false);
  }
  return true;
}

}  // namespace

torch::Tensor FusedAdam::step(LossClosure closure) {
  torch::NoGradGuard no_grad;
  torch::Tensor loss;
  if (closure) {
    at::AutoGradMode enable_grad(true);
    loss = closure();
  }
  auto kernel = [](auto&&... args) { at::_fused_adam_(args...); };
  if (fused_step<torch::optim::AdamOptions, torch::optim::AdamParamState>(*this, state_, kernel)) {
    ++fused_steps_;
  } else {
    torch::optim::Adam::step();
  }
  return loss;
}

torch::Tensor FusedAdamW::step(LossClosure closure) {
  torch::NoGradGuard no_grad;
  torch::Tensor loss;
  if (closure) {
    at::AutoGradMode enable_grad(true);
    loss = closure();
  }
  auto kernel = [](auto&&... args) { at::_fused_adamw_(args...); };
  if (fused_step<torch::optim::AdamWOptions, torch::optim::AdamWParamState>(*this, state_, kernel)) {
    ++fused_steps_;
  } else {
    torch::optim::AdamW::step();
  }
  return loss;
}

}  // namespace mammosweep::worker
