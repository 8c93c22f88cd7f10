#pragma once
// The CUDA side of one rank's device (fractional GPUs, docs/distributed.md): while a
// DeviceScope lives, this thread's torch work on `device` runs on a CUDA stream of its own,
// and when the rank holds a share < 1 of the device (resources.gpus = 1/n) the process's
// caching allocator is capped at that share of the device's memory, so n ranks on one GPU
// cannot starve each other (an allocation over the cap fails as CUDA out-of-memory).
// cuda_device.cpp is built against a LibTorch with CUDA; cuda_device_unavailable.cpp
// replaces it otherwise (no #if in sources), as cluster/ does for NCCL.
#include <memory>
#include <stdexcept>
#include <string>

namespace mammosweep::worker {

class DeviceScope {
 public:
  virtual ~DeviceScope() = default;
};

/// Throws std::invalid_argument unless 0 < share <= 1 (both builds check it first).
inline void check_gpu_share(double share) {
  if (!(share > 0.0 && share <= 1.0)) {
    throw std::invalid_argument("GPU share " + std::to_string(share) + " is outside (0, 1]");
  }
}

/// Enters `device` for this thread: a pool stream becomes current, and `share` in (0, 1)
/// caps the memory until the scope ends (it drains the stream, then lifts the cap).
/// Throws as check_gpu_share does, or std::runtime_error in a build without CUDA.
std::unique_ptr<DeviceScope> enter_cuda_device(int device, double share);

}  // namespace mammosweep::worker
