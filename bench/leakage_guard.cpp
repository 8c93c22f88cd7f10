// Leakage guard: recall on planted augmented copies, false findings on distinct images, and
// the time to check a large dataset.
//
//   build/bench/leakage_guard [--out DIR] [--planted 50] [--clean 2000] [--scale 10000]
//       [--size 128] [--threads 2]
//
// 1. recall: `planted` train images per kind of a synthetic set (seed 21) get a copy in val
//    or test: rotated (90/180/270), mirrored (left-right/top-bottom), cropped (75-85 % of the
//    area, aspect 0.85-1.15, random offset, half stretched back to the full size), padded
//    (canvas 1.05-1.6x per side, border 0/114/255/random, centred or anywhere, a third then
//    scaled 2x: letterboxed into a larger canvas); each with a brightness shift of -20..20
//    and every fourth saved as JPEG q90. Prints recall per kind and findings not planted.
// 2. clean: `clean` distinct synthetic images (seed 101, 30 % val, 20 % test): findings.
// 3. scale: `scale` distinct images (seed 202): wall seconds of check_leakage (read, decode,
//    hashes, features, index, verification) with `threads` threads, files already written.
// Prints one JSON line per section. Files go to DIR (default /tmp/mammosweep-bench/leakage).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/files.h"
#include "worker/dataset.h"
#include "worker/image.h"
#include "worker/leakage.h"
#include "worker/preprocess.h"
#include "worker/synth.h"

namespace {

namespace w = mammosweep::worker;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using ojson = nlohmann::ordered_json;

struct BenchOptions {
  std::string out = "/tmp/mammosweep-bench/leakage";
  int planted = 50, clean = 2000, scale = 10000, size = 128, threads = 2;
};

/// Prints one JSON line, keys in insertion order.
void print_line(const ojson& j) {
  std::printf("%s\n", j.dump().c_str());
  std::fflush(stdout);
}

w::Image blank(int width, int height, int value) {
  w::Image o;
  o.width = width;
  o.height = height;
  o.channels = 1;
  o.pixels.assign(std::size_t(width) * height, static_cast<std::uint16_t>(value));
  return o;
}

w::Image rotated90(const w::Image& s) {  // clockwise
  w::Image o = blank(s.height, s.width, 0);
  for (int y = 0; y < o.height; ++y)
    for (int x = 0; x < o.width; ++x) o.pixels[y * o.width + x] = s.pixels[(s.height - 1 - x) * s.width + y];
  return o;
}

w::Image mirrored(const w::Image& s, bool left_right) {
  w::Image o = s;
  for (int y = 0; y < s.height; ++y)
    for (int x = 0; x < s.width; ++x)
      o.pixels[y * s.width + x] = left_right ? s.pixels[y * s.width + s.width - 1 - x]
                                             : s.pixels[(s.height - 1 - y) * s.width + x];
  return o;
}

w::Image cropped(const w::Image& s, int x0, int y0, int width, int height) {
  w::Image o = blank(width, height, 0);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) o.pixels[y * width + x] = s.pixels[(y0 + y) * s.width + x0 + x];
  return o;
}

w::Image padded(const w::Image& s, int width, int height, int x0, int y0, int colour) {
  w::Image o = blank(width, height, colour);
  for (int y = 0; y < s.height; ++y)
    for (int x = 0; x < s.width; ++x) o.pixels[(y0 + y) * width + x0 + x] = s.pixels[y * s.width + x];
  return o;
}

w::Image resized(const w::Image& img, int width, int height) {
  const std::vector<float> src(img.pixels.begin(), img.pixels.end());
  const auto r = w::resize_plane(src.data(), img.width, img.height, width, height);
  w::Image o = blank(width, height, 0);
  for (std::size_t i = 0; i < r.size(); ++i)
    o.pixels[i] = static_cast<std::uint16_t>(std::clamp(r[i] + 0.5f, 0.0f, 255.0f));
  return o;
}

w::Image shifted(const w::Image& img, int delta) {
  w::Image o = img;
  for (auto& v : o.pixels) v = static_cast<std::uint16_t>(std::clamp(int(v) + delta, 0, 255));
  return o;
}

// Writes a synthetic dataset under dir and lists it.
std::vector<w::ImageRecord> dataset(const std::string& dir, int count, int size, std::uint64_t seed) {
  mammosweep::io::remove_tree(dir);
  w::SynthOptions so;
  so.out = dir;
  so.count = count;
  so.size = size;
  so.seed = seed;
  so.val_fraction = 0.3;
  so.test_fraction = 0.2;
  w::write_synthetic_dataset(so);
  w::SourceOptions src;
  src.root = dir;
  return w::list_images(src);
}

void recall(const BenchOptions& o) {
  const std::string dir = o.out + "/planted";
  auto recs = dataset(dir, o.planted * 4 * 2 + 40, o.size, 21);
  std::vector<w::ImageRecord> train;
  for (const auto& r : recs)
    if (r.split == "train") train.push_back(r);
  if (int(train.size()) < 4 * o.planted) throw std::runtime_error("not enough train images");
  std::mt19937 rng(5);
  auto uniform = [&](double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng); };
  auto integer = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  std::map<std::string, std::set<std::pair<std::string, std::string>>> planted;
  const char* kinds[] = {"rotated", "mirrored", "cropped", "padded"};
  fs::create_directories(dir + "/copies");
  for (int i = 0; i < 4 * o.planted; ++i) {
    const std::string kind = kinds[i % 4];
    const int k = i / 4;
    const w::Image src = w::decode_image(train[i].path);
    w::Image c;
    if (kind == "rotated") {
      c = rotated90(src);
      for (int r = 0; r < k % 3; ++r) c = rotated90(c);
    } else if (kind == "mirrored") {
      c = mirrored(src, k % 2 == 0);
    } else if (kind == "cropped") {
      const double area = uniform(0.75, 0.85), aspect = uniform(0.85, 1.15);
      const double fw = std::min(1.0, std::sqrt(area * aspect)), fh = std::min(1.0, area / fw);
      const int cw = int(src.width * fw), ch = int(src.height * fh);
      c = cropped(src, integer(0, src.width - cw), integer(0, src.height - ch), cw, ch);
      if (k % 2) c = resized(c, src.width, src.height);
    } else {
      const int colours[] = {0, 114, 255, integer(0, 255)};
      const int cw = int(src.width * uniform(1.05, 1.6)), ch = int(src.height * uniform(1.0, 1.6));
      c = padded(src, cw, ch, k % 3 == 0 ? (cw - src.width) / 2 : integer(0, cw - src.width),
                 k % 3 == 0 ? (ch - src.height) / 2 : integer(0, ch - src.height), colours[k % 4]);
      if (k % 3 == 1) c = resized(c, c.width * 2, c.height * 2);
    }
    c = shifted(c, integer(-20, 20));
    const bool jpeg = k % 4 == 3;
    const std::string path = dir + "/copies/" + kind + "_" + std::to_string(k) + (jpeg ? ".jpg" : ".png");
    if (jpeg) {
      const std::vector<std::uint8_t> b(c.pixels.begin(), c.pixels.end());
      w::write_jpeg(path, c.width, c.height, 1, b.data(), 90);
    } else {
      w::write_png(path, c);
    }
    recs.push_back({path, train[i].label, i % 2 ? "val" : "test", ""});
    planted[kind].insert({train[i].path, path});
  }
  w::LeakageOptions lo;
  lo.threads = o.threads;
  const auto t0 = Clock::now();
  const auto report = w::check_leakage(recs, lo);
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  std::map<std::string, int> hits;
  int unplanted = 0;
  for (const auto& f : report.findings) {
    bool known = false;
    for (const auto& [kind, pairs] : planted)
      if (pairs.count({f.a, f.b}) || pairs.count({f.b, f.a})) ++hits[kind], known = true;
    if (!known) {
      ++unplanted;
      std::fprintf(stderr, "not planted: %s %s %s %s\n", f.kind.c_str(), f.a.c_str(), f.b.c_str(), f.detail.c_str());
    }
  }
  std::set<std::pair<std::string, std::string>> found;
  for (const auto& f : report.findings) found.insert({f.a, f.b}), found.insert({f.b, f.a});
  for (const auto& [kind, pairs] : planted)
    for (const auto& p : pairs)
      if (!found.count(p)) std::fprintf(stderr, "missed %s: %s %s\n", kind.c_str(), p.first.c_str(), p.second.c_str());
  ojson line = {{"bench", "leakage_recall"}, {"images", recs.size()}, {"per_kind", o.planted},
               {"size", o.size}};
  for (const auto& [kind, pairs] : planted)
    line["recall_" + kind] = double(hits[kind]) / double(pairs.size());
  line["unplanted_findings"] = unplanted;
  line["seconds"] = seconds;
  print_line(line);
}

void clean_and_scale(const BenchOptions& o, const std::string& name, int count, std::uint64_t seed) {
  const auto recs = dataset(o.out + "/" + name, count, o.size, seed);
  w::LeakageOptions lo;
  lo.threads = o.threads;
  const auto t0 = Clock::now();
  const auto report = w::check_leakage(recs, lo);
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  if (!report.findings.empty()) std::fprintf(stderr, "%s\n", report.summary().c_str());
  print_line({{"bench", "leakage_" + name}, {"images", recs.size()}, {"size", o.size},
              {"threads", o.threads}, {"findings", report.findings.size()},
              {"augmented", report.count("augmented")}, {"near", report.count("near")},
              {"seconds", seconds}});
}

}  // namespace

int main(int argc, char** argv) {
  BenchOptions o;
  CLI::App app{"Leakage guard: recall on planted augmented copies, false findings, scale"};
  app.add_option("--out", o.out, "Scratch folder for the generated images")->capture_default_str();
  app.add_option("--planted", o.planted, "Planted copies per kind (0: skip)")->capture_default_str();
  app.add_option("--clean", o.clean, "Clean images for the false-finding check")->capture_default_str();
  app.add_option("--scale", o.scale, "Clean images for the timing run")->capture_default_str();
  app.add_option("--size", o.size, "Image side in pixels")->capture_default_str();
  app.add_option("--threads", o.threads, "Decode and feature threads")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    if (o.planted > 0) recall(o);
    if (o.clean > 0) clean_and_scale(o, "clean", o.clean, 101);
    if (o.scale > 0) clean_and_scale(o, "scale", o.scale, 202);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "leakage_guard: %s\n", e.what());
    return 1;
  }
  return 0;
}
