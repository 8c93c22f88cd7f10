#include "worker/fused_rmsprop.h"

#include <ATen/Parallel.h>
#include <ATen/ops/zeros_like.h>
#include <torch/utils.h>

#include <cmath>
#include <memory>
#include <vector>

#include "worker/fused_adam.h"

namespace mammosweep::worker {
namespace {

using torch::optim::RMSpropOptions;
using torch::optim::RMSpropParamState;

// One RMSprop step of n values (no momentum, not centered), as LibTorch's five operations:
//   g += weight_decay * p;  sq = alpha * sq + (1 - alpha) * g * g;  p -= lr * g / (sqrt(sq) + eps)
// This file is compiled with -O3 -fno-math-errno (worker/CMakeLists.txt): the loop vectorizes.
void rmsprop_values(float* __restrict p, const float* __restrict g, float* __restrict sq,
                    std::int64_t n, const RMSpropOptions& o) {
  const auto alpha = static_cast<float>(o.alpha());
  const auto rest = static_cast<float>(1.0 - o.alpha());
  const auto eps = static_cast<float>(o.eps());
  const auto lr = static_cast<float>(o.lr());
  const auto decay = static_cast<float>(o.weight_decay());
  at::parallel_for(0, n, 1 << 15, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end; ++i) {
      const float gi = g[i] + decay * p[i];
      const float s = alpha * sq[i] + rest * gi * gi;
      sq[i] = s;
      p[i] -= lr * gi / (std::sqrt(s) + eps);
    }
  });
}

}  // namespace

bool FusedRMSprop::fusable() const {
  for (const auto& group : param_groups()) {
    const auto& o = static_cast<const RMSpropOptions&>(group.options());
    if (o.momentum() > 0 || o.centered()) return false;
    for (const auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      if (!p.device().is_cpu() || p.scalar_type() != torch::kFloat ||
          p.grad().scalar_type() != torch::kFloat || !same_layout(p, p.grad())) {
        return false;
      }
      const auto it = state_.find(p.unsafeGetTensorImpl());
      if (it != state_.end() &&
          !same_layout(p, static_cast<const RMSpropParamState&>(*it->second).square_avg())) {
        return false;
      }
    }
  }
  return true;
}

torch::Tensor FusedRMSprop::step(LossClosure closure) {
  torch::NoGradGuard no_grad;
  torch::Tensor loss;
  if (closure) {
    at::AutoGradMode enable_grad(true);
    loss = closure();
  }
  if (!fusable()) {
    RMSprop::step();
    return loss;
  }
  for (auto& group : param_groups()) {
    const auto& o = static_cast<const RMSpropOptions&>(group.options());
    for (const auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      auto& slot = state_[p.unsafeGetTensorImpl()];
      if (!slot) {  // as torch::optim::RMSprop::step initialises it
        auto s = std::make_unique<RMSpropParamState>();
        s->step(0);
        s->square_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        slot = std::move(s);
      }
      auto& s = static_cast<RMSpropParamState&>(*slot);
      s.step(s.step() + 1);
      rmsprop_values(p.data_ptr<float>(), p.grad().data_ptr<float>(), s.square_avg().data_ptr<float>(),
                     p.numel(), o);
      p.unsafeGetTensorImpl()->bump_version();  // as an in-place ATen operation does
    }
  }
  ++fused_steps_;
  return loss;
}

}  // namespace mammosweep::worker
