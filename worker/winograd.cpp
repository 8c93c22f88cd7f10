#include "worker/winograd.h"

#include <ATen/Parallel.h>
#include <ATen/ops/bmm.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/zeros.h>
#include <torch/autograd.h>

#include <cstdint>
#include <vector>

// The loops below run over channels, the innermost dimension of every buffer: this file is
// compiled with -O3 (worker/CMakeLists.txt) so that they vectorize.
namespace mammosweep::worker {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

constexpr std::int64_t kPositions = 16;  // a 4 x 4 input tile; also the number of products

/// Where the tiles lie: tile (ty, tx) of image n reads input rows 2ty-1 .. 2ty+2 and columns
/// 2tx-1 .. 2tx+2 (the padding is zero), and writes output rows 2ty, 2ty+1 and columns 2tx, 2tx+1.
struct Tiles {
  std::int64_t n, h, w, th, tw;
  Tiles(std::int64_t n_, std::int64_t h_, std::int64_t w_)
      : n(n_), h(h_), w(w_), th((h_ + 1) / 2), tw((w_ + 1) / 2) {}
  std::int64_t count() const { return n * th * tw; }
  /// The pixel row r, column c of image n in an NHWC buffer of `channels`, or nullptr outside.
  template <typename T>
  T* pixel(T* base, std::int64_t image, std::int64_t r, std::int64_t c, std::int64_t channels) const {
    if (r < 0 || r >= h || c < 0 || c >= w) return nullptr;
    return base + ((image * h + r) * w + c) * channels;
  }
};

// v = B^T d B for every channel of every tile: x is NHWC, v is [16][T][C].
void input_transform(const float* x, float* v, const Tiles& g, std::int64_t channels) {
  const std::int64_t tiles = g.count();
  const std::vector<float> zeros(static_cast<std::size_t>(channels), 0.0f);
  at::parallel_for(0, tiles, 1, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t t = begin; t < end; ++t) {
      const std::int64_t image = t / (g.th * g.tw), ty = (t / g.tw) % g.th, tx = t % g.tw;
      const float* src[4][4];
      for (int i = 0; i < 4; ++i) {
        for (int j = 0; j < 4; ++j) {
          const float* p = g.pixel(x, image, 2 * ty - 1 + i, 2 * tx - 1 + j, channels);
          src[i][j] = p != nullptr ? p : zeros.data();
        }
      }
      float* dst = v + t * channels;
      const std::int64_t step = tiles * channels;
#pragma GCC ivdep
      for (std::int64_t c = 0; c < channels; ++c) {
        float r[4][4];
        for (int j = 0; j < 4; ++j) {
          r[0][j] = src[0][j][c] - src[2][j][c];
          r[1][j] = src[1][j][c] + src[2][j][c];
          r[2][j] = src[2][j][c] - src[1][j][c];
          r[3][j] = src[1][j][c] - src[3][j][c];
        }
        for (int i = 0; i < 4; ++i) {
          dst[(4 * i + 0) * step + c] = r[i][0] - r[i][2];
          dst[(4 * i + 1) * step + c] = r[i][1] + r[i][2];
          dst[(4 * i + 2) * step + c] = r[i][2] - r[i][1];
          dst[(4 * i + 3) * step + c] = r[i][1] - r[i][3];
        }
      }
    }
  });
}

// The adjoint of input_transform: dx += B dv B^T, each tile added into the pixels it read.
// dx is NHWC and zeroed; images run in parallel, so no two threads add into one pixel.
void input_transform_adjoint(const float* dv, float* dx, const Tiles& g, std::int64_t channels) {
  const std::int64_t tiles = g.count(), step = tiles * channels;
  at::parallel_for(0, g.n, 1, [&](std::int64_t begin, std::int64_t end) {
    std::vector<float> discard(static_cast<std::size_t>(channels));  // the padding's share
    for (std::int64_t image = begin; image < end; ++image) {
      for (std::int64_t ty = 0; ty < g.th; ++ty) {
        for (std::int64_t tx = 0; tx < g.tw; ++tx) {
          float* dst[4][4];
          for (int i = 0; i < 4; ++i) {
            for (int j = 0; j < 4; ++j) {
              float* p = g.pixel(dx, image, 2 * ty - 1 + i, 2 * tx - 1 + j, channels);
              dst[i][j] = p != nullptr ? p : discard.data();
            }
          }
          const float* src = dv + ((image * g.th + ty) * g.tw + tx) * channels;
#pragma GCC ivdep
          for (std::int64_t c = 0; c < channels; ++c) {
            float d[4][4];
            for (int p = 0; p < 16; ++p) d[p / 4][p % 4] = src[p * step + c];
            float r[4][4];  // B dv
            for (int j = 0; j < 4; ++j) {
              r[0][j] = d[0][j];
              r[1][j] = d[1][j] - d[2][j] + d[3][j];
              r[2][j] = d[1][j] + d[2][j] - d[0][j];
              r[3][j] = -d[3][j];
            }
            for (int i = 0; i < 4; ++i) {  // (B dv) B^T
              dst[i][0][c] += r[i][0];
              dst[i][1][c] += r[i][1] - r[i][2] + r[i][3];
              dst[i][2][c] += r[i][1] + r[i][2] - r[i][0];
              dst[i][3][c] -= r[i][3];
            }
          }
        }
      }
    }
  });
}

// y = A^T m A (+ bias) for every filter of every tile: m is [16][T][K], y is NHWC.
void output_transform(const float* m, const float* bias, float* y, const Tiles& g,
                      std::int64_t filters) {
  const std::int64_t tiles = g.count(), step = tiles * filters;
  const std::vector<float> zeros(static_cast<std::size_t>(filters), 0.0f);
  const float* b = bias != nullptr ? bias : zeros.data();
  at::parallel_for(0, tiles, 1, [&](std::int64_t begin, std::int64_t end) {
    std::vector<float> discard(static_cast<std::size_t>(filters));  // past an odd edge
    for (std::int64_t t = begin; t < end; ++t) {
      const std::int64_t image = t / (g.th * g.tw), ty = (t / g.tw) % g.th, tx = t % g.tw;
      float* dst[2][2];
      for (int i = 0; i < 2; ++i) {
        for (int j = 0; j < 2; ++j) {
          float* p = g.pixel(y, image, 2 * ty + i, 2 * tx + j, filters);
          dst[i][j] = p != nullptr ? p : discard.data();
        }
      }
      const float* src = m + t * filters;
#pragma GCC ivdep
      for (std::int64_t k = 0; k < filters; ++k) {
        float d[4][4];
        for (int p = 0; p < 16; ++p) d[p / 4][p % 4] = src[p * step + k];
        float r[2][4];  // A^T m
        for (int j = 0; j < 4; ++j) {
          r[0][j] = d[0][j] + d[1][j] + d[2][j];
          r[1][j] = d[1][j] - d[2][j] - d[3][j];
        }
        for (int i = 0; i < 2; ++i) {  // (A^T m) A
          dst[i][0][k] = r[i][0] + r[i][1] + r[i][2] + b[k];
          dst[i][1][k] = r[i][1] - r[i][2] - r[i][3] + b[k];
        }
      }
    }
  });
}

// The adjoint of output_transform: dm = A dy A^T; dy is NHWC, dm is [16][T][K].
void output_transform_adjoint(const float* dy, float* dm, const Tiles& g, std::int64_t filters) {
  const std::int64_t tiles = g.count(), step = tiles * filters;
  const std::vector<float> zeros(static_cast<std::size_t>(filters), 0.0f);
  at::parallel_for(0, tiles, 1, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t t = begin; t < end; ++t) {
      const std::int64_t image = t / (g.th * g.tw), ty = (t / g.tw) % g.th, tx = t % g.tw;
      const float* src[2][2];
      for (int i = 0; i < 2; ++i) {
        for (int j = 0; j < 2; ++j) {
          const float* p = g.pixel(dy, image, 2 * ty + i, 2 * tx + j, filters);
          src[i][j] = p != nullptr ? p : zeros.data();
        }
      }
      float* dst = dm + t * filters;
#pragma GCC ivdep
      for (std::int64_t k = 0; k < filters; ++k) {
        float r[4][2];  // A dy
        for (int j = 0; j < 2; ++j) {
          r[0][j] = src[0][j][k];
          r[1][j] = src[0][j][k] + src[1][j][k];
          r[2][j] = src[0][j][k] - src[1][j][k];
          r[3][j] = -src[1][j][k];
        }
        for (int i = 0; i < 4; ++i) {  // (A dy) A^T
          dst[(4 * i + 0) * step + k] = r[i][0];
          dst[(4 * i + 1) * step + k] = r[i][0] + r[i][1];
          dst[(4 * i + 2) * step + k] = r[i][0] - r[i][1];
          dst[(4 * i + 3) * step + k] = -r[i][1];
        }
      }
    }
  });
}

// u = G g G^T for every filter and channel: w is [C][3][3][K], u is [16][C][K].
void weight_transform(const float* w, float* u, std::int64_t filters, std::int64_t channels) {
  const std::int64_t step = channels * filters;
  at::parallel_for(0, channels, 1, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t c = begin; c < end; ++c) {
      const float* g = w + c * 9 * filters;  // tap (i, j) of filter k at g[(3i + j) * filters + k]
      float* dst = u + c * filters;
#pragma GCC ivdep
      for (std::int64_t k = 0; k < filters; ++k) {
        float r[4][3];  // G g
        for (int j = 0; j < 3; ++j) {
          const float g0 = g[j * filters + k], g1 = g[(3 + j) * filters + k], g2 = g[(6 + j) * filters + k];
          r[0][j] = g0;
          r[1][j] = 0.5f * (g0 + g1 + g2);
          r[2][j] = 0.5f * (g0 - g1 + g2);
          r[3][j] = g2;
        }
        for (int i = 0; i < 4; ++i) {  // (G g) G^T
          dst[(4 * i + 0) * step + k] = r[i][0];
          dst[(4 * i + 1) * step + k] = 0.5f * (r[i][0] + r[i][1] + r[i][2]);
          dst[(4 * i + 2) * step + k] = 0.5f * (r[i][0] - r[i][1] + r[i][2]);
          dst[(4 * i + 3) * step + k] = r[i][2];
        }
      }
    }
  });
}

// The adjoint of weight_transform: dg = G^T du G; du is [16][C][K], dw is [C][3][3][K].
void weight_transform_adjoint(const float* du, float* dw, std::int64_t filters,
                              std::int64_t channels) {
  const std::int64_t step = channels * filters;
  at::parallel_for(0, channels, 1, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t c = begin; c < end; ++c) {
      const float* src = du + c * filters;
      float* g = dw + c * 9 * filters;
#pragma GCC ivdep
      for (std::int64_t k = 0; k < filters; ++k) {
        float d[4][4];
        for (int p = 0; p < 16; ++p) d[p / 4][p % 4] = src[p * step + k];
        float r[3][4];  // G^T du
        for (int j = 0; j < 4; ++j) {
          r[0][j] = d[0][j] + 0.5f * (d[1][j] + d[2][j]);
          r[1][j] = 0.5f * (d[1][j] - d[2][j]);
          r[2][j] = 0.5f * (d[1][j] + d[2][j]) + d[3][j];
        }
        for (int i = 0; i < 3; ++i) {  // (G^T du) G
          g[(3 * i + 0) * filters + k] = r[i][0] + 0.5f * (r[i][1] + r[i][2]);
          g[(3 * i + 1) * filters + k] = 0.5f * (r[i][1] - r[i][2]);
          g[(3 * i + 2) * filters + k] = 0.5f * (r[i][1] + r[i][2]) + r[i][3];
        }
      }
    }
  });
}

torch::Tensor nhwc(const torch::Tensor& t) { return t.contiguous(torch::MemoryFormat::ChannelsLast); }

/// An NHWC buffer as an [N, C, H, W] tensor in `like`'s memory format (a view when ChannelsLast).
torch::Tensor as_format_of(const torch::Tensor& buffer_nhwc, const torch::Tensor& like) {
  const torch::Tensor t = buffer_nhwc.permute({0, 3, 1, 2});
  return like.is_contiguous() ? t.contiguous() : t;
}

torch::Tensor transformed_weights(const torch::Tensor& weight) {
  const std::int64_t k = weight.size(0), c = weight.size(1);
  const torch::Tensor w = weight.permute({1, 2, 3, 0}).contiguous();  // [C][3][3][K]
  torch::Tensor u = at::empty({kPositions, c, k}, w.options());
  weight_transform(w.data_ptr<float>(), u.data_ptr<float>(), k, c);
  return u;
}

/// The forward pass: y (NHWC) and what the backward pass needs, v and u.
struct Forward {
  torch::Tensor y, v, u;
};

Forward forward_pass(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias) {
  const std::int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const std::int64_t k = weight.size(0);
  const Tiles g(n, h, w);
  const torch::Tensor xs = nhwc(x);
  Forward f;
  f.v = at::empty({kPositions, g.count(), c}, x.options());
  input_transform(xs.data_ptr<float>(), f.v.data_ptr<float>(), g, c);
  f.u = transformed_weights(weight);
  const torch::Tensor m = at::bmm(f.v, f.u);
  f.y = at::empty({n, h, w, k}, x.options());
  const torch::Tensor b = bias.defined() ? bias.contiguous() : bias;
  output_transform(m.data_ptr<float>(), b.defined() ? b.data_ptr<float>() : nullptr,
                   f.y.data_ptr<float>(), g, k);
  return f;
}

// Differentiable in x and weight; a bias is added outside (autograd takes no undefined input).
struct WinogradConv : torch::autograd::Function<WinogradConv> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight) {
    Forward f = forward_pass(x, weight, {});
    ctx->save_for_backward({f.v, f.u});
    ctx->saved_data["h"] = x.size(2);
    ctx->saved_data["w"] = x.size(3);
    ctx->saved_data["nchw"] = x.is_contiguous();
    ctx->saved_data["weight_nchw"] = weight.is_contiguous();
    return as_format_of(f.y, x);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor& v = saved[0];
    const torch::Tensor& u = saved[1];
    const std::int64_t c = u.size(1), k = u.size(2);
    const Tiles g(grads[0].size(0), ctx->saved_data["h"].toInt(), ctx->saved_data["w"].toInt());
    const torch::Tensor dys = nhwc(grads[0]);
    torch::Tensor dm = at::empty({kPositions, g.count(), k}, dys.options());
    output_transform_adjoint(dys.data_ptr<float>(), dm.data_ptr<float>(), g, k);
    torch::Tensor dx, dw;
    if (ctx->needs_input_grad(0)) {
      const torch::Tensor dv = at::bmm(dm, u.transpose(1, 2));
      torch::Tensor dxs = at::zeros({g.n, g.h, g.w, c}, dys.options());
      input_transform_adjoint(dv.data_ptr<float>(), dxs.data_ptr<float>(), g, c);
      dx = dxs.permute({0, 3, 1, 2});
      if (ctx->saved_data["nchw"].toBool()) dx = dx.contiguous();
    }
    if (ctx->needs_input_grad(1)) {
      const torch::Tensor du = at::bmm(v.transpose(1, 2), dm);
      torch::Tensor taps = at::empty({c, 3, 3, k}, dys.options());
      weight_transform_adjoint(du.data_ptr<float>(), taps.data_ptr<float>(), k, c);
      dw = taps.permute({3, 0, 1, 2}).contiguous(ctx->saved_data["weight_nchw"].toBool()
                                                     ? torch::MemoryFormat::Contiguous
                                                     : torch::MemoryFormat::ChannelsLast);
    }
    return {dx, dw};
  }
};

}  // namespace

bool winograd_takes(const torch::Tensor& x, const torch::Tensor& weight) {
  return x.dim() == 4 && weight.dim() == 4 && x.device().is_cpu() && weight.device().is_cpu() &&
         x.scalar_type() == torch::kFloat && weight.scalar_type() == torch::kFloat &&
         (x.is_contiguous() || x.is_contiguous(torch::MemoryFormat::ChannelsLast)) &&
         weight.size(1) == x.size(1) && weight.size(2) == 3 && weight.size(3) == 3;
}

torch::Tensor winograd_conv3x3(const torch::Tensor& x, const torch::Tensor& weight,
                               const torch::Tensor& bias) {
  TORCH_CHECK(winograd_takes(x, weight), "winograd_conv3x3: unsupported input ", x.sizes(),
              " or weight ", weight.sizes());
  const bool differentiable = torch::GradMode::is_enabled() &&
                              (x.requires_grad() || weight.requires_grad() ||
                               (bias.defined() && bias.requires_grad()));
  if (!differentiable) return as_format_of(forward_pass(x, weight, bias).y, x);
  const torch::Tensor y = WinogradConv::apply(x, weight);
  return bias.defined() ? y + bias.view({1, -1, 1, 1}) : y;
}

}  // namespace mammosweep::worker
