#pragma once
// Training-time augmentation and normalisation on batches as tensors.
//
// Everything works on a whole batch x: [N,3,H,W] floating point in [0,1], on any device (the
// same code runs on CPU in the loader threads or on CUDA in the trainer). Only the per-sample
// random parameters are drawn on the CPU, from a LOCAL generator, and then moved to
// x.device(): results depend only on (seed, epoch, step), never on global RNG state, thread
// or device.
//
// Seed mix (augment_seed): splitmix64(splitmix64(splitmix64(seed) ^ epoch) ^ step), with
// epoch and step cast to uint64. splitmix64 is Vigna's finaliser
// (z += 0x9e3779b97f4a7c15; z = (z ^ z>>30) * 0xbf58476d1ce4e5b9;
//  z = (z ^ z>>27) * 0x94d049bb133111eb; z ^ z>>31).
//
// Random draws, always in this order and always all of them (so turning one option on does
// not change the others' values), each a tensor of N values from the local CPU generator:
//   u_hflip, u_vflip, u_brightness, u_contrast, u_saturation  ~ U[0,1)
// Sample i is flipped horizontally iff hflip && u_hflip[i] < 0.5 (vflip likewise). A jitter
// option with strength s > 0 uses factor max(0, 1-s) + u * (1+s - max(0, 1-s)), i.e. uniform
// in [max(0,1-s), 1+s] like torchvision's ColorJitter. Ops run in the fixed order
// hflip, vflip, brightness, contrast, saturation (torchvision randomises the jitter order; we
// do not, for reproducibility). An option that is off (false / 0) is skipped entirely, so
// with all options off the batch is returned unchanged (bit for bit).
#include <cstdint>
#include <vector>

#include <torch/types.h>

namespace mammosweep::worker {

struct AugmentOptions {
  bool hflip = false;
  bool vflip = false;
  double brightness = 0.0;  ///< 0.2 -> factor in [0.8, 1.2]; 0 = off
  double contrast = 0.0;    ///< blend with the per-image mean gray; 0 = off
  double saturation = 0.0;  ///< blend with the grayscale image; 0 = off

  bool any() const {
    return hflip || vflip || brightness > 0 || contrast > 0 || saturation > 0;
  }
};

/// The documented seed mix above.
std::uint64_t augment_seed(std::uint64_t seed, int epoch, std::int64_t step);

/// Augments a batch (see the top of this file). x: [N,3,H,W] float in [0,1] on any device.
/// Returns a new tensor (x is not modified). Throws std::invalid_argument for another shape
/// or dtype, or a negative strength.
torch::Tensor augment_batch(torch::Tensor x, const AugmentOptions& options, std::uint64_t seed,
                            int epoch, std::int64_t step);

/// The single ops, with explicit per-sample factors ([N] float, any device), as in
/// torchvision.transforms.functional; results are clamped to [0,1].
/// brightness: x * f.  contrast: f * x + (1-f) * mean(gray(x)) per image.
/// saturation: f * x + (1-f) * gray(x), gray = 0.299 R + 0.587 G + 0.114 B.
torch::Tensor adjust_brightness(const torch::Tensor& x, const torch::Tensor& factors);
torch::Tensor adjust_contrast(const torch::Tensor& x, const torch::Tensor& factors);
torch::Tensor adjust_saturation(const torch::Tensor& x, const torch::Tensor& factors);
/// [N,1,H,W] luminance with the weights above.
torch::Tensor rgb_to_grayscale(const torch::Tensor& x);

/// (x - mean[c]) / std[c] per channel; mean and std have one entry per channel of x
/// ([N,C,H,W]). Throws std::invalid_argument on a size mismatch or a std entry <= 0.
torch::Tensor normalize(const torch::Tensor& x, const std::vector<double>& mean = {0.485, 0.456, 0.406},
                        const std::vector<double>& std = {0.229, 0.224, 0.225});

}  // namespace mammosweep::worker
