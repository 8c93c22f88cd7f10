#include "worker/augment.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <stdexcept>
#include <string>

#include "sweeps/splitmix.h"

namespace mammosweep::worker {
namespace {

using sweeps::splitmix64;

std::string shape_of(const torch::Tensor& t) {
  std::string s = "[";
  for (int64_t d = 0; d < t.dim(); ++d) s += (d ? "," : "") + std::to_string(t.size(d));
  return s + "]";
}

void check_batch(const torch::Tensor& x, const char* where) {
  if (!x.defined() || x.dim() != 4 || x.size(1) != 3 || !x.is_floating_point())
    throw std::invalid_argument(std::string(where) +
                                ": expected a [N,3,H,W] floating-point batch, got " +
                                (x.defined() ? shape_of(x) + " " + std::string(x.dtype().name())
                                             : std::string("an undefined tensor")));
}

/// Per-sample factors [N] -> [N,1,1,1] on x's device and dtype.
torch::Tensor per_sample(const torch::Tensor& factors, const torch::Tensor& x, const char* where) {
  if (factors.dim() != 1 || factors.size(0) != x.size(0))
    throw std::invalid_argument(std::string(where) + ": expected " + std::to_string(x.size(0)) +
                                " per-sample factors, got " + shape_of(factors));
  return factors.to(x.device(), x.scalar_type()).view({-1, 1, 1, 1});
}

torch::Tensor blend(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& f) {
  return (f * a + (1 - f) * b).clamp(0.0, 1.0);
}

/// Uniform factor in [max(0,1-s), 1+s] from u in [0,1).
torch::Tensor jitter_factor(const torch::Tensor& u, double s) {
  const double lo = std::max(0.0, 1.0 - s);
  return lo + u * ((1.0 + s) - lo);
}

}  // namespace

std::uint64_t augment_seed(std::uint64_t seed, int epoch, std::int64_t step) {
  return splitmix64(splitmix64(splitmix64(seed) ^ static_cast<std::uint64_t>(epoch)) ^
                    static_cast<std::uint64_t>(step));
}

torch::Tensor rgb_to_grayscale(const torch::Tensor& x) {
  check_batch(x, "rgb_to_grayscale");
  return (0.299 * x.select(1, 0) + 0.587 * x.select(1, 1) + 0.114 * x.select(1, 2)).unsqueeze(1);
}

torch::Tensor adjust_brightness(const torch::Tensor& x, const torch::Tensor& factors) {
  check_batch(x, "adjust_brightness");
  return (x * per_sample(factors, x, "adjust_brightness")).clamp(0.0, 1.0);
}

torch::Tensor adjust_contrast(const torch::Tensor& x, const torch::Tensor& factors) {
  check_batch(x, "adjust_contrast");
  const torch::Tensor mean = rgb_to_grayscale(x).mean({1, 2, 3}, /*keepdim=*/true);
  return blend(x, mean, per_sample(factors, x, "adjust_contrast"));
}

torch::Tensor adjust_saturation(const torch::Tensor& x, const torch::Tensor& factors) {
  check_batch(x, "adjust_saturation");
  return blend(x, rgb_to_grayscale(x), per_sample(factors, x, "adjust_saturation"));
}

torch::Tensor augment_batch(torch::Tensor x, const AugmentOptions& o, std::uint64_t seed,
                            int epoch, std::int64_t step) {
  check_batch(x, "augment_batch");
  if (o.brightness < 0 || o.contrast < 0 || o.saturation < 0)
    throw std::invalid_argument("augment_batch: jitter strengths must be >= 0, got brightness " +
                                std::to_string(o.brightness) + ", contrast " +
                                std::to_string(o.contrast) + ", saturation " +
                                std::to_string(o.saturation));
  if (!o.any()) return x;
  const int64_t n = x.size(0);
  at::Generator gen = at::detail::createCPUGenerator(augment_seed(seed, epoch, step));
  // Row r holds draw r for every sample: hflip, vflip, brightness, contrast, saturation.
  const torch::Tensor u = at::rand({5, n}, gen, at::TensorOptions().dtype(at::kDouble));

  if (o.hflip) {
    const torch::Tensor m = (u[0] < 0.5).to(x.device()).view({-1, 1, 1, 1});
    x = at::where(m, x.flip({3}), x);
  }
  if (o.vflip) {
    const torch::Tensor m = (u[1] < 0.5).to(x.device()).view({-1, 1, 1, 1});
    x = at::where(m, x.flip({2}), x);
  }
  if (o.brightness > 0) x = adjust_brightness(x, jitter_factor(u[2], o.brightness));
  if (o.contrast > 0) x = adjust_contrast(x, jitter_factor(u[3], o.contrast));
  if (o.saturation > 0) x = adjust_saturation(x, jitter_factor(u[4], o.saturation));
  return x;
}

torch::Tensor normalize(const torch::Tensor& x, const std::vector<double>& mean,
                        const std::vector<double>& std) {
  if (!x.defined() || x.dim() != 4 || !x.is_floating_point())
    throw std::invalid_argument("normalize: expected a [N,C,H,W] floating-point batch, got " +
                                (x.defined() ? shape_of(x) : std::string("undefined")));
  const auto c = static_cast<std::size_t>(x.size(1));
  if (mean.size() != c || std.size() != c)
    throw std::invalid_argument("normalize: batch has " + std::to_string(c) +
                                " channels but mean has " + std::to_string(mean.size()) +
                                " and std " + std::to_string(std.size()) + " entries");
  for (double s : std)
    if (!(s > 0)) throw std::invalid_argument("normalize: std entries must be > 0, got " + std::to_string(s));
  const auto opts = at::TensorOptions().dtype(at::kDouble);
  const torch::Tensor m = at::tensor(mean, opts).to(x.device(), x.scalar_type()).view({1, -1, 1, 1});
  const torch::Tensor s = at::tensor(std, opts).to(x.device(), x.scalar_type()).view({1, -1, 1, 1});
  return (x - m) / s;
}

}  // namespace mammosweep::worker
