// Synthetic mammogram-like images for tests, the demo and smoke runs (no real data ships).
//
// Each image is 8-bit gray, size x size:
//  * a breast silhouette: a half-ellipse against the chest wall (left or right edge, chosen
//    at random) with a slightly wobbly skin line, on a dark noisy background; tissue gets
//    darker towards the skin line; about half the images show a bright pectoral muscle
//    triangle in the upper chest-wall corner (MLO-like view);
//  * fibroglandular texture: multi-octave smoothed value noise, strongest in the middle of
//    the breast, with a random overall density;
//  * label 1 (malignant): one irregular mass (lobulated outline), a spiculated mass (dense
//    core with radiating lines) or a cluster of 10-20 microcalcifications;
//  * label 0 (benign): a round/oval smooth-edged mass (smaller on average), 1-3 coarse
//    isolated calcifications, or no lesion;
//  * a random global gain and Gaussian sensor noise.
// Size and contrast ranges of the two classes overlap, so a classifier must learn shape and
// count, not brightness; ResNet50 learns it from random weights in a few epochs at 64 px
// (see docs/data.md for the measured figures).
// Everything is a pure function of (seed, label, index): the same options give the same
// bytes on every run.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "worker/image.h"

namespace mammosweep::worker {

struct SynthOptions {
  std::string out;  // output root for write_synthetic_dataset
  int count = 600;  // total images
  double malignant_fraction = 0.35;  // label-1 images = round(count * malignant_fraction)
  int size = 128;    // side in pixels, >= 16
  std::uint64_t seed = 0;
  double val_fraction = 0.2, test_fraction = 0.1;  // per class, rounded; the rest is train
};

struct SynthSample {
  std::string relpath;  // "<train|valid|test>/<label>/synth_<label>_<index>.png"
  std::string split;    // "train" | "val" | "test"
  int label = 0;
  Image image;          // size x size, 1 channel, 8-bit
};

/// One synthetic mammogram of the given label; deterministic in (size, label, seed).
Image synth_mammogram(int size, int label, std::uint64_t seed);

/// The whole dataset in memory, in relpath order per class (train, then val, then test).
/// Throws std::invalid_argument for bad options.
std::vector<SynthSample> generate_synthetic(const SynthOptions& options);

/// Writes generate_synthetic(options) as OUT/{train,valid,test}/{0,1}/*.png (8-bit gray),
/// creating the folders. Existing files with the same names are overwritten.
void write_synthetic_dataset(const SynthOptions& options);

}  // namespace mammosweep::worker
