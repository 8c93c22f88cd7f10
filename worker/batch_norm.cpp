#include "worker/batch_norm.h"

namespace mammosweep::worker {

bool BatchNormImpl::runs_as_rows(const torch::Tensor& x) {
  return x.dim() == 4 && x.device().is_cpu() && x.size(2) * x.size(3) < kRowsBelowPlane &&
         x.suggest_memory_format() == torch::MemoryFormat::Contiguous;
}

torch::Tensor BatchNormImpl::forward(const torch::Tensor& x) {
  if (!runs_as_rows(x)) return BatchNorm2dImpl::forward(x);
  const std::int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  // [N*H*W, C, 1, 1] keeps BatchNorm2d's own forward (its checks, momentum and counter).
  const torch::Tensor rows = x.permute({0, 2, 3, 1}).reshape({n * h * w, c, 1, 1});
  return BatchNorm2dImpl::forward(rows).view({n, h, w, c}).permute({0, 3, 1, 2}).contiguous();
}

}  // namespace mammosweep::worker
