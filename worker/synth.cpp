#include "worker/synth.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "io/files.h"
#include "sweeps/splitmix.h"

namespace mammosweep::worker {
namespace {

constexpr double kPi = 3.14159265358979323846;

// The splitmix64 stream (sweeps/splitmix.h) with the draws the generator needs.
class Rng : public sweeps::SplitMix64 {
 public:
  using sweeps::SplitMix64::SplitMix64;
  double uniform() { return double(next() >> 11) * (1.0 / 9007199254740992.0); }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  int integer(int lo, int hi) { return lo + int(next() % std::uint64_t(hi - lo + 1)); }
  double normal() {
    const double u1 = std::max(uniform(), 1e-12), u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2 * kPi * u2);
  }
};

double smoothstep01(double t) {
  t = std::clamp(t, 0.0, 1.0);
  return t * t * (3 - 2 * t);
}

// Multi-octave value noise in roughly [-1, 1], size x size.
std::vector<float> value_noise(int size, Rng& rng, const std::vector<int>& cells,
                               const std::vector<double>& amps) {
  std::vector<float> out(std::size_t(size) * size, 0.0f);
  double total = 0;
  for (std::size_t o = 0; o < cells.size(); ++o) {
    const int g = std::max(1, std::min(cells[o], size / 2));
    const int gn = g + 2;
    std::vector<float> grid(std::size_t(gn) * gn);
    for (auto& v : grid) v = static_cast<float>(rng.uniform(-1, 1));
    const double cell = double(size) / g;
    for (int y = 0; y < size; ++y) {
      const double fy = y / cell;
      const int iy = int(fy);
      const double ty = smoothstep01(fy - iy);
      for (int x = 0; x < size; ++x) {
        const double fx = x / cell;
        const int ix = int(fx);
        const double tx = smoothstep01(fx - ix);
        const double v00 = grid[std::size_t(iy) * gn + ix], v01 = grid[std::size_t(iy) * gn + ix + 1];
        const double v10 = grid[std::size_t(iy + 1) * gn + ix],
                     v11 = grid[std::size_t(iy + 1) * gn + ix + 1];
        const double v = (1 - ty) * ((1 - tx) * v00 + tx * v01) + ty * ((1 - tx) * v10 + tx * v11);
        out[std::size_t(y) * size + x] += static_cast<float>(amps[o] * v);
      }
    }
    total += amps[o];
  }
  for (auto& v : out) v = static_cast<float>(v / total * 1.7);  // sum of octaves is narrower
  return out;
}

// Adds `value * profile(d)` over a bounding box, where d is the distance to (cx, cy).
template <typename Profile>
void splat(std::vector<float>& img, int size, double cx, double cy, double radius,
           Profile profile) {
  const int x0 = std::max(0, int(std::floor(cx - radius))),
            x1 = std::min(size - 1, int(std::ceil(cx + radius)));
  const int y0 = std::max(0, int(std::floor(cy - radius))),
            y1 = std::min(size - 1, int(std::ceil(cy + radius)));
  for (int y = y0; y <= y1; ++y)
    for (int x = x0; x <= x1; ++x)
      img[std::size_t(y) * size + x] += static_cast<float>(profile(x - cx, y - cy));
}

struct Breast {
  bool left = true;
  double cy = 0, a = 0, b = 0;
  double wobble_amp[3] = {0, 0, 0}, wobble_phase[3] = {0, 0, 0};
};

// Mirrors x so the chest wall is always at u = 0.
double chest_u(const Breast& br, int size, double x) { return br.left ? x : (size - 1) - x; }

// Normalised elliptic radius (1 = skin line).
double breast_radius(const Breast& br, double u, double y) {
  const double du = u / br.a, dy = (y - br.cy) / br.b;
  const double theta = std::atan2(dy, du);
  double wob = 1.0;
  for (int k = 0; k < 3; ++k) wob += br.wobble_amp[k] * std::sin((k + 2) * theta + br.wobble_phase[k]);
  return std::sqrt(du * du + dy * dy) / wob;
}

void add_round_mass(std::vector<float>& img, int size, double cx, double cy, double radius,
                    double contrast, Rng& rng) {
  const double aspect = rng.uniform(0.8, 1.25), rot = rng.uniform(0, kPi);
  const double c = std::cos(rot), s = std::sin(rot), edge = std::max(0.6, radius * 0.12);
  splat(img, size, cx, cy, radius * 1.4 + 2, [&](double dx, double dy) {
    const double u = (c * dx + s * dy) / aspect, v = (-s * dx + c * dy) * aspect;
    const double d = std::sqrt(u * u + v * v);
    return contrast * (1 - smoothstep01((d - radius + edge) / (2 * edge))) *
           (0.85 + 0.15 * (1 - d / (radius * 1.4 + 2)));
  });
}

void add_irregular_mass(std::vector<float>& img, int size, double cx, double cy, double radius,
                        double contrast, Rng& rng) {
  double amp[5], phase[5];
  for (int k = 0; k < 5; ++k) {
    amp[k] = rng.uniform(0.05, 0.2);
    phase[k] = rng.uniform(0, 2 * kPi);
  }
  const double edge = std::max(0.7, radius * 0.2);
  splat(img, size, cx, cy, radius * 2.2 + 2, [&](double dx, double dy) {
    const double theta = std::atan2(dy, dx);
    double r = radius;
    for (int k = 0; k < 5; ++k) r *= 1 + amp[k] * std::sin((k + 3) * theta + phase[k]);
    const double d = std::sqrt(dx * dx + dy * dy);
    return contrast * (1 - smoothstep01((d - r + edge) / (2 * edge)));
  });
}

void add_spiculated_mass(std::vector<float>& img, int size, double cx, double cy, double radius,
                         double contrast, Rng& rng) {
  const double core = radius * rng.uniform(0.55, 0.85);
  add_irregular_mass(img, size, cx, cy, core, contrast, rng);
  const int spicules = rng.integer(8, 16);
  const double width = std::max(0.8, size / 100.0);
  for (int i = 0; i < spicules; ++i) {
    const double theta = 2 * kPi * (i + rng.uniform(-0.3, 0.3)) / spicules;
    const double length = core + radius * rng.uniform(1.2, 2.5);
    const double ux = std::cos(theta), uy = std::sin(theta);
    const double strength = contrast * rng.uniform(0.45, 0.8);
    splat(img, size, cx, cy, length + 2, [&](double dx, double dy) {
      const double t = dx * ux + dy * uy;  // along the spicule
      if (t < core * 0.5 || t > length) return 0.0;
      const double n = std::abs(-dx * uy + dy * ux);  // across
      const double fade = 1 - (t - core * 0.5) / (length - core * 0.5);
      return strength * fade * std::max(0.0, 1 - n / (width * (0.6 + fade)));
    });
  }
}

void add_calcifications(std::vector<float>& img, int size, double cx, double cy,
                        double cluster_radius, int count, double dot_radius, double brightness,
                        Rng& rng) {
  for (int i = 0; i < count; ++i) {
    const double r = cluster_radius * std::sqrt(rng.uniform()), a = rng.uniform(0, 2 * kPi);
    const double px = cx + r * std::cos(a), py = cy + r * std::sin(a);
    const double dr = dot_radius * rng.uniform(0.7, 1.3), b = brightness * rng.uniform(0.7, 1.2);
    splat(img, size, px, py, dr * 2.5 + 1, [&](double dx, double dy) {
      return b * std::exp(-(dx * dx + dy * dy) / (2 * dr * dr));
    });
  }
}

void check_options(const SynthOptions& o) {
  if (o.count < 1 || o.size < 16 || o.size > 4096 || !(o.malignant_fraction >= 0) ||
      !(o.malignant_fraction <= 1) || !(o.val_fraction >= 0) || !(o.test_fraction >= 0) ||
      !(o.val_fraction + o.test_fraction < 1))
    throw std::invalid_argument(
        "SynthOptions: need count >= 1, 16 <= size <= 4096, malignant_fraction in [0,1], "
        "val/test fractions >= 0 with val + test < 1; got count " + std::to_string(o.count) +
        ", size " + std::to_string(o.size) + ", malignant_fraction " +
        std::to_string(o.malignant_fraction) + ", val " + std::to_string(o.val_fraction) +
        ", test " + std::to_string(o.test_fraction));
}

}  // namespace

Image synth_mammogram(int size, int label, std::uint64_t seed) {
  if (size < 16) throw std::invalid_argument("synth_mammogram: size must be >= 16");
  Rng rng(seed * 0x2545F4914F6CDD1DULL + 0x1234567ULL + std::uint64_t(label));
  const double S = size;
  Breast br;
  br.left = rng.uniform() < 0.5;
  br.cy = S * (0.5 + 0.05 * rng.normal());
  br.a = S * rng.uniform(0.55, 0.85);
  br.b = S * rng.uniform(0.36, 0.47);
  for (int k = 0; k < 3; ++k) {
    br.wobble_amp[k] = rng.uniform(0.0, 0.035);
    br.wobble_phase[k] = rng.uniform(0, 2 * kPi);
  }
  const double fat = rng.uniform(90, 125);
  const double density = rng.uniform(0.25, 0.9);
  const bool muscle = rng.uniform() < 0.5;
  const double muscle_w = S * rng.uniform(0.15, 0.3), muscle_h = S * rng.uniform(0.3, 0.5);
  const double muscle_gain = rng.uniform(35, 60);

  const auto tissue = value_noise(size, rng, {3, 6, 12, 24, 48}, {1.0, 0.7, 0.45, 0.3, 0.18});
  const auto background = value_noise(size, rng, {4, 16}, {1.0, 0.5});

  std::vector<float> img(std::size_t(size) * size);
  std::vector<float> mask(img.size());
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x) {
      const std::size_t i = std::size_t(y) * size + x;
      const double u = chest_u(br, size, x);
      const double r = breast_radius(br, u, y);
      const double m = 1 - smoothstep01((r - 0.97) / 0.05);
      mask[i] = static_cast<float>(m);
      double v = fat * (1 - 0.35 * std::pow(std::min(r, 1.0), 4));
      const double gland = std::exp(-std::pow((r - 0.4) / 0.38, 2));
      v += density * 95 * gland * std::clamp(0.45 + 0.9 * tissue[i], 0.0, 1.0);
      if (muscle && y < muscle_h) {
        const double edge = muscle_w * (1 - y / muscle_h) - u;
        v += muscle_gain * smoothstep01(edge / (1.0 + S / 40.0));
      }
      img[i] = static_cast<float>(m * v + (1 - m) * (6 + 4 * background[i]));
    }

  // One lesion (or none) inside the breast, away from the skin line.
  const double rr = rng.uniform(0.15, 0.65), ang = rng.uniform(-1.1, 1.1);
  const double lu = br.a * rr * std::cos(ang), ly = br.cy + br.b * rr * std::sin(ang);
  const double lx = br.left ? lu : (size - 1) - lu;
  // Malignant findings are larger, denser and (calcifications) more numerous than benign
  // ones, but the brightness ranges overlap: a brightness threshold does not separate the
  // classes (tests/worker/synth_test.cpp checks both that and that ResNet50 learns them).
  const double kind = rng.uniform();
  std::vector<float> lesion(img.size(), 0.0f);
  if (label == 1) {
    const double radius = S * rng.uniform(0.05, 0.09), contrast = rng.uniform(35, 70);
    if (kind < 0.35) add_irregular_mass(lesion, size, lx, ly, radius, contrast, rng);
    else if (kind < 0.7) add_spiculated_mass(lesion, size, lx, ly, radius, contrast, rng);
    else
      add_calcifications(lesion, size, lx, ly, S * rng.uniform(0.035, 0.06), rng.integer(10, 20),
                         std::max(0.6, S / 120.0), rng.uniform(50, 90), rng);
  } else {
    const double radius = S * rng.uniform(0.035, 0.075), contrast = rng.uniform(25, 60);
    if (kind < 0.5) add_round_mass(lesion, size, lx, ly, radius, contrast, rng);
    else if (kind < 0.8)
      add_calcifications(lesion, size, lx, ly, S * rng.uniform(0.1, 0.25), rng.integer(1, 3),
                         std::max(0.8, S / 90.0), rng.uniform(50, 90), rng);
    // else: no lesion
  }

  const double gain = rng.uniform(0.85, 1.15), sigma = rng.uniform(1.5, 4.0);
  Image out;
  out.width = out.height = size;
  out.channels = 1;
  out.bit_depth = 8;
  out.pixels.resize(img.size());
  for (std::size_t i = 0; i < img.size(); ++i) {
    const double v = gain * (img[i] + mask[i] * lesion[i]) + sigma * rng.normal();
    out.pixels[i] = static_cast<std::uint16_t>(std::clamp(std::lround(v), 0L, 255L));
  }
  return out;
}

std::vector<SynthSample> generate_synthetic(const SynthOptions& o) {
  check_options(o);
  const int n1 = static_cast<int>(std::lround(o.count * o.malignant_fraction));
  const int per_class[2] = {o.count - n1, n1};
  std::vector<SynthSample> out;
  out.reserve(o.count);
  for (int label = 0; label <= 1; ++label) {
    const int n = per_class[label];
    const int n_test = static_cast<int>(std::lround(n * o.test_fraction));
    const int n_val = static_cast<int>(std::lround(n * o.val_fraction));
    const int n_train = n - n_test - n_val;
    for (int i = 0; i < n; ++i) {
      SynthSample s;
      s.label = label;
      const char* folder = i < n_train ? "train" : i < n_train + n_val ? "valid" : "test";
      s.split = i < n_train ? "train" : i < n_train + n_val ? "val" : "test";
      char name[64];
      std::snprintf(name, sizeof(name), "synth_%d_%05d.png", label, i);
      s.relpath = std::string(folder) + "/" + std::to_string(label) + "/" + name;
      // Per-image seed: a hash of (seed, label, index) so images never share a stream.
      Rng mix(o.seed ^ (0x9E3779B97F4A7C15ULL * std::uint64_t(2 * i + label + 1)));
      s.image = synth_mammogram(o.size, label, mix.next());
      out.push_back(std::move(s));
    }
  }
  return out;
}

void write_synthetic_dataset(const SynthOptions& o) {
  if (o.out.empty()) throw std::invalid_argument("SynthOptions: out (output folder) is empty");
  const auto samples = generate_synthetic(o);
  for (const char* split : {"train", "valid", "test"})
    for (const char* label : {"0", "1"}) io::make_dirs(io::join_path(io::join_path(o.out, split), label));
  for (const auto& s : samples) write_png(io::join_path(o.out, s.relpath), s.image);
}

}  // namespace mammosweep::worker
