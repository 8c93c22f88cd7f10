#include "worker/cuda_device.h"

#include <ATen/Context.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <exception>

namespace mammosweep::worker {
namespace {

class CudaScope : public DeviceScope {
 public:
  CudaScope(int device, double share)
      : device_(static_cast<c10::DeviceIndex>(device)),
        initialized_(lazy_init()),
        guard_(c10::cuda::getStreamFromPool(/*isHighPriority=*/false, device_)),
        capped_(share < 1.0) {
    if (capped_) c10::cuda::CUDACachingAllocator::setMemoryFraction(share, device_);
  }
  ~CudaScope() override {
    // Work queued on the stream finishes before the stream stops being current. A CUDA error
    // here was (or will be) reported by the training step that caused it: a destructor
    // must not throw while that exception unwinds.
    try {
      guard_.current_stream().synchronize();
      if (capped_) c10::cuda::CUDACachingAllocator::setMemoryFraction(1.0, device_);
    } catch (const std::exception&) {
    }
  }

 private:
  /// CUDA's lazy init, which the first CUDA tensor would do: the caching allocator exists
  /// only after it, and a fraction set before would index an empty per-device table.
  static bool lazy_init() {
    at::globalContext().lazyInitDevice(c10::DeviceType::CUDA);
    return true;
  }

  c10::DeviceIndex device_;
  [[maybe_unused]] bool initialized_;  // first, so the members below see an initialised CUDA
  c10::cuda::CUDAStreamGuard guard_;
  bool capped_ = false;
};

}  // namespace

std::unique_ptr<DeviceScope> enter_cuda_device(int device, double share) {
  check_gpu_share(share);
  return std::make_unique<CudaScope>(device, share);
}

}  // namespace mammosweep::worker
