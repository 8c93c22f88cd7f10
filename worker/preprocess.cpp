// Preprocessing: an Image (image.h) to the model's input. The steps are listed in
// preprocess.h.
#include "worker/preprocess.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

namespace mammosweep::worker {
namespace {

std::uint8_t round_u8(double v) {
  if (!(v > 0.0)) return 0;
  if (v >= 255.0) return 255;
  return static_cast<std::uint8_t>(v + 0.5);
}

// CLAHE on one 8-bit plane, in place.
void clahe_plane(std::uint8_t* p, int w, int h, int tiles, double clip_limit) {
  const int tx_n = std::max(1, std::min(tiles, w));
  const int ty_n = std::max(1, std::min(tiles, h));
  std::vector<std::array<std::uint8_t, 256>> luts(std::size_t(tx_n) * ty_n);
  for (int ty = 0; ty < ty_n; ++ty) {
    const int y0 = int(std::int64_t(ty) * h / ty_n), y1 = int(std::int64_t(ty + 1) * h / ty_n);
    for (int tx = 0; tx < tx_n; ++tx) {
      const int x0 = int(std::int64_t(tx) * w / tx_n), x1 = int(std::int64_t(tx + 1) * w / tx_n);
      std::array<int, 256> hist{};
      for (int y = y0; y < y1; ++y)
        for (int x = x0; x < x1; ++x) ++hist[p[std::size_t(y) * w + x]];
      const int area = (x1 - x0) * (y1 - y0);
      if (clip_limit > 0.0) {
        const int limit = std::max(1, static_cast<int>(clip_limit * area / 256.0));
        int excess = 0;
        for (int& c : hist)
          if (c > limit) {
            excess += c - limit;
            c = limit;
          }
        const int batch = excess / 256;
        int residual = excess % 256;
        for (int& c : hist) c += batch;
        if (residual > 0) {
          const int step = std::max(256 / residual, 1);
          for (int i = 0; i < 256 && residual > 0; i += step, --residual) ++hist[i];
        }
      }
      auto& lut = luts[std::size_t(ty) * tx_n + tx];
      const double scale = 255.0 / std::max(area, 1);
      int sum = 0;
      for (int i = 0; i < 256; ++i) {
        sum += hist[i];
        lut[i] = round_u8(sum * scale);
      }
    }
  }
  const double tw = double(w) / tx_n, th = double(h) / ty_n;
  for (int y = 0; y < h; ++y) {
    const double fy = (y + 0.5) / th - 0.5;
    int ty1 = int(std::floor(fy));
    const double ya = fy - ty1;
    int ty2 = ty1 + 1;
    ty1 = std::max(ty1, 0);
    ty2 = std::min(ty2, ty_n - 1);
    for (int x = 0; x < w; ++x) {
      const double fx = (x + 0.5) / tw - 0.5;
      int tx1 = int(std::floor(fx));
      const double xa = fx - tx1;
      int tx2 = tx1 + 1;
      tx1 = std::max(tx1, 0);
      tx2 = std::min(tx2, tx_n - 1);
      std::uint8_t& v = p[std::size_t(y) * w + x];
      const double top = (1 - xa) * luts[std::size_t(ty1) * tx_n + tx1][v] +
                         xa * luts[std::size_t(ty1) * tx_n + tx2][v];
      const double bottom = (1 - xa) * luts[std::size_t(ty2) * tx_n + tx1][v] +
                            xa * luts[std::size_t(ty2) * tx_n + tx2][v];
      v = round_u8((1 - ya) * top + ya * bottom);
    }
  }
}

// Per-axis resampling taps: output i = sum_k weight[k] * src[index[k]] for k in [begin, end).
struct Taps {
  std::vector<int> begin, index;
  std::vector<float> weight;
};

Taps make_taps(int in, int out) {
  Taps t;
  t.begin.reserve(out + 1);
  const double s = double(in) / out;
  for (int i = 0; i < out; ++i) {
    t.begin.push_back(static_cast<int>(t.index.size()));
    if (in == out) {
      t.index.push_back(i);
      t.weight.push_back(1.0f);
    } else if (out < in) {  // area: overlap of [i*s, (i+1)*s) with each source pixel
      const double a = i * s, b = (i + 1) * s;
      const int j0 = int(std::floor(a)), j1 = std::min(in, int(std::ceil(b)));
      for (int j = j0; j < j1; ++j) {
        const double overlap = std::min<double>(j + 1, b) - std::max<double>(j, a);
        if (overlap <= 0) continue;
        t.index.push_back(j);
        t.weight.push_back(static_cast<float>(overlap / s));
      }
    } else {  // bilinear, half-pixel centres, edges clamped
      double x = (i + 0.5) * s - 0.5;
      x = std::clamp(x, 0.0, double(in - 1));
      const int j0 = int(std::floor(x)), j1 = std::min(j0 + 1, in - 1);
      const double a = x - j0;
      t.index.push_back(j0);
      t.weight.push_back(static_cast<float>(1 - a));
      if (j1 != j0) {
        t.index.push_back(j1);
        t.weight.push_back(static_cast<float>(a));
      }
    }
  }
  t.begin.push_back(static_cast<int>(t.index.size()));
  return t;
}

}  // namespace

Image to_8bit(const Image& image, const PreprocessOptions& options) {
  check_image(image, "to_8bit");
  Image out;
  out.width = image.width;
  out.height = image.height;
  out.channels = image.channels;
  out.bit_depth = 8;
  out.pixels.resize(image.pixels.size());
  if (image.bit_depth == 8) {
    for (std::size_t i = 0; i < image.pixels.size(); ++i)
      out.pixels[i] = std::min<std::uint16_t>(image.pixels[i], 255);
    return out;
  }
  std::uint32_t lo = 0, hi = 0;
  if (options.window == PreprocessOptions::Window::minmax) {
    const auto [mn, mx] = std::minmax_element(image.pixels.begin(), image.pixels.end());
    lo = *mn;
    hi = *mx;
  } else {
    const double pl = options.window_low_pct, ph = options.window_high_pct;
    if (!(pl >= 0 && pl <= 100 && ph >= 0 && ph <= 100 && pl <= ph))
      throw std::invalid_argument("to_8bit: percentile window needs 0 <= low <= high <= 100, got " +
                                  std::to_string(pl) + ", " + std::to_string(ph));
    std::vector<std::uint32_t> hist(65536, 0);
    for (auto v : image.pixels) ++hist[v];
    const std::size_t n = image.pixels.size();
    auto value_at_rank = [&](double pct) {
      const auto rank = static_cast<std::size_t>(std::floor(pct / 100.0 * double(n - 1)));
      std::size_t seen = 0;
      for (std::uint32_t v = 0; v < 65536; ++v) {
        seen += hist[v];
        if (seen > rank) return v;
      }
      return std::uint32_t(65535);
    };
    lo = value_at_rank(pl);
    hi = value_at_rank(ph);
  }
  for (std::size_t i = 0; i < image.pixels.size(); ++i) {
    const std::uint32_t v = image.pixels[i];
    std::uint16_t o;
    if (hi <= lo) o = v > lo ? 255 : 0;
    else if (v <= lo) o = 0;
    else if (v >= hi) o = 255;
    else o = round_u8(double(v - lo) * 255.0 / double(hi - lo));
    out.pixels[i] = o;
  }
  return out;
}

Image clahe(const Image& image8, int tiles, double clip_limit) {
  check_image(image8, "clahe");
  if (image8.bit_depth != 8) throw std::invalid_argument("clahe: needs an 8-bit image");
  if (tiles < 1) throw std::invalid_argument("clahe: tiles must be >= 1");
  const int w = image8.width, h = image8.height;
  const std::size_t n = std::size_t(w) * h;
  Image out = image8;
  std::vector<std::uint8_t> plane(n);
  if (image8.channels == 1) {
    for (std::size_t i = 0; i < n; ++i) plane[i] = static_cast<std::uint8_t>(image8.pixels[i]);
    clahe_plane(plane.data(), w, h, tiles, clip_limit);
    for (std::size_t i = 0; i < n; ++i) out.pixels[i] = plane[i];
    return out;
  }
  std::vector<float> cb(n), cr(n);
  for (std::size_t i = 0; i < n; ++i) {
    const double r = image8.pixels[3 * i], g = image8.pixels[3 * i + 1],
                 b = image8.pixels[3 * i + 2];
    plane[i] = round_u8(0.299 * r + 0.587 * g + 0.114 * b);
    cb[i] = static_cast<float>(-0.168736 * r - 0.331264 * g + 0.5 * b);
    cr[i] = static_cast<float>(0.5 * r - 0.418688 * g - 0.081312 * b);
  }
  clahe_plane(plane.data(), w, h, tiles, clip_limit);
  for (std::size_t i = 0; i < n; ++i) {
    const double y = plane[i];
    out.pixels[3 * i] = round_u8(y + 1.402 * cr[i]);
    out.pixels[3 * i + 1] = round_u8(y - 0.344136 * cb[i] - 0.714136 * cr[i]);
    out.pixels[3 * i + 2] = round_u8(y + 1.772 * cb[i]);
  }
  return out;
}

std::vector<float> resize_plane(const float* src, int w, int h, int out_w, int out_h) {
  if (w <= 0 || h <= 0 || out_w <= 0 || out_h <= 0)
    throw std::invalid_argument("resize_plane: sizes must be positive");
  const Taps tx = make_taps(w, out_w), ty = make_taps(h, out_h);
  std::vector<float> tmp(std::size_t(out_w) * h);
  for (int y = 0; y < h; ++y) {
    const float* row = src + std::size_t(y) * w;
    float* o = tmp.data() + std::size_t(y) * out_w;
    for (int x = 0; x < out_w; ++x) {
      float acc = 0;
      for (int k = tx.begin[x]; k < tx.begin[x + 1]; ++k) acc += tx.weight[k] * row[tx.index[k]];
      o[x] = acc;
    }
  }
  std::vector<float> out(std::size_t(out_w) * out_h, 0.0f);
  for (int y = 0; y < out_h; ++y) {
    float* o = out.data() + std::size_t(y) * out_w;
    for (int k = ty.begin[y]; k < ty.begin[y + 1]; ++k) {
      const float wgt = ty.weight[k];
      const float* row = tmp.data() + std::size_t(ty.index[k]) * out_w;
      for (int x = 0; x < out_w; ++x) o[x] += wgt * row[x];
    }
  }
  return out;
}

std::vector<std::uint8_t> preprocess(const Image& image, const PreprocessOptions& options) {
  check_image(image, "preprocess");
  const int S = options.image_size;
  if (S <= 0 || S > 16384)
    throw std::invalid_argument("preprocess: image_size must be in 1..16384, got " +
                                std::to_string(S));
  Image img = to_8bit(image, options);
  if (options.clahe) img = clahe(img, 8, 2.0);

  int nw = S, nh = S;
  if (options.keep_aspect) {
    const double scale = std::min(double(S) / img.width, double(S) / img.height);
    nw = std::clamp(static_cast<int>(std::lround(img.width * scale)), 1, S);
    nh = std::clamp(static_cast<int>(std::lround(img.height * scale)), 1, S);
  }
  const int x0 = (S - nw) / 2, y0 = (S - nh) / 2;
  std::vector<std::uint8_t> out(std::size_t(S) * S * 3, 0);
  const std::size_t n = std::size_t(img.width) * img.height;
  std::vector<float> plane(n);
  for (int c = 0; c < img.channels; ++c) {
    for (std::size_t i = 0; i < n; ++i) plane[i] = img.pixels[i * img.channels + c];
    const auto resized = resize_plane(plane.data(), img.width, img.height, nw, nh);
    for (int y = 0; y < nh; ++y)
      for (int x = 0; x < nw; ++x) {
        const std::uint8_t v = round_u8(resized[std::size_t(y) * nw + x]);
        std::uint8_t* px = &out[(std::size_t(y + y0) * S + (x + x0)) * 3];
        if (img.channels == 1) px[0] = px[1] = px[2] = v;
        else px[c] = v;
      }
  }
  return out;
}

}  // namespace mammosweep::worker
