#include <stdexcept>

#include "worker/cuda_device.h"

namespace mammosweep::worker {

std::unique_ptr<DeviceScope> enter_cuda_device(int /*device*/, double share) {
  check_gpu_share(share);
  throw std::runtime_error("this build's LibTorch has no CUDA: rebuild against a CUDA torch "
                           "wheel to train on a GPU");
}

}  // namespace mammosweep::worker
