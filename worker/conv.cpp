#include "worker/conv.h"

#include <ATen/autocast_mode.h>
#include <ATen/ops/addmm.h>
#include <ATen/ops/im2col.h>
#include <ATen/ops/mm.h>

#include <optional>
#include <utility>
#include <variant>

#include "worker/winograd.h"

namespace mammosweep::worker {
namespace {

std::int64_t output_extent(std::int64_t in, std::int64_t kernel, std::int64_t stride,
                           std::int64_t padding) {
  return (in + 2 * padding - kernel) / stride + 1;
}

}  // namespace

bool ConvImpl::own_kernel_takes(const torch::Tensor& x) const {
  return std::holds_alternative<torch::ExpandingArray<2>>(options.padding()) && x.dim() == 4 &&
         x.device().is_cpu() && x.scalar_type() == torch::kFloat &&
         !at::autocast::is_autocast_enabled(at::kCPU) &&
         (x.is_contiguous() || x.is_contiguous(torch::MemoryFormat::ChannelsLast)) &&
         options.groups() == 1 && (*options.dilation())[0] == 1 &&
         (*options.dilation())[1] == 1 &&
         std::holds_alternative<torch::enumtype::kZeros>(options.padding_mode());
}

std::optional<std::pair<std::int64_t, std::int64_t>> ConvImpl::gemm_plane(
    const torch::Tensor& x) const {
  if (!own_kernel_takes(x)) return std::nullopt;
  const auto& padding = *std::get<torch::ExpandingArray<2>>(options.padding());
  const auto& kernel = *options.kernel_size();
  const auto& stride = *options.stride();
  const std::int64_t h = output_extent(x.size(2), kernel[0], stride[0], padding[0]);
  const std::int64_t w = output_extent(x.size(3), kernel[1], stride[1], padding[1]);
  const bool one_by_one = kernel[0] == 1 && kernel[1] == 1;
  if (h <= 0 || w <= 0 || h * w > (one_by_one ? kMaxPlane1x1 : kMaxPlane)) return std::nullopt;
  return std::make_pair(h, w);
}

bool ConvImpl::runs_as_gemm(const torch::Tensor& x) const { return gemm_plane(x).has_value(); }

bool ConvImpl::runs_as_winograd(const torch::Tensor& x) const {
  if (!own_kernel_takes(x)) return false;
  const auto& padding = *std::get<torch::ExpandingArray<2>>(options.padding());
  const auto& kernel = *options.kernel_size();
  const auto& stride = *options.stride();
  const std::int64_t plane = x.size(2) * x.size(3);  // the output's too: stride 1, padding 1
  return kernel[0] == 3 && kernel[1] == 3 && stride[0] == 1 && stride[1] == 1 &&
         padding[0] == 1 && padding[1] == 1 && plane > kMaxPlane && plane <= kMaxWinogradPlane;
}

torch::Tensor ConvImpl::forward(const torch::Tensor& x) {
  if (runs_as_winograd(x)) return winograd_conv3x3(x, weight, bias);
  const auto plane = gemm_plane(x);
  if (!plane) return Conv2dImpl::forward(x);
  const auto [h, w] = *plane;
  const auto& kernel = *options.kernel_size();
  const auto& stride = *options.stride();
  const auto& padding = *std::get<torch::ExpandingArray<2>>(options.padding());
  const std::int64_t n = x.size(0), c = x.size(1), out_channels = weight.size(0);
  torch::Tensor rows;  // [N*H*W, C*kh*kw], each row one output position's receptive field
  if (kernel[0] == 1 && kernel[1] == 1 && padding[0] == 0 && padding[1] == 0) {
    rows = x.slice(2, 0, c10::nullopt, stride[0])
               .slice(3, 0, c10::nullopt, stride[1])
               .permute({0, 2, 3, 1})
               .reshape({n * h * w, c});
  } else {
    // im2col orders each column as (C, kh, kw), the weight's own order.
    rows = at::im2col(x, {kernel[0], kernel[1]}, {1, 1}, {padding[0], padding[1]},
                      {stride[0], stride[1]})
               .transpose(1, 2)
               .reshape({n * h * w, -1});
  }
  const torch::Tensor weights = weight.reshape({out_channels, -1}).t();
  const torch::Tensor out = bias.defined() ? at::addmm(bias, rows, weights) : at::mm(rows, weights);
  // The product's rows are already ChannelsLast: a view, or a copy into NCHW.
  const torch::Tensor y = out.view({n, h, w, out_channels}).permute({0, 3, 1, 2});
  return x.is_contiguous() ? y.contiguous() : y;
}

}  // namespace mammosweep::worker
