#pragma once
// Helpers for the fused optimizers' tests (fused_adam_test.cpp, fused_rmsprop_test.cpp), which
// step a fused optimizer and LibTorch's own on copies of the same parameters.
#include <torch/torch.h>

#include <utility>
#include <vector>

namespace mammosweep::worker {

/// Detached clones of `ps` that require gradients: the reference optimizer's parameters.
inline std::vector<torch::Tensor> copies(const std::vector<torch::Tensor>& ps) {
  std::vector<torch::Tensor> out;
  for (const auto& p : ps) out.push_back(p.detach().clone().requires_grad_());
  return out;
}

/// The largest difference, relative to the tensor's scale (elements near zero after a
/// cancellation carry the rounding of the terms that cancelled).
inline double max_relative_difference(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a - b).abs().max() / b.abs().max()).item<double>();
}

/// A ChannelsLast 3x3 kernel (no dimension of size 1 hides its memory order) whose gradient is
/// contiguous, and its reference copy with the same gradient: {fused side, reference side}.
inline std::pair<std::vector<torch::Tensor>, std::vector<torch::Tensor>> gradient_in_another_order() {
  torch::manual_seed(6);
  std::vector<torch::Tensor> fp = {
      torch::randn({8, 4, 3, 3}).contiguous(torch::MemoryFormat::ChannelsLast).requires_grad_()};
  std::vector<torch::Tensor> rp = copies(fp);
  const torch::Tensor g = torch::randn({8, 4, 3, 3});  // contiguous
  fp[0].mutable_grad() = g.clone();
  rp[0].mutable_grad() = g.clone();
  return {fp, rp};
}

}  // namespace mammosweep::worker
