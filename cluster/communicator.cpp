#include "cluster/communicator.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <stdexcept>

namespace mammosweep::cluster {

std::vector<Bucket> plan_buckets(const std::vector<at::Tensor>& tensors,
                                 const BucketOptions& options) {
  std::vector<Bucket> plan;
  std::size_t bucket_bytes = 0;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const at::Tensor& t = tensors[i];
    if (!t.defined()) {
      throw std::invalid_argument(fmt::format(
          "plan_buckets: tensor {} of {} is undefined (frozen parameter without a gradient?); "
          "pass only defined tensors, the same list on every rank",
          i, tensors.size()));
    }
    const std::size_t bytes = static_cast<std::size_t>(t.numel()) * t.element_size();
    bool fits = false;
    if (!plan.empty()) {
      const at::Tensor& head = tensors[plan.back().first];
      fits = head.scalar_type() == t.scalar_type() && head.device() == t.device() &&
             bucket_bytes + bytes <= options.bucket_bytes;
    }
    if (!fits) {
      plan.push_back(Bucket{i, 0, 0});
      bucket_bytes = 0;
    }
    plan.back().count += 1;
    plan.back().elements += t.numel();
    bucket_bytes += bytes;
  }
  return plan;
}

void Communicator::allreduce_mean(std::vector<at::Tensor>& grads) {
  const auto plan = plan_buckets(grads, options_.buckets);
  for (const Bucket& bucket : plan) {
    const at::Tensor& head = grads[bucket.first];
    // Reuse one flat buffer per (dtype, device), grown to the largest bucket seen.
    at::Tensor* buffer = nullptr;
    for (auto& b : bucket_buffers_) {
      if (b.scalar_type() == head.scalar_type() && b.device() == head.device()) buffer = &b;
    }
    if (buffer == nullptr) {
      bucket_buffers_.push_back(at::empty({bucket.elements}, head.options()));
      buffer = &bucket_buffers_.back();
    } else if (buffer->numel() < bucket.elements) {
      *buffer = at::empty({bucket.elements}, head.options());
    }
    at::Tensor flat = buffer->narrow(0, 0, bucket.elements);

    std::int64_t offset = 0;
    for (std::size_t i = bucket.first; i < bucket.first + bucket.count; ++i) {
      const std::int64_t n = grads[i].numel();
      flat.narrow(0, offset, n).copy_(grads[i].reshape({-1}));
      offset += n;
    }
    allreduce_sum(flat);
    flat.div_(size());
    offset = 0;
    for (std::size_t i = bucket.first; i < bucket.first + bucket.count; ++i) {
      const std::int64_t n = grads[i].numel();
      grads[i].copy_(flat.narrow(0, offset, n).view(grads[i].sizes()));
      offset += n;
    }
  }
}

}  // namespace mammosweep::cluster
