#include "worker/fused_adam.h"

#include <ATen/ops/_fused_adam.h>
#include <ATen/ops/_fused_adamw.h>
#include <ATen/ops/full.h>
#include <ATen/ops/zeros_like.h>
#include <torch/utils.h>

#include <memory>
#include <tuple>
#include <utility>
#include <vector>

namespace mammosweep::worker {

struct AdamKernel {
  using Options = torch::optim::AdamOptions;
  using State = torch::optim::AdamParamState;
  template <class... Args>
  static void run(Args&&... args) {
    at::_fused_adam_(std::forward<Args>(args)...);
  }
};

struct AdamWKernel {
  using Options = torch::optim::AdamWOptions;
  using State = torch::optim::AdamWParamState;
  template <class... Args>
  static void run(Args&&... args) {
    at::_fused_adamw_(std::forward<Args>(args)...);
  }
};

// A dimension of size 1 is never stepped over, so its stride does not matter: a 1x1
// convolution's ChannelsLast weight has strides (I, 1, I, I) and the gradient ATen returns for
// it (I, 1, 1, 1), the same memory order.
bool same_layout(const torch::Tensor& a, const torch::Tensor& b) {
  if (a.sizes() != b.sizes() || !a.is_non_overlapping_and_dense() ||
      !b.is_non_overlapping_and_dense()) {
    return false;
  }
  for (std::int64_t d = 0; d < a.dim(); ++d) {
    if (a.size(d) != 1 && a.stride(d) != b.stride(d)) return false;
  }
  return true;
}

template <class Base, class Kernel>
torch::Tensor Fused<Base, Kernel>::step(torch::optim::Optimizer::LossClosure closure) {
  using Options = typename Kernel::Options;
  using State = typename Kernel::State;
  torch::NoGradGuard no_grad;
  torch::Tensor loss;
  if (closure) {
    at::AutoGradMode enable_grad(true);
    loss = closure();
  }
  bool fusable = true;
  for (auto& group : this->param_groups()) {
    fusable = fusable && !static_cast<const Options&>(group.options()).amsgrad();
    for (const auto& p : group.params()) {
      fusable = fusable && (!p.grad().defined() || same_layout(p, p.grad()));
    }
  }
  if (!fusable) {
    Base::step();
    return loss;
  }
  for (auto& group : this->param_groups()) {
    const auto& o = static_cast<const Options&>(group.options());
    std::vector<torch::Tensor> params, grads, exp_avgs, exp_avg_sqs, steps;
    for (const auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      auto& slot = this->state_[p.unsafeGetTensorImpl()];
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
    Kernel::run(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, o.lr(), beta1, beta2,
                o.weight_decay(), o.eps(), /*amsgrad=*/false, /*maximize=*/false);
  }
  ++fused_steps_;
  return loss;
}

template class Fused<torch::optim::Adam, AdamKernel>;
template class Fused<torch::optim::AdamW, AdamWKernel>;

}  // namespace mammosweep::worker
